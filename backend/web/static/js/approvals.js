// Adjustments waiting for a second staff member (managers and admins): approve puts the
// points on the member's balance, reject drops them. The requester sees their own listed,
// but the API refuses their approval (approver_is_requester).

import { busy, byId, el, say, show } from './dom.js';
import { dateTime, points } from './format.js';

// The page's own words for the API's problem codes (anything else: the server's message).
const WORDS = {
  approver_is_requester: 'You asked for this adjustment: another manager or an admin must approve it.',
  approval_decided: 'Someone else has already decided this adjustment.',
  forbidden: 'You may not decide adjustments of this store.',
};

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
    const approve = el('button', { type: 'button', className: 'approve' }, 'Approve');
    const reject = el('button', { type: 'button', className: 'reject secondary' }, 'Reject');
    const label = `${points(item.points)} points for member ${item.member_id}`;
    approve.setAttribute('aria-label', `Approve ${label}`);
    reject.setAttribute('aria-label', `Reject ${label}`);
    approve.addEventListener('click', () => this.decide(item, 'approve', approve));
    reject.addEventListener('click', () => this.decide(item, 'reject', reject));
    return el(
      'li',
      { dataset: { approvalId: item.id } },
      el('p', {}, el('strong', {}, `${points(item.points)} points`), ` — ${item.reason}`),
      el(
        'p',
        { className: 'muted small' },
        `Member ${item.member_id} · asked ${dateTime(item.created_at, this.zone)}`,
        ` · over the ${item.exceeded === 'per_day' ? 'daily' : 'per-adjustment'} limit`,
        mine ? ' · your request' : '',
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
      const balance = decision.balance ? ` The member now has ${decision.balance.available} points.` : '';
      say(this.message, `${decision.approval.status === 'approved' ? 'Approved' : 'Rejected'}: ${points(item.points)} points.${balance}`, 'ok');
      this.items = this.items.filter((other) => other.id !== item.id);
      this.render();
    } catch (error) {
      say(this.message, WORDS[error.code] || error.message);
      if (error.code === 'approval_decided') await this.load().catch(() => {});
    }
  }
}
