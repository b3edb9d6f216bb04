// Member lookup by phone or card number, manual point adjustments and birth-date corrections
// (managers, admins).

import { newIdempotencyKey } from './api.js';
import { busy, byId, el, onSubmit, say, show } from './dom.js';
import { calendarDate, points as signedPoints, tierName } from './format.js';
import { t } from './i18n.js';

export class Lookup {
  constructor(api) {
    this.api = api;
    this.canAdjust = false;
    this.member = null;
    this.pending = null; // {key, body}: a failed adjustment retried as is keeps its key
    this.form = byId('lookup-form');
    this.adjustForm = byId('adjust-form');
    this.birthForm = byId('birth-date-form');
    onSubmit(this.form, () => this.find());
    onSubmit(this.adjustForm, () => this.adjust());
    onSubmit(this.birthForm, () => this.correctBirthDate());
  }

  reset(canAdjust) {
    this.canAdjust = canAdjust;
    this.member = null;
    this.pending = null;
    this.form.reset();
    this.adjustForm.reset();
    this.birthForm.reset();
    byId('member-result').replaceChildren();
    show(byId('member-result'), false);
    show(this.adjustForm, false);
    show(this.birthForm, false);
    say(byId('lookup-message'), '');
    say(byId('adjust-message'), '');
    say(byId('birth-date-message'), '');
  }

  async find() {
    const message = byId('lookup-message');
    say(message, '');
    const raw = this.form.elements.query.value.trim();
    const query = new URLSearchParams();
    if (raw.startsWith('+')) query.set('phone', raw.replace(/[\s()-]/g, ''));
    else if (/^[0-9]{16}$/.test(raw.replace(/[\s-]/g, ''))) query.set('card_number', raw.replace(/[\s-]/g, ''));
    else {
      say(message, t('staff.lookup.bad_query'));
      this.form.elements.query.focus();
      return;
    }
    try {
      const member = await busy(byId('lookup-submit'), () => this.api.get(`/v1/admin/members?${query}`));
      this.show(member);
    } catch (error) {
      this.member = null;
      show(byId('member-result'), false);
      show(this.adjustForm, false);
      show(this.birthForm, false);
      say(message, error.status === 404 ? t('staff.lookup.not_found') : error.message);
    }
  }

  show(member) {
    this.member = member;
    const b = member.balance;
    byId('member-result').replaceChildren(
      el(
        'dl',
        { className: 'pairs' },
        el('dt', {}, t('member.card.number')),
        el('dd', { className: 'mono', dataset: { field: 'card_number' } }, member.card_number),
        el('dt', {}, t('member.card.phone')),
        el('dd', { dataset: { field: 'phone' } }, member.phone),
        el('dt', {}, t('member.card.tier')),
        el('dd', { dataset: { field: 'tier' } }, tierName(member.tier)),
        el('dt', {}, t('staff.lookup.balance')),
        el(
          'dd',
          { dataset: { field: 'balance' } },
          el('span', { className: 'available' }, String(b.available)),
          ` ${t('staff.lookup.available')} · `,
          el('span', { className: 'pending' }, String(b.pending)),
          ` ${t('staff.lookup.pending')} · `,
          el('span', { className: 'held' }, String(b.held)),
          ` ${t('staff.lookup.held')}`,
        ),
      ),
    );
    byId('member-result').append(
      el('a', { href: `/staff/member?${new URLSearchParams({ id: member.member_id })}`, className: 'member-page' }, t('staff.lookup.open')),
    );
    byId('member-result').dataset.memberId = member.member_id;
    show(byId('member-result'), true);
    show(this.adjustForm, this.canAdjust);
    if (this.birthForm.dataset.memberId !== member.member_id) {
      this.birthForm.reset();
      say(byId('birth-date-message'), '');
    }
    this.birthForm.dataset.memberId = member.member_id;
    show(this.birthForm, this.canAdjust);
  }

  async correctBirthDate() {
    const message = byId('birth-date-message');
    say(message, '');
    if (!this.member) return;
    const input = this.birthForm.elements.birth_date;
    if (!/^\d{4}-\d{2}-\d{2}$/.test(input.value)) {
      say(message, t('staff.birth_date.missing'));
      input.focus();
      return;
    }
    try {
      const member = await busy(byId('birth-date-submit'), () =>
        this.api.patch(`/v1/admin/members/${encodeURIComponent(this.member.member_id)}/birth-date`, {
          birth_date: input.value,
        }),
      );
      this.show(member);
      say(message, t('staff.birth_date.corrected', { date: calendarDate(input.value) }), 'ok');
    } catch (error) {
      say(message, error.message);
    }
  }

  async adjust() {
    const message = byId('adjust-message');
    say(message, '');
    if (!this.member) return;
    const points = Number(this.adjustForm.elements.points.value);
    const reason = this.adjustForm.elements.reason.value.trim();
    if (!Number.isInteger(points) || points === 0) {
      say(message, t('staff.adjust.bad_points'));
      this.adjustForm.elements.points.focus();
      return;
    }
    if (reason.length < 3) {
      say(message, t('staff.adjust.bad_reason'));
      this.adjustForm.elements.reason.focus();
      return;
    }
    const body = { points, reason };
    const memberId = this.member.member_id;
    const same = this.pending && this.pending.memberId === memberId && JSON.stringify(this.pending.body) === JSON.stringify(body);
    const key = same ? this.pending.key : newIdempotencyKey();
    this.pending = { key, body, memberId };
    try {
      const result = await busy(byId('adjust-submit'), () =>
        this.api.post(`/v1/admin/members/${encodeURIComponent(memberId)}/adjustments`, body, {
          headers: { 'Idempotency-Key': key },
        }),
      );
      this.pending = null;
      this.show({ ...this.member, balance: result.balance });
      this.adjustForm.reset();
      const signed = signedPoints(points);
      if (result.status === 'pending_approval') {
        // Above this manager's limits: nothing moved until a second staff member approves.
        say(message, t('staff.adjust.waiting', { points: signed, count: points }), 'ok');
      } else {
        say(message, t('staff.adjust.done', { points: signed, count: points, available: result.balance.available }), 'ok');
      }
    } catch (error) {
      // Network or server trouble: the same request again reuses the key (no double credit).
      if (error.status && error.status < 500 && error.status !== 409) this.pending = null;
      say(message, error.message);
    }
  }
}
