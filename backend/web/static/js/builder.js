// The campaign builder: a form per campaign kind and the targeting as controls, no JSON. As
// the admin types, the draft goes to POST /v1/admin/campaigns/check, which answers with the
// create's own message for what is wrong, or how many members it reaches now; a draft the
// check accepts then goes to POST /v1/admin/campaigns/forecast, which replays the last 30
// days of stored sales under it: the sales it would have touched and the points it would
// have cost (docs/campaigns.md, "Forecast").
//
// Each kind's fields mirror backend/campaigns/kinds.py (type, range, default); money is
// entered in roubles and sent in minor units; lists are comma-separated.

import { byId, el, say } from './dom.js';
import { dateTime } from './format.js';
import { t } from './i18n.js';

const FIELDS = {
  multiplier: [
    { name: 'factor', type: 'decimal', min: 1.01, max: 10, step: 0.01, value: 2 },
    { name: 'categories', type: 'list', optional: true },
  ],
  bonus: [
    { name: 'points', type: 'int', min: 1, max: 1_000_000, value: 25 },
    { name: 'sku', type: 'text', optional: true },
    { name: 'category', type: 'text', optional: true, value: 'bakery' },
    { name: 'min_amount', type: 'money', optional: true },
  ],
  stamp_card: [
    { name: 'category', type: 'text', value: 'coffee' },
    { name: 'stamps_needed', type: 'int', min: 2, max: 50, value: 6 },
    { name: 'reward_max_value', type: 'money', value: 250 },
  ],
  welcome: [{ name: 'points', type: 'int', min: 1, max: 1_000_000, value: 50 }],
  birthday: [
    { name: 'points', type: 'int', min: 1, max: 1_000_000, value: 40 },
    { name: 'window_days', type: 'int', min: 0, max: 30, value: 7 },
  ],
  win_back: [
    { name: 'inactive_days', type: 'int', min: 7, max: 730, value: 30 },
    { name: 'points', type: 'int', min: 1, max: 1_000_000, value: 60 },
  ],
  reward: [
    { name: 'cost_points', type: 'int', min: 1, max: 1_000_000, value: 150 },
    { name: 'category', type: 'text', value: 'bakery' },
    { name: 'max_value', type: 'money', value: 160 },
    { name: 'valid_days', type: 'int', min: 1, max: 365, value: 30 },
  ],
};
const SEGMENT = [
  { name: 'min_visits', type: 'int', min: 0, max: 100_000, optional: true },
  { name: 'max_visits', type: 'int', min: 0, max: 100_000, optional: true },
  { name: 'visited_within_days', type: 'int', min: 1, max: 3650, optional: true },
  { name: 'inactive_for_days', type: 'int', min: 1, max: 3650, optional: true },
  { name: 'favourite_category', type: 'text', optional: true },
];
const TIERS = ['green', 'gold', 'platinum'];
// Fields offered the product catalogue's choices (a datalist: typing anything else still works,
// the catalogue being optional).
const CHOICES = { category: 'catalogue-categories', categories: 'catalogue-categories', favourite_category: 'catalogue-categories', sku: 'catalogue-skus' };
const SKU_CHOICES = 500;
const CHECK_AFTER_MS = 400;
const FORECAST_AFTER_MS = 600; // after the check's answer

function input(prefix, field) {
  const id = `${prefix}-${field.name.replaceAll('_', '-')}`;
  const attributes = { id, name: field.name, dataset: { type: field.type }, required: !field.optional };
  if (field.type === 'int' || field.type === 'decimal' || field.type === 'money') {
    Object.assign(attributes, { type: 'number', min: field.min ?? 0, max: field.max, step: field.step ?? (field.type === 'money' ? 0.01 : 1) });
  } else {
    attributes.type = 'text';
    attributes.list = CHOICES[field.name];
  }
  const control = el('input', attributes);
  if (field.value !== undefined) control.value = String(field.value);
  const label = t(`builder.${field.name}`) + (field.optional ? ` ${t('builder.optional')}` : '');
  return el('div', { className: 'field' }, el('label', { for: id }, label), control);
}

