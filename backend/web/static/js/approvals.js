// Adjustments waiting for a second staff member (managers and admins): approve puts the
// points on the member's balance, reject drops them. The requester sees their own listed,
// but the API refuses their approval (approver_is_requester).

import { busy, byId, el, say, show } from './dom.js';
import { dateTime, points } from './format.js';
import { t, wordFor } from './i18n.js';

// The panel's own words for some problem codes (approvals.<code>), else api.js's message.
function worded(error) {
  return wordFor('approvals', error.code, error.message);
}

export class Approvals {
  constructor(api) {
    this.api = api;
    this.zone = null;
    this.staffId = null;
    this.items = [];
    this.list = byId('approvals');
    this.empty = byId('approvals-empty');
    this.message = byId('approvals-message');
    byId('approvals-reload').addEventListener('click', (event) =>
      busy(event.currentTarget, () => this.load()).catch((error) => say(this.message, error.message)),
    );
  }

  clear() {
    this.items = [];
    this.staffId = null;
    this.list.replaceChildren();
    show(this.empty, false);
    say(this.message, '');
  }

  setZone(zone) {
    this.zone = zone;
    this.render();
  }

  async load(staffId = this.staffId) {
    this.staffId = staffId;
    const list = await this.api.get('/v1/admin/adjustment-approvals');
    this.items = list.items;
    this.render();
  }

  render() {
    this.list.replaceChildren(...this.items.map((item) => this.row(item)));
    show(this.empty, this.items.length === 0);
  }

  row(item) {
    const mine = item.requested_by === this.staffId;
    const approve = el('button', { type: 'button', className: 'approve' }, t('approvals.approve'));
    const reject = el('button', { type: 'button', className: 'reject secondary' }, t('approvals.reject'));
    const what = { points: points(item.points), count: item.points, member: item.member_id };
    approve.setAttribute('aria-label', t('approvals.approve_label', what));
    reject.setAttribute('aria-label', t('approvals.reject_label', what));
    approve.addEventListener('click', () => this.decide(item, 'approve', approve));
    reject.addEventListener('click', () => this.decide(item, 'reject', reject));
    return el(
      'li',
      { dataset: { approvalId: item.id } },
      el('p', {}, el('strong', {}, t('approvals.points', what)), ` — ${item.reason}`),
      el(
        'p',
        { className: 'muted small' },
        t('approvals.asked', { member: item.member_id, at: dateTime(item.created_at, this.zone) }),
        ` · ${t(item.exceeded === 'per_day' ? 'approvals.over_daily' : 'approvals.over_each')}`,
        mine ? ` · ${t('approvals.yours')}` : '',
      ),
      el('div', { className: 'actions' }, approve, reject),
    );
  }

  async decide(item, action, button) {
    say(this.message, '');
    try {
      const decision = await busy(button, () =>
        this.api.post(`/v1/admin/adjustment-approvals/${item.id}/${action}`),
      );
      const what = { points: points(item.points), count: item.points };
      const done = t(decision.approval.status === 'approved' ? 'approvals.approved' : 'approvals.rejected', what);
      const balance = decision.balance ? ` ${t('approvals.balance', { count: decision.balance.available })}` : '';
      say(this.message, `${done}${balance}`, 'ok');
      this.items = this.items.filter((other) => other.id !== item.id);
      this.render();
    } catch (error) {
      say(this.message, worded(error));
      if (error.code === 'approval_decided') await this.load().catch(() => {});
    }
  }
}
