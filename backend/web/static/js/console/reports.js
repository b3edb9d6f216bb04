// Reports (managers and admins): a store's points earned and redeemed per business day over
// a range, and its sales by hour on the range's last day beside the same weekday a week
// before; each downloadable as CSV.

import { busy, byId, el, say } from '../dom.js';
import { downloadCsv, pointsByDayChart, salesByHourChart } from '../charts.js';
import { localDate } from '../format.js';
import { api, openConsolePage } from './page.js';

const form = byId('reports-form');
const message = byId('reports-message');
let stores = [];
let shown = null; // { store, from, to } of the charts on screen

const reportPath = (store, name) => `/v1/admin/stores/${store.id}/reports/${name}`;

async function show() {
  say(message, '');
  const f = form.elements;
  const store = stores.find((s) => s.id === f.store_id.value);
  if (!store || !f.from.value || !f.to.value) return;
  const range = new URLSearchParams({ from: f.from.value, to: f.to.value });
  try {
    const [points, hours] = await busy(byId('reports-submit'), () =>
      Promise.all([
        api.get(`${reportPath(store, 'points-by-day')}?${range}`),
        api.get(`${reportPath(store, 'sales-by-hour')}?${new URLSearchParams({ date: f.to.value })}`),
      ]),
    );
    pointsByDayChart(byId('points-chart'), points);
    salesByHourChart(byId('by-hour-chart'), hours, store.currency);
    shown = { store, from: f.from.value, to: f.to.value };
  } catch (error) {
    say(message, error.message);
  }
}

function csv(name, query, filename) {
  if (!shown) return Promise.resolve();
  return downloadCsv(api, `${reportPath(shown.store, `${name}.csv`)}?${new URLSearchParams(query)}`, filename);
}

const staff = await openConsolePage(['manager', 'admin']);
if (staff) {
  stores = (await api.get('/v1/admin/stores')).items;
  byId('reports-store').replaceChildren(...stores.map((store) => el('option', { value: store.id }, `${store.name} (${store.code})`)));
  const zone = stores[0]?.time_zone || Intl.DateTimeFormat().resolvedOptions().timeZone;
  form.elements.to.value = localDate(zone);
  form.elements.from.value = localDate(zone, new Date(Date.now() - 29 * 86_400_000));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    show();
  });
  byId('points-csv').addEventListener('click', (event) =>
    busy(event.currentTarget, () => csv('points-by-day', { from: shown.from, to: shown.to }, `points-by-day-${shown.from}-${shown.to}.csv`)).catch((error) => say(message, error.message)),
  );
  byId('by-hour-csv').addEventListener('click', (event) =>
    busy(event.currentTarget, () => csv('sales-by-hour', { date: shown.to }, `sales-by-hour-${shown.to}.csv`)).catch((error) => say(message, error.message)),
  );
  if (stores.length) await show();
}
