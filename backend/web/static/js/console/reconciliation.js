// Reconciliation (admins): a business day's sales and points liability against the
// accounting system and the payment provider, chain-wide or for one store, with every
// difference listed.

import { busy, byId, el, onSubmit, say } from '../dom.js';
import { api, openConsolePage } from './page.js';
import { localDate, money } from '../format.js';
import { t, wordFor } from '../i18n.js';

const form = byId('recon-form');
const message = byId('recon-message');
const MONEY = new Set(['sales_gross_amount', 'sales_net_amount']);

function show(report) {
  const verdict = byId('recon-verdict');
  verdict.textContent = t(report.balanced ? 'recon.balanced' : 'recon.unbalanced', { date: report.business_date });
  verdict.dataset.balanced = String(report.balanced);
  byId('recon-totals').replaceChildren(
    ...Object.entries(report.totals).flatMap(([name, value]) => [
      el('dt', {}, t(`recon.total.${name}`)),
      el('dd', { className: 'number', dataset: { total: name } }, MONEY.has(name) ? money(value) : String(value)),
    ]),
  );
  const rows = report.differences.map((difference) =>
    el(
      'tr',
      {},
      el('td', {}, wordFor('recon.difference', difference.kind)),
      el('td', { className: 'mono' }, difference.reference),
      el('td', {}, difference.detail),
      el('td', {}, difference.ours === null || difference.ours === undefined ? '—' : JSON.stringify(difference.ours)),
      el('td', {}, difference.theirs === null || difference.theirs === undefined ? '—' : JSON.stringify(difference.theirs)),
    ),
  );
  byId('recon-differences').tBodies[0].replaceChildren(...rows);
  byId('recon-none').hidden = rows.length > 0;
  byId('recon-result').hidden = false;
}

async function run() {
  say(message, '');
  const f = form.elements;
  if (!f.date.value) {
    say(message, t('recon.missing_date'));
    f.date.focus();
    return;
  }
  const query = new URLSearchParams({ date: f.date.value });
  if (f.store_id.value) query.set('store_id', f.store_id.value);
  try {
    show(await busy(byId('recon-submit'), () => api.get(`/v1/admin/reports/reconciliation?${query}`)));
  } catch (error) {
    byId('recon-result').hidden = true;
    say(message, error.message);
  }
}

const staff = await openConsolePage(['admin']);
if (staff) {
  const listed = await api.get('/v1/admin/stores');
  byId('recon-store').append(...listed.items.map((store) => el('option', { value: store.id }, `${store.name} (${store.code})`)));
  // Yesterday is the day people reconcile; on the program's clock is close enough to start.
  const yesterday = new Date(Date.now() - 86_400_000);
  // Only when nobody chose a date while the stores loaded.
  if (!form.elements.date.value) form.elements.date.value = localDate(Intl.DateTimeFormat().resolvedOptions().timeZone, yesterday);
  onSubmit(form, run);
}
