// The member's card: number, tier and progress, balance, expiring points, stamp cards.
// Balance events update the numbers at once; /v1/me (perhaps read from a lagging replica)
// never overwrites a newer balance: its last_event_seq must reach the event's seq.
// Its dates read in the member's time zone (`time_zone` of /v1/me); `onRender(me)` lets the
// rest of the page follow that zone and the member's details.

import { byId, el, setText } from './dom.js';
import { date, money, tierName } from './format.js';
import { coalesced } from './reload.js';
import { number, t } from './i18n.js';

export class Profile {
  constructor(api, onRender = () => {}) {
    this.api = api;
    this.onRender = onRender;
    this.balanceSeq = 0;
    this._reload = coalesced(async () => this.render(await this.api.get('/v1/me')));
    this.me = null;
  }

  clear() {
    this.balanceSeq = 0;
    this.me = null;
  }

  // Refetch /v1/me; calls during a fetch coalesce into one more fetch after it.
  reload() {
    return this._reload();
  }

  render(me) {
    this.me = me;
    setText('card-number', me.card_number);
    setText('member-phone', me.phone);
    const tier = byId('tier');
    tier.textContent = tierName(me.tier);
    tier.dataset.tier = me.tier;
    this._progress(me.progress);
    if ((Number(me.last_event_seq) || 0) >= this.balanceSeq) {
      this.balanceSeq = Number(me.last_event_seq) || 0;
      this._balance(me.balance);
    }
    this._expiring(me.expiring_soon);
    this._stampCards(me.stamp_cards || []);
    this.onRender(me);
  }

  // A balance.updated event (seq on the member's own stream).
  applyBalance(data, seq) {
    if (seq < this.balanceSeq) return;
    this.balanceSeq = seq;
    this._balance(data);
  }

  _balance(balance) {
    setText('balance-available', number(balance.available ?? 0));
    setText('balance-pending', number(balance.pending ?? 0));
    setText('balance-held', number(balance.held ?? 0));
  }

  _progress(progress) {
    const bar = byId('tier-bar');
    if (!progress || !progress.next_tier) {
      setText('tier-progress', t('member.tier.top'));
      bar.max = 1;
      bar.value = 1;
      return;
    }
    const spent = Number(progress.qualifying_spend) || 0;
    const toGo = Number(progress.spend_to_next_tier) || 0;
    setText('tier-progress', t('member.tier.to_next', { more: money(toGo), tier: tierName(progress.next_tier), spent: money(spent) }));
    bar.max = Math.max(1, spent + toGo);
    bar.value = spent;
  }

  _expiring(expiring) {
    const n = Number(expiring?.points) || 0;
    const days = expiring?.within_days ?? 30;
    setText(
      'expiring-soon',
      n > 0
        ? expiring.first_expires_at
          ? t('member.expiring.from', { count: n, from: date(expiring.first_expires_at, this.me?.time_zone), days: t('common.days', { count: days }) })
          : t('member.expiring.within', { count: n, days: t('common.days', { count: days }) })
        : t('member.expiring.none', { days: t('common.days', { count: days }) }),
    );
  }

  _stampCards(cards) {
    const rows = cards.map((card) =>
      el(
        'li',
        { dataset: { campaignId: card.campaign_id } },
        el('span', { className: 'name' }, card.name),
        el('span', { className: 'count' }, `${card.stamps} / ${card.stamps_needed}`),
        el('progress', { max: card.stamps_needed, value: card.stamps, 'aria-label': t('member.stamps.progress', { name: card.name, stamps: card.stamps, count: card.stamps_needed }) }),
      ),
    );
    byId('stamp-cards').replaceChildren(...rows);
    byId('stamp-cards-empty').hidden = rows.length > 0;
  }
}
