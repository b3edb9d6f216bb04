// Campaigns (admins): the list with its lifecycle buttons, and the form for a new draft.
// Campaigns run chain-wide; their start and end read and are entered on the clock of the
// store selected on the dashboard (a campaign given in a zone of its own shows that one).

import { busy, byId, el, onSubmit, say } from './dom.js';
import { CampaignBuilder, readDraft } from './builder.js';
import { dateTime, instantIn, zoneLabel } from './format.js';
import { t, wordFor } from './i18n.js';

// What each button does, and from which statuses (backend/campaigns/service.py TRANSITIONS);
// its words are campaign.action.<name>.
const ACTIONS = [
  { name: 'schedule', from: ['draft'] },
  { name: 'publish', from: ['draft', 'scheduled', 'paused'] },
  { name: 'pause', from: ['scheduled', 'active'] },
  { name: 'end', from: ['draft', 'scheduled', 'active', 'paused'] },
];

// "2026-05-01T09:30" on the clocks of `zone` as an instant, or null; a time the clocks skip
// (DST) is refused here, naming the field, as the API would refuse it.
function instantOrNull(local, zone, what) {
  if (!local) return null;
  try {
    return instantIn(local, zone);
  } catch (error) {
    throw new Error(`${what}: ${error.message}`);
  }
}

// The input's "2026-05-01T09:30" as the API's wall-clock time "2026-05-01T09:30:00".
const wallClock = (local) => (local.length === 16 ? `${local}:00` : local);

export class Campaigns {
  constructor(api) {
    this.api = api;
    this.body = byId('campaigns').tBodies[0];
    this.form = byId('campaign-form');
    this.error = byId('campaign-error');
    this.message = byId('campaign-message');
    this.zone = undefined; // the selected store's
    this.items = [];
    onSubmit(this.form, () => this.create());
    this.body.addEventListener('click', (event) => {
      const button = event.target.closest('button[data-action]');
      if (button) this.move(button);
    });
    this.builder = new CampaignBuilder(api, this.form, () => this._body());
    this.setZone(undefined);
  }

  // The stores the targeting can name.
  setStores(stores) {
    this.builder.setStores(stores);
  }

  // The clock campaign times read and are entered on.
  setZone(zone) {
    this.zone = zone;
    for (const label of document.querySelectorAll('label[data-zone-label]')) {
      label.textContent = t(label.dataset.zoneLabel, { zone: zone || t('campaign.form.local') });
    }
    byId('campaign-zone-note').textContent = zone ? t('campaign.zone_note', { zone: zoneLabel(zone) }) : '';
    this.body.replaceChildren(...this.items.map((c) => this._row(c)));
  }

  clear() {
    this.items = [];
    this.setZone(undefined);
    say(this.error, '');
    say(this.message, '');
  }

  async load() {
    const list = await this.api.get('/v1/admin/campaigns');
    this.items = list.items;
    this.body.replaceChildren(...list.items.map((c) => this._row(c)));
  }

  _row(campaign) {
    // A schedule given in a zone of its own reads on that clock, and says so.
    const zone = campaign.time_zone || this.zone;
    const when = [
      campaign.starts_at && t('campaign.from', { at: dateTime(campaign.starts_at, zone) }),
      campaign.ends_at && t('campaign.to', { at: dateTime(campaign.ends_at, zone) }),
      campaign.time_zone && campaign.time_zone !== this.zone && `(${campaign.time_zone})`,
      campaign.per_member_limit &&
        `· ${t(campaign.per_member_period ? `campaign.limit.${campaign.per_member_period}` : 'campaign.limit.whole', { count: campaign.per_member_limit })}`,
    ]
      .filter(Boolean)
      .join(' ');
    const buttons = ACTIONS.map(({ name, from }) =>
      el(
        'button',
        {
          type: 'button',
          className: `${name} small${name === 'end' ? ' danger' : ' secondary'}`,
          dataset: { action: name },
          disabled: !from.includes(campaign.status),
          'aria-label': t(`campaign.action_label.${name}`, { name: campaign.name }),
        },
        t(`campaign.action.${name}`),
      ),
    );
    return el(
      'tr',
      { dataset: { campaignId: campaign.id, status: campaign.status } },
      el('td', { className: 'name' }, campaign.name, when ? el('span', { className: 'note' }, when) : null),
      el('td', { className: 'kind' }, wordFor('campaign.kind', campaign.kind)),
      el('td', { className: 'status' }, el('span', { className: `badge status-${campaign.status}` }, wordFor('campaign.status', campaign.status))),
      el(
        'td',
        { className: 'actions' },
        el(
          'div',
          { className: 'buttons' },
          ...buttons,
          el('a', { href: `/staff/reports?${new URLSearchParams({ campaign: campaign.id })}`, className: 'report small', 'aria-label': t('campaign.report_label', { name: campaign.name }) }, t('campaign.report')),
        ),
      ),
    );
  }

