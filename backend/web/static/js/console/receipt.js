// A purchase's receipt on the staff member page (GET /v1/admin/purchases/{id}): its lines
// with the points each earned and the units already returned, its refunds, and a refund of
// chosen units per line (POST .../refunds with lines), the points it will take back shown
// before it is sent (each unit its share of its line's points, campaigns included) and the
// server's answer after.

import { newIdempotencyKey } from '../api.js';
import { busy, byId, el, onSubmit, say } from '../dom.js';
import { dateTime, money } from '../format.js';
import { number, t } from '../i18n.js';

// `total * part / whole` rounded down, as the server shares a line's points (loyalty.earning
// share): the units refunded so far and these together, less those refunded before.
const share = (total, part, whole) => (whole ? Math.floor((total * part) / whole) : total);

// The points `quantity` more units of `line` take back: their share of what the line earned.
export function linePoints(line, quantity) {
  const done = line.refunded_quantity;
  return share(line.points_earned, done + quantity, line.quantity) - share(line.points_earned, done, line.quantity);
}

export class Receipt {
  // api: the console's client; refunded(answer): called after a refund (the page refreshes
  // the member's balance and history).
  constructor(api, refunded) {
    this.api = api;
    this.refunded = refunded;
    this.section = byId('receipt-section');
    this.form = byId('refund-form');
    this.message = byId('refund-message');
    this.purchase = null;
    this.key = newIdempotencyKey();
    this.section.addEventListener('input', () => this.preview());
    onSubmit(this.form, () => this.refund());
  }

  // A history row's button to open the receipt of the purchase it came from.
  opener(item) {
    if (item.cause_type !== 'purchase' || !item.cause_id) return null;
    const button = el('button', { type: 'button', className: 'secondary small receipt-open', dataset: { purchaseId: item.cause_id } }, t('receipt.open'));
    button.addEventListener('click', () => busy(button, () => this.open(item.cause_id)).catch((error) => say(byId('page-message'), error.message)));
    return button;
  }

  async open(purchaseId) {
    say(this.message, '');
    this.key = newIdempotencyKey();
    this.show(await this.api.get(`/v1/admin/purchases/${purchaseId}`));
    this.section.hidden = false;
    this.section.scrollIntoView({ block: 'nearest' });
  }

  show(purchase) {
    this.purchase = purchase;
    byId('receipt-summary').replaceChildren(
      ...[
        ['receipt.number', purchase.external_id],
        ['receipt.at', dateTime(purchase.created_at)],
        ['receipt.amount', money(purchase.amount)],
        ['receipt.paid', money(purchase.paid_amount)],
        ['receipt.points_earned', number(purchase.points_earned)],
        ['receipt.points_redeemed', number(purchase.points_redeemed)],
        ['receipt.refunded_amount', money(purchase.refunded_amount)],
      ].flatMap(([key, value]) => [el('dt', {}, t(key)), el('dd', {}, value)]),
    );
    byId('receipt-lines').tBodies[0].replaceChildren(...purchase.lines.map((line) => this.lineRow(line)));
    byId('receipt-no-lines').hidden = purchase.lines.length > 0;
    this.form.hidden = !purchase.lines.some((line) => line.quantity > line.refunded_quantity);
    byId('receipt-refunds').replaceChildren(
      ...purchase.refunds.map((refund) =>
        el(
          'li',
          { dataset: { refundId: refund.refund_id } },
          t('receipt.refund_entry', { at: dateTime(refund.created_at), amount: money(refund.amount), count: refund.points_reversed }),
          refund.lines.length ? ` (${refund.lines.map((line) => `${line.name} × ${number(line.quantity)}`).join(', ')})` : '',
        ),
      ),
    );
    this.preview();
  }

  lineRow(line) {
    const left = line.quantity - line.refunded_quantity;
    const chosen = el('input', {
      type: 'number',
      className: 'refund-quantity',
      min: 0,
      max: left,
      step: 1,
      value: '0',
      disabled: left === 0,
      'aria-label': t('refund.quantity_of', { name: line.name }),
      dataset: { sku: line.sku },
    });
    return el(
      'tr',
      { dataset: { sku: line.sku } },
      el('td', {}, line.name, el('br'), el('span', { className: 'muted small' }, `${line.sku} · ${line.category}`)),
      el('td', { className: 'number' }, number(line.quantity)),
      el('td', { className: 'number' }, money(line.unit_price)),
      el('td', { className: 'number line-points' }, number(line.points_earned)),
      el('td', { className: 'number line-refunded' }, number(line.refunded_quantity)),
      el('td', { className: 'number' }, chosen),
    );
  }

  // What the chosen units are: [{line, quantity}], quantities whole and within what is left.
  chosen() {
    const lines = new Map(this.purchase.lines.map((line) => [line.sku, line]));
    return [...document.querySelectorAll('#receipt-lines .refund-quantity')]
      .map((input) => ({ line: lines.get(input.dataset.sku), quantity: Number(input.value), input }))
      .filter((choice) => choice.quantity !== 0 || !choice.input.checkValidity());
  }

  preview() {
    if (!this.purchase) return;
    const choices = this.chosen();
    const pointsBack = choices.reduce((sum, choice) => sum + linePoints(choice.line, choice.quantity), 0);
    const amount = choices.reduce((sum, choice) => sum + choice.line.unit_price * choice.quantity, 0);
    byId('refund-preview').textContent = choices.length ? t('refund.preview', { amount: money(amount), count: pointsBack }) : t('refund.choose');
  }

  async refund() {
    say(this.message, '');
    const choices = this.chosen();
    const wrong = choices.find((choice) => !choice.input.checkValidity() || !Number.isInteger(choice.quantity));
    if (wrong) return say(this.message, t('refund.quantity_wrong', { name: wrong.line.name }));
    if (!choices.length) return say(this.message, t('refund.choose'));
    const body = {
      lines: choices.map((choice) => ({ sku: choice.line.sku, quantity: choice.quantity })),
      reason: this.form.elements.reason.value.trim(),
    };
    try {
      const answer = await busy(byId('refund-send'), () =>
        this.api.post(`/v1/admin/purchases/${this.purchase.purchase_id}/refunds`, body, { headers: { 'Idempotency-Key': this.key } }),
      );
      this.key = newIdempotencyKey();
      this.form.reset();
      this.show(await this.api.get(`/v1/admin/purchases/${this.purchase.purchase_id}`));
      say(this.message, t('refund.done', { amount: money(answer.amount), count: answer.points_reversed, balance: number(answer.balance.available) }), 'ok');
      await this.refunded(answer);
    } catch (error) {
      say(this.message, error.message);
    }
  }
}
