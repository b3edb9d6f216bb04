// The store's live sales: one row per sale.completed, newest first, at the store's time.

import { el } from './dom.js';
import { money, retime, timeEl } from './format.js';
import { t } from './i18n.js';

const KEEP = 50;

export class Feed {
  constructor(list, empty) {
    this.list = list;
    this.empty = empty;
    this.zone = undefined; // the store's IANA zone
  }

  clear(zone = undefined) {
    this.zone = zone;
    this.list.replaceChildren();
    this.empty.hidden = false;
  }

  setZone(zone) {
    this.zone = zone;
    retime(this.list, zone);
  }

  add(sale, ts) {
    const id = sale.purchase_id || '';
    if (id && this.list.querySelector(`li[data-purchase-id="${CSS.escape(id)}"]`)) return;
    const currency = sale.currency || 'RUB';
    const earned = Number(sale.points_earned) || 0;
    const details = [t('staff.feed.earned', { points: `+${earned}`, count: earned })];
    const redeemed = Number(sale.points_redeemed) || 0;
    if (redeemed > 0) details.push(t('staff.feed.redeemed', { count: redeemed }));
    if (sale.paid_amount !== undefined && sale.paid_amount !== sale.amount) {
      details.push(t('staff.feed.paid', { amount: money(sale.paid_amount, currency) }));
    }
    const row = el(
      'li',
      { dataset: { purchaseId: id } },
      el('span', { className: 'amount' }, money(sale.amount, currency)),
      el('span', { className: 'what' }, details.join(' · ')),
      timeEl(ts, this.zone, 'time'),
    );
    this.list.prepend(row);
    this.empty.hidden = true;
    while (this.list.children.length > KEEP) this.list.lastElementChild.remove();
  }
}