function valueOf(control) {
  const text = control.value.trim();
  if (text === '') return undefined;
  switch (control.dataset.type) {
    case 'int':
    case 'decimal':
      return Number(text);
    case 'money':
      return Math.round(Number(text) * 100);
    case 'list':
      return text.split(',').map((item) => item.trim()).filter(Boolean);
    default:
      return text;
  }
}

// The fields' values by name; a field out of its range is refused naming it.
function read(container) {
  const wrong = container.querySelector('input:invalid');
  if (wrong) throw new Error(t('builder.invalid', { field: wrong.labels[0]?.textContent ?? wrong.name }));
  const values = {};
  for (const control of container.querySelectorAll('input[data-type]')) {
    const value = valueOf(control);
    if (value !== undefined && !(Array.isArray(value) && !value.length)) values[control.name] = value;
  }
  return values;
}

function checks(prefix, items, words) {
  return el(
    'div',
    { className: 'checks' },
    ...items.map(([value, text]) => {
      const id = `${prefix}-${value}`;
      return el('div', { className: 'check' }, el('input', { type: 'checkbox', id, value, name: prefix }), el('label', { for: id }, words ? t(text) : text));
    }),
  );
}

const chosen = (container, name) => [...container.querySelectorAll(`input[name="${name}"]:checked`)].map((box) => box.value);

export class CampaignBuilder {
  // form: the campaign form; draft(): the whole body as the create would send it (or throws
  // the page's own message), for the check.
  constructor(api, form, draft) {
    this.api = api;
    this.form = form;
    this.draft = draft;
    this.rule = byId('campaign-rule-fields');
    this.targeting = byId('campaign-targeting-fields');
    this.status = byId('campaign-check');
    this.forecast = byId('campaign-forecast');
    this.timer = null;
    this.asked = 0;
    this._targeting([]);
    // The kinds to choose from are those there is a form for.
    form.elements.kind.replaceChildren(...Object.keys(FIELDS).map((kind) => el('option', { value: kind }, t(`campaign.kind.${kind}`))));
    form.elements.kind.addEventListener('change', () => {
      this.kind();
      this.checkSoon();
    });
    form.addEventListener('input', () => this.checkSoon());
    form.addEventListener('change', () => this.checkSoon());
    this.kind();
  }

  // The catalogue's categories and (its first) SKUs as the choices of those fields; without a
  // catalogue the fields stay free text.
  async catalogueChoices() {
    const choices = (id, values) => el('datalist', { id }, ...values.map((value) => el('option', { value })));
    for (const old of this.form.querySelectorAll('datalist')) old.remove();
    try {
      const [categories, products] = await Promise.all([
        this.api.get('/v1/admin/catalogue/categories'),
        this.api.get(`/v1/admin/catalogue?limit=${SKU_CHOICES}`),
      ]);
      this.form.append(
        choices('catalogue-categories', categories.categories),
        choices('catalogue-skus', products.items.map((product) => product.sku)),
      );
    } catch {
      // Free text it is.
    }
  }

  // The fields of the chosen kind, with its defaults (checked once the admin types).
  kind() {
    const kind = this.form.elements.kind.value;
    this.rule.replaceChildren(...(FIELDS[kind] ?? []).map((field) => input('rule', field)));
  }

  // The stores an admin may choose (all of them; none chosen is every store).
  // Once an admin is signed in: the stores the targeting can name, and the catalogue's choices.
  setStores(stores) {
    this._targeting(stores);
    this.catalogueChoices();
  }

