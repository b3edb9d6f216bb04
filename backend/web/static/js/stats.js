// Today's figures of the store: loaded over REST, then replaced by each stats.updated.

import { setText } from './dom.js';
import { money } from './format.js';

export class Stats {
  constructor(api) {
    this.api = api;
    this.version = 0; // bumps on each event, so that an older REST answer is dropped
    this.currency = 'RUB';
  }

  clear(currency = 'RUB') {
    this.version += 1;
    this.currency = currency;
    this.render({});
  }

  async load(storeId) {
    const version = ++this.version;
    const figures = await this.api.get(`/v1/admin/stores/${encodeURIComponent(storeId)}/stats`);
    if (version === this.version) this.render(figures);
  }

  apply(figures) {
    this.version += 1;
    this.render(figures);
  }

  render(f) {
    setText('stat-sales', String(f.sales ?? 0));
    setText('stat-amount', money(f.sales_amount ?? 0, this.currency));
    setText('stat-points-earned', String(f.points_earned ?? 0));
    setText('stat-points-redeemed', String(f.points_redeemed ?? 0));
    setText('stat-active-members', String(f.active_members ?? 0));
    setText('stat-new-members', String(f.new_members ?? 0));
  }
}
