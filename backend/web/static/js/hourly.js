// The dashboard's hourly chart (managers and admins): the selected store's sales of its
// business day by local hour, beside the same weekday a week before; redrawn within a couple
// of seconds of each live sale (refetches coalesce, so a rush costs one read at a time).

import { busy, byId, say, show } from './dom.js';
import { downloadCsv, salesByHourChart } from './charts.js';
import { coalesced } from './reload.js';

const SOON_MS = 1500;

export class Hourly {
  constructor(api) {
    this.api = api;
    this.store = null;
    this.timer = null;
    this.section = byId('hourly-section');
    this.message = byId('hourly-message');
    this._reload = coalesced(async () => {
      if (!this.store) return;
      const store = this.store;
      const report = await this.api.get(`/v1/admin/stores/${store.id}/reports/sales-by-hour`);
      if (store !== this.store) return; // another store chosen meanwhile
      this.report = report;
      salesByHourChart(byId('hourly-chart'), report, store.currency);
    });
    byId('hourly-csv').addEventListener('click', (event) =>
      busy(event.currentTarget, () =>
        downloadCsv(this.api, `/v1/admin/stores/${this.store.id}/reports/sales-by-hour.csv`, `sales-by-hour-${this.report?.day ?? 'today'}.csv`),
      ).catch((error) => say(this.message, error.message)),
    );
  }

  // Follow `store` (null: none, or a role that may not read reports).
  follow(store) {
    this.store = store;
    clearTimeout(this.timer);
    show(this.section, Boolean(store));
    byId('hourly-chart').replaceChildren();
    say(this.message, '');
    if (store) this.reload();
  }

  reload() {
    return this._reload().catch((error) => say(this.message, error.message));
  }

  // A sale just happened: redraw soon (once for a burst).
  soon() {
    if (!this.store || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.reload();
    }, SOON_MS);
  }
}
