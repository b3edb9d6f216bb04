// A console table whose rows come a page at a time from a cursor-paged list (GET
// <path>?limit=&cursor=): its "Show more" button reads the next page, and is shown while there
// is one; errors go to the page's message line.

import { busy, say } from '../dom.js';
import { api } from './page.js';

// The table's reload(): its rows again from the first page. row(item): an item's <tr>;
// shown(listed): what else a page read changes (a total).
export function pagedTable({ path, body, more, message, row, limit = 50, shown = () => {} }) {
  let cursor = null;

  async function next() {
    const query = new URLSearchParams({ limit: String(limit) });
    if (cursor) query.set('cursor', cursor);
    const listed = await api.get(`${path}?${query}`);
    body.append(...listed.items.map(row));
    cursor = listed.next_cursor;
    more.hidden = !cursor;
    shown(listed);
  }

  more.addEventListener('click', () => busy(more, next).catch((error) => say(message, error.message)));
  return async function reload() {
    body.replaceChildren();
    cursor = null;
    await next();
  };
}
