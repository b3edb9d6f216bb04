// The program rules page: the rules in force as a form (admins publish a new version;
// managers read), and every published version with who published it, when, and what it
// changed from the one before.

import { busy, byId, el, say } from '../dom.js';
import { api, openConsolePage } from './page.js';
import { dateTime, money } from '../format.js';
import { t } from '../i18n.js';

const form = byId('rules-form');
const message = byId('rules-message');
const TIERS = ['green', 'gold', 'platinum'];
// Fields that hold minor units (the form shows roubles) and lists (comma-separated).
const MONEY = new Set(['min_order_amount']);
const LISTS = new Set(['excluded_categories', 'excluded_skus']);
const PLAIN = ['tier_window_days', 'min_order_amount', 'max_redeem_share_percent', 'return_window_days', 'points_expire_after_days', 'hold_ttl_s', 'excluded_categories', 'excluded_skus'];

const roubles = (minor) => (Number(minor) / 100).toFixed(2);
const minor = (text) => Math.round(Number(text) * 100);
const list = (text) => String(text || '').split(',').map((item) => item.trim()).filter(Boolean);

function show(rules) {
  const f = form.elements;
  for (const tier of TIERS) f[`earn_${tier}`].value = rules.tier_earn_percent[tier];
  f.threshold_gold.value = roubles(rules.tier_thresholds.gold);
  f.threshold_platinum.value = roubles(rules.tier_thresholds.platinum);
  for (const name of PLAIN) {
    const value = rules[name];
    f[name].value = LISTS.has(name) ? value.join(', ') : MONEY.has(name) ? roubles(value) : value;
  }
}

function read() {
  const f = form.elements;
  const rules = {
    tier_earn_percent: Object.fromEntries(TIERS.map((tier) => [tier, Number(f[`earn_${tier}`].value)])),
    tier_thresholds: { gold: minor(f.threshold_gold.value), platinum: minor(f.threshold_platinum.value) },
  };
  for (const name of PLAIN) {
    const text = f[name].value;
    rules[name] = LISTS.has(name) ? list(text) : MONEY.has(name) ? minor(text) : Number(text);
  }
  return rules;
}

// What a version changed from the one before: "field: before → after" per changed field.
function changes(rules, before) {
  if (!before) return [];
  const shown = (name, value) => {
    if (MONEY.has(name)) return money(value);
    if (Array.isArray(value)) return value.join(', ') || '—';
    if (value && typeof value === 'object') return Object.entries(value).map(([k, v]) => `${k} ${name === 'tier_thresholds' ? money(v) : v}`).join(', ');
    return String(value);
  };
  return Object.keys(rules)
    .filter((name) => JSON.stringify(rules[name]) !== JSON.stringify(before[name]))
    .map((name) => `${t(`rules.field.${name}`)}: ${shown(name, before[name])} → ${shown(name, rules[name])}`);
}

function showHistory(items) {
  const rows = items.map((item, at) => {
    const changed = changes(item.rules, items[at + 1]?.rules);
    const who = item.version === 0 ? t('rules.defaults') : t('rules.published', { at: dateTime(item.created_at), who: item.created_by_name || '—' });
    return el(
      'li',
      { dataset: { version: String(item.version) } },
      el('strong', {}, t('rules.version', { version: item.version })),
      ` · ${who}`,
      changed.length ? el('ul', { className: 'changes' }, ...changed.map((line) => el('li', {}, line))) : null,
    );
  });
  byId('rules-history').replaceChildren(...rows);
}

async function load() {
  const [current, history] = await Promise.all([api.get('/v1/admin/rules'), api.get('/v1/admin/rules/versions')]);
  show(current.rules);
  byId('rules-version').textContent = t('rules.in_force', { version: current.version });
  showHistory(history.items);
}

const staff = await openConsolePage(['manager', 'admin']);
if (staff) {
  const canPublish = staff.role === 'admin';
  for (const input of form.elements) input.disabled = !canPublish;
  byId('rules-publish').hidden = !canPublish;
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    say(message, '');
    if (!form.checkValidity()) {
      say(message, t('rules.fix_fields'));
      form.querySelector(':invalid')?.focus();
      return;
    }
    try {
      const published = await busy(byId('rules-publish'), () => api.post('/v1/admin/rules', read()));
      say(message, t('rules.done', { version: published.version }), 'ok');
      await load();
    } catch (error) {
      say(message, error.message);
    }
  });
  await load().catch((error) => say(byId('page-message'), error.message));
}
