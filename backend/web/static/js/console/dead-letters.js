// Dead letters (admins): messages the outbox worker gave up on, each put back in line once
// its cause is fixed.

import { busy, byId, el, say } from '../dom.js';
import { api, openConsolePage } from './page.js';
import { dateTime } from '../format.js';
import { t } from '../i18n.js';

const body = byId('dead-letters').tBodies[0];
const message = byId('dead-message');

function row(letter) {
  const retry = el('button', { type: 'button', className: 'secondary small', 'aria-label': t('dead.retry_label', { reference: letter.reference }) }, t('dead.retry'));
  retry.addEventListener('click', async () => {
    say(message, '');
    try {
      await busy(retry, () => api.post(`/v1/admin/outbox/${letter.id}/retry`));
      retry.closest('tr').remove();
      byId('dead-empty').hidden = body.rows.length > 0;
      say(message, t('dead.queued', { reference: letter.reference }), 'ok');
    } catch (error) {
      say(message, error.message);
    }
  });
  return el(
    'tr',
    { dataset: { messageId: letter.id } },
    el('td', {}, `${letter.kind} ${letter.reference}`, el('span', { className: 'note' }, ` → ${letter.destination} · ${dateTime(letter.created_at)}`)),
    el('td', {}, letter.business_date),
    el('td', { className: 'number' }, String(letter.attempts)),
    el('td', { className: 'small' }, letter.last_error || '—'),
    el('td', {}, retry),
  );
}

const staff = await openConsolePage(['admin']);
if (staff) {
  try {
    const listed = await api.get('/v1/admin/outbox/dead-letters');
    body.replaceChildren(...listed.items.map(row));
    byId('dead-empty').hidden = listed.items.length > 0;
  } catch (error) {
    say(message, error.message);
  }
}
