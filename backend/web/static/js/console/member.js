// A member as staff see them (/staff/member?id=…): card, phone, tier, balance, marketing
// consents, the ledger history, and (managers and admins) the audit trail of every staff
// action on them and each purchase's receipt, refundable by lines (receipt.js). Times on the
// staff's own clock.

import { busy, byId, el, say } from '../dom.js';
import { api, openConsolePage } from './page.js';
import { dateTime, deviceZone, inZone, tierName } from '../format.js';
import { History } from '../history.js';
import { number, t, wordFor } from '../i18n.js';
import { Receipt } from './receipt.js';

const memberId = new URLSearchParams(location.search).get('id') || '';

function card(member) {
  const pairs = [
    ['member.card.number', member.card_number],
    ['member.card.phone', member.phone],
    ['member.card.tier', tierName(member.tier)],
    ['member.points.available', number(member.balance.available)],
    ['member.points.pending', number(member.balance.pending)],
    ['member.points.held', number(member.balance.held)],
  ];
  byId('member-card').replaceChildren(...pairs.flatMap(([key, value]) => [el('dt', {}, t(key)), el('dd', {}, value)]));
  byId('member-consents').replaceChildren(
    ...member.consents.map((state) =>
      el(
        'li',
        { dataset: { channel: state.channel } },
        `${t(`member.consent.${state.channel}`)}: `,
        state.at ? t(state.given ? 'member.consent.given' : 'member.consent.withdrawn', { at: inZone(state.at, deviceZone()) }) : t('member.consent.never'),
      ),
    ),
  );
}

function audit(entries) {
  byId('member-audit').replaceChildren(
    ...entries.map((entry) =>
      el(
        'li',
        { dataset: { action: entry.action } },
        el('strong', {}, wordFor('audit', entry.action)),
        ` · ${dateTime(entry.at)} · ${entry.role ? t(`staff.role.${entry.role}`) : '—'}`,
      ),
    ),
  );
}

const staff = await openConsolePage(['barista', 'manager', 'admin']);
if (staff) {
  const message = byId('page-message');
  try {
    if (!/^[0-9a-f-]{36}$/.test(memberId)) throw new Error(t('staffmember.no_id'));
    card(await api.get(`/v1/admin/members/${memberId}`));
    const path = `/v1/admin/members/${memberId}/transactions`;
    let history = null;
    // Receipts (and refunds) are for managers and admins; a barista sees the history only.
    const receipt =
      staff.role === 'barista'
        ? null
        : new Receipt(api, async () => {
            card(await api.get(`/v1/admin/members/${memberId}`));
            await history.reload();
          });
    history = new History(api, byId('history'), byId('history-more'), path, (item) => receipt?.opener(item) ?? null);
    history.setZone(deviceZone());
    await history.reload();
    byId('history-more').addEventListener('click', (event) => busy(event.currentTarget, () => history.next()).catch((error) => say(message, error.message)));
    if (staff.role !== 'barista') {
      const query = new URLSearchParams({ target_type: 'member', target_id: memberId, limit: '50' });
      audit((await api.get(`/v1/admin/audit?${query}`)).items);
      byId('member-audit-section').hidden = false;
    }
  } catch (error) {
    say(message, error.message);
  }
}