  _targeting(stores) {
    const days = [0, 1, 2, 3, 4, 5, 6].map((day) => [String(day), `builder.day.${day}`]);
    this.targeting.replaceChildren(
      el('p', { className: 'label-like' }, t('builder.tiers')),
      checks('target-tier', TIERS.map((tier) => [tier, `tier.${tier}`]), true),
      el('p', { className: 'label-like' }, t('builder.stores')),
      checks('target-store', stores.map((store) => [store.id, `${store.name} (${store.code})`]), false),
      el('p', { className: 'label-like' }, t('builder.days')),
      checks('target-day', days, true),
      el(
        'div',
        { className: 'hours' },
        el('div', { className: 'field' }, el('label', { for: 'target-from' }, t('builder.hours_from')), el('input', { id: 'target-from', name: 'hours_from', type: 'time' })),
        el('div', { className: 'field' }, el('label', { for: 'target-to' }, t('builder.hours_to')), el('input', { id: 'target-to', name: 'hours_to', type: 'time' })),
      ),
      el('p', { className: 'muted small' }, t('builder.local_time')),
      el('div', { className: 'segment', id: 'target-segment' }, el('p', { className: 'label-like' }, t('builder.segment')), ...SEGMENT.map((field) => input('segment', field))),
    );
  }

  // The rule of the chosen kind as the API reads it.
  ruleBody() {
    return { type: this.form.elements.kind.value, ...read(this.rule) };
  }

  targetingBody() {
    const targeting = {};
    const tiers = chosen(this.targeting, 'target-tier');
    const stores = chosen(this.targeting, 'target-store');
    const days = chosen(this.targeting, 'target-day').map(Number);
    if (tiers.length) targeting.tiers = tiers;
    if (stores.length) targeting.store_ids = stores;
    if (days.length) targeting.days_of_week = days;
    const from = byId('target-from').value;
    const to = byId('target-to').value;
    if (from || to) {
      if (!from || !to) throw new Error(t('builder.both_hours'));
      targeting.hours = { from, to };
    }
    const segment = read(byId('target-segment'));
    if (Object.keys(segment).length) targeting.segment = segment;
    return targeting;
  }

  reset() {
    clearTimeout(this.timer);
    this.asked += 1; // a check still under way is no longer about this form
    this.kind();
    for (const box of this.targeting.querySelectorAll('input[type=checkbox]')) box.checked = false;
    for (const control of this.targeting.querySelectorAll('input:not([type=checkbox])')) control.value = '';
    say(this.status, '');
    say(this.forecast, '');
  }

  checkSoon() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.check(), CHECK_AFTER_MS);
  }

  // The server's verdict on the draft as it stands: its message, or the audience now; then,
  // for a draft it accepts, the forecast.
  async check() {
    const asked = ++this.asked;
    say(this.forecast, ''); // about an earlier draft
    const body = readDraft(() => this.draft(), this.status);
    if (body === null) return;
    try {
      const verdict = await this.api.post('/v1/admin/campaigns/check', body);
      if (asked !== this.asked) return; // the form changed meanwhile
      const text = verdict.everyone ? t('builder.everyone', { count: verdict.audience }) : t('builder.audience', { count: verdict.audience });
      say(this.status, text, 'ok');
      // The forecast reads a month of sales: asked once the admin has paused a little longer.
      await new Promise((resolve) => setTimeout(resolve, FORECAST_AFTER_MS));
      if (asked !== this.asked) return;
      const forecast = await this.api.post('/v1/admin/campaigns/forecast', body);
      if (asked !== this.asked) return;
      say(this.forecast, forecastText(forecast), 'ok');
    } catch (error) {
      if (asked === this.asked) say(this.status, error.message);
    }
  }
}

// The draft as the form has it, or null with what the form itself refuses (a field out of
// range, a missing limit) said on `node`: such a draft is not sent.
export function readDraft(read, node) {
  try {
    return read();
  } catch (error) {
    say(node, error.message);
    return null;
  }
}

// "It would have touched 12 sales of 5 members and cost 1,234 points", and where the cap
// stopped the replay, up to when it counted.
function forecastText(forecast) {
  const text = t('builder.forecast', {
    sales: t('builder.forecast_sales', { count: forecast.sales_touched }),
    members: t('builder.forecast_members', { count: forecast.members_reached }),
    points: t('builder.forecast_points', { count: forecast.points }),
  });
  if (forecast.complete) return text;
  return `${text} ${t('builder.forecast_partial', { until: dateTime(forecast.replayed_until) })}`;
}