  async move(button) {
    const row = button.closest('tr[data-campaign-id]');
    const action = button.dataset.action;
    say(this.error, '');
    say(this.message, '');
    try {
      const campaign = await busy(button, () =>
        this.api.post(`/v1/admin/campaigns/${encodeURIComponent(row.dataset.campaignId)}/${action}`),
      );
      this._keep(campaign);
      const fresh = this._row(campaign);
      row.replaceWith(fresh);
      say(this.message, t('campaign.now', { name: campaign.name, status: wordFor('campaign.status', campaign.status) }), 'ok');
      fresh.querySelector('button:not([disabled])')?.focus();
    } catch (error) {
      say(this.error, error.message);
    }
  }

  _keep(campaign) {
    const at = this.items.findIndex((c) => c.id === campaign.id);
    if (at >= 0) this.items[at] = campaign;
    else this.items.push(campaign);
  }

  _body() {
    const f = this.form.elements;
    const name = f.name.value.trim();
    if (!name) throw new Error(t('campaign.form.missing_name'));
    const rule = this.builder.ruleBody();
    const targeting = this.builder.targetingBody();
    const priority = f.priority.value === '' ? 0 : Number(f.priority.value);
    if (!Number.isInteger(priority)) throw new Error(t('campaign.form.bad_priority'));
    const body = {
      name,
      rule,
      targeting,
      priority,
      exclusive: f.exclusive.checked,
      requires_activation: f.requires_activation.checked,
    };
    const starts = instantOrNull(f.starts_at.value, this.zone, t('campaign.form.starts'));
    const ends = instantOrNull(f.ends_at.value, this.zone, t('campaign.form.ends'));
    if (starts && ends && ends <= starts) throw new Error(t('campaign.form.ends_first'));
    if (this.zone) {
      // Given as the store's wall clock, in its zone: the campaign keeps saying so.
      if (starts) body.starts_at_local = wallClock(f.starts_at.value);
      if (ends) body.ends_at_local = wallClock(f.ends_at.value);
      if (starts || ends) body.time_zone = this.zone;
    } else {
      body.starts_at = starts && starts.toISOString();
      body.ends_at = ends && ends.toISOString();
    }
    const limit = f.per_member_limit.value;
    const period = f.per_member_period.value;
    if (limit !== '') {
      if (!/^[0-9]+$/.test(limit) || Number(limit) < 1) throw new Error(t('campaign.form.bad_limit'));
      body.per_member_limit = Number(limit);
    } else if (period) {
      throw new Error(t(`campaign.form.limit_needed.${period}`));
    }
    if (period) body.per_member_period = period;
    return body;
  }

  async create() {
    say(this.error, '');
    say(this.message, '');
    const body = readDraft(() => this._body(), this.error);
    if (body === null) return;
    try {
      const campaign = await busy(byId('campaign-create'), () => this.api.post('/v1/admin/campaigns', body));
      this._keep(campaign);
      this.body.append(this._row(campaign));
      this.form.reset();
      this.builder.reset();
      say(this.message, t('campaign.created', { name: campaign.name }), 'ok');
    } catch (error) {
      say(this.error, error.message);
    }
  }
}
