// Today's figures of the store: loaded over REST, then replaced by each stats.updated.
// "Today" is the store's business day as the API says (`day`), in the store's own calendar;
// when the store's clock passes the start of its next business day, the figures are fetched
// again (the API, not this page, decides which day that is).

import { byId, setText, show } from './dom.js';
import { businessDay, calendarDay, money } from './format.js';
import { t } from './i18n.js';

const CHECK_DAY_MS = 5_000; // a date computed from the clock: nothing is sent until it turns

export class Stats {
  constructor(api) {
    this.api = api;
    this.version = 0; // bumps on each event, so that an older REST answer is dropped
    this.store = null; // {id, currency, time_zone, day_starts_at} of GET /v1/admin/stores
    this.day = null; // "2026-12-07": the business day shown
    this.asked = null; // the business day this page's clock last fetched the figures for
    this.timer = null;
    this.onZone = () => {}; // the figures say the store's zone changed (an admin moved it)
  }

  // Figures of `store` from now on (zeros until they load); null: none.
  follow(store) {
    this.version += 1;
    this.store = store;
    this.day = null;
    this.asked = null;
    clearInterval(this.timer);
    this.timer = store ? setInterval(() => this._dayTurned(), CHECK_DAY_MS) : null;
    this.render({});
  }

  clear() {
    this.follow(null);
  }

  async load() {
    if (!this.store) return;
    const version = ++this.version;
    const id = this.store.id;
    const figures = await this.api.get(`/v1/admin/stores/${encodeURIComponent(id)}/stats`);
    if (version === this.version && this.store?.id === id) this.render(figures);
  }

  apply(figures) {
    // A late event of a day already past does not replace today's figures.
    if (this.day && figures.day && figures.day < this.day) return;
    this.version += 1;
    this.render(figures);
  }

  _dayTurned() {
    if (!this.store || !this.day) return;
    const today = businessDay(this.store.time_zone, this.store.day_starts_at);
    // Once per day this computer's clock sees begin: a clock running ahead of the server's
    // gets the server's day back, and asks again only at its next day.
    if (today > this.day && today !== this.asked) {
      this.asked = today;
      this.load().catch(() => {}); // the next event tries again
    }
  }

  render(f) {
    if (f.time_zone && this.store && f.time_zone !== this.store.time_zone) {
      this.store = { ...this.store, time_zone: f.time_zone };
      this.onZone(this.store);
    }
    const currency = this.store?.currency ?? 'RUB';
    setText('stat-sales', String(f.sales ?? 0));
    setText('stat-amount', money(f.sales_amount ?? 0, currency));
    setText('stat-points-earned', String(f.points_earned ?? 0));
    setText('stat-points-redeemed', String(f.points_redeemed ?? 0));
    setText('stat-active-members', String(f.active_members ?? 0));
    setText('stat-new-members', String(f.new_members ?? 0));
    this.day = f.day ?? null;
    const day = byId('stats-day');
    day.dateTime = this.day ?? '';
    day.textContent = calendarDay(this.day);
    const start = Number(this.store?.day_starts_at) || 0;
    // A shop open past midnight counts its night with the evening before.
    setText('stats-day-start', start ? ` ${t('staff.stats.day_starts', { hour: `${String(start).padStart(2, '0')}:00` })}` : '');
    show(byId('stats-day-line'), Boolean(this.day));
  }
}
