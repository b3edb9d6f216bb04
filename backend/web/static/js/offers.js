// The member's offers and coupons: listed from /v1/me/offers, activated or redeemed here.

import { el, say } from './dom.js';
import { retime, timeEl } from './format.js';
import { coalesced } from './reload.js';
import { newIdempotencyKey } from './api.js';
import { t, wordFor } from './i18n.js';

export class Offers {
  constructor(api, list, empty, message, onChanged) {
    this.empty = empty;
    this.api = api;
    this.list = list;
    this.message = message;
    this.onChanged = onChanged; // after a redeem: the balance changed
    this.zone = undefined; // the member's: until when an offer runs, on their clock
    this._reload = coalesced(async () => {
      const offers = await this.api.get('/v1/me/offers');
      this.render(offers.items);
    });
    list.addEventListener('click', (event) => this._click(event));
  }

  setZone(zone) {
    this.zone = zone;
    retime(this.list, zone);
  }

  clear() {
    this.list.replaceChildren();
    this.empty.hidden = true;
    say(this.message, '');
  }

  // Refetch; calls during a fetch coalesce into one more fetch after it.
  reload() {
    return this._reload();
  }

  render(items) {
    const rows = items.map((offer) => this._row(offer));
    this.list.replaceChildren(...rows);
    this.empty.hidden = rows.length > 0;
  }

  _row(offer) {
    const status = wordFor('offer.status', offer.status);
    const parts = [
      el('span', { className: 'name' }, offer.name),
      el('span', { className: `status status-${offer.status}` }, status),
    ];
    if (offer.description) parts.push(el('span', { className: 'note' }, offer.description));
    if (offer.coupon_code) {
      parts.push(el('span', { className: 'coupon' }, `${t('offer.code')} `, el('code', {}, offer.coupon_code)));
      if (offer.valid_until) parts.push(el('span', { className: 'note' }, `${t('offer.valid_until')} `, timeEl(offer.valid_until, this.zone)));
    } else if (offer.ends_at) {
      parts.push(el('span', { className: 'note' }, `${t('offer.until')} `, timeEl(offer.ends_at, this.zone)));
    }
    if (offer.requires_activation && offer.status === 'available') {
      parts.push(el('button', { type: 'button', className: 'activate' }, t('offer.activate')));
    }
    if (offer.kind === 'reward' && offer.status === 'available' && offer.cost_points) {
      parts.push(el('button', { type: 'button', className: 'redeem' }, t('offer.redeem', { count: offer.cost_points })));
    }
    return el('li', { dataset: { campaignId: offer.campaign_id }, className: 'offer' }, ...parts);
  }

  async _click(event) {
    const button = event.target.closest('button');
    const row = button?.closest('li[data-campaign-id]');
    if (!button || !row) return;
    const id = row.dataset.campaignId;
    button.disabled = true;
    say(this.message, '');
    try {
      if (button.classList.contains('activate')) {
        const offer = await this.api.post(`/v1/me/offers/${encodeURIComponent(id)}/activate`);
        row.replaceWith(this._row(offer));
        say(this.message, t('offer.activated', { name: offer.name }), 'ok');
      } else if (button.classList.contains('redeem')) {
        await this.api.post(`/v1/me/offers/${encodeURIComponent(id)}/redeem`, undefined, {
          headers: { 'Idempotency-Key': newIdempotencyKey() },
        });
        say(this.message, t('offer.coupon_added'), 'ok');
        await this.reload();
        this.onChanged?.();
      }
    } catch (error) {
      button.disabled = false;
      say(this.message, error.message);
    }
  }
}
