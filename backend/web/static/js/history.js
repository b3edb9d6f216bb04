// The member's ledger history: newest first, a page at a time, live entries on top; times on
// the member's clock.

import { el } from './dom.js';
import { points, retime, timeEl } from './format.js';
import { t, wordFor } from './i18n.js';

const PAGE = 20;

export class History {
  // path: whose history (the member's own; the console's member page reads one for staff);
  // extra(item): more for an entry's row, or null (the console's button to open a receipt).
  constructor(api, list, moreButton, path = '/v1/me/transactions', extra = () => null) {
    this.api = api;
    this.extra = extra;
    this.path = path;
    this.list = list;
    this.more = moreButton;
    this.seen = new Set();
    this.cursor = null;
    this.generation = 0;
    this.zone = undefined; // the member's IANA zone, once /v1/me says it
  }

  setZone(zone) {
    this.zone = zone;
    retime(this.list, zone);
  }

  clear() {
    this.generation += 1;
    this.seen.clear();
    this.cursor = null;
    this.list.replaceChildren();
    this.more.hidden = true;
  }

  // The first page again (after login or a resync).
  async reload() {
    this.clear();
    await this._page(this.generation);
  }

  async next() {
    if (this.cursor) await this._page(this.generation);
  }

  async _page(generation) {
    const query = new URLSearchParams({ limit: String(PAGE) });
    if (this.cursor) query.set('cursor', this.cursor);
    const page = await this.api.get(`${this.path}?${query}`);
    if (generation !== this.generation) return; // cleared meanwhile
    for (const item of page.items) this._add(item, 'end');
    this.cursor = page.next_cursor || null;
    this.more.hidden = !this.cursor;
  }

  // A transaction.created event.
  prepend(data, ts) {
    this._add(
      {
        id: data.entry_id,
        kind: data.kind,
        points: data.points ?? (data.available_delta || 0) + (data.pending_delta || 0),
        pending_delta: data.pending_delta,
        note: data.note,
        created_at: ts,
      },
      'start',
    );
  }

  _add(item, where) {
    if (item.id && this.seen.has(item.id)) return;
    if (item.id) this.seen.add(item.id);
    const value = Number(item.points) || 0;
    const row = el(
      'li',
      { dataset: { entryId: item.id || '' } },
      el('span', { className: `points ${value > 0 ? 'plus' : value < 0 ? 'minus' : ''}` }, points(value)),
      el(
        'span',
        { className: 'what' },
        el('span', { className: 'kind' }, wordFor('ledger', item.kind, item.kind || '')),
        item.pending_delta ? el('span', { className: 'tag' }, t('member.history.pending')) : null,
        item.note ? el('span', { className: 'note' }, item.note) : null,
      ),
      timeEl(item.created_at, this.zone),
      this.extra(item),
    );
    if (where === 'start') this.list.prepend(row);
    else this.list.append(row);
  }
}
