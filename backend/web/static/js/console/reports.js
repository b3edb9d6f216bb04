// Reports (managers and admins): points earned and redeemed per business day over a range,
// and sales by hour on the range's last day beside the same weekday a week before, for one
// store or for all of the person's stores (the whole chain for an admin: each store in its
// own business day and local hours); for admins, the points members hold and the members per
// tier per day; and a campaign's uses, points and promoted items sold per day (the campaigns
// list links here with ?campaign=<id>). Each downloadable as CSV.

import { busy, byId, el, onSubmit, say, show } from '../dom.js';
import { campaignChart, downloadCsv, liabilityChart, pointsByDayChart, salesByHourChart, tiersChart } from '../charts.js';
import { localDate } from '../format.js';
import { t } from '../i18n.js';
import { api, openConsolePage } from './page.js';

const CHAIN = 'chain';
const form = byId('reports-form');
const message = byId('reports-message');
let stores = [];
let campaigns = [];
let shown = null; // { base, name, from, to } of the charts on screen
let admin = false;

// The store's reports, or the chain's (the caller's stores).
const reportBase = (storeId) => (storeId === CHAIN ? '/v1/admin/reports' : `/v1/admin/stores/${storeId}/reports`);

async function showReports() {
  say(message, '');
  const f = form.elements;
  const storeId = f.store_id.value;
  const store = stores.find((s) => s.id === storeId);
  if ((!store && storeId !== CHAIN) || !f.from.value || !f.to.value) return;
  const base = reportBase(storeId);
  const range = new URLSearchParams({ from: f.from.value, to: f.to.value });
  try {
    const [points, hours, program] = await busy(byId('reports-submit'), () =>
      Promise.all([
        api.get(`${base}/points-by-day?${range}`),
        api.get(`${base}/sales-by-hour?${new URLSearchParams({ date: f.to.value })}`),
        admin ? api.get(`/v1/admin/reports/program-days?${range}`) : null,
      ]),
    );
    pointsByDayChart(byId('points-chart'), points);
    salesByHourChart(byId('by-hour-chart'), hours, (store || stores[0])?.currency);
    show(byId('by-hour-note'), storeId === CHAIN);
    if (program) {
      liabilityChart(byId('liability-chart'), program);
      tiersChart(byId('tiers-chart'), program);
    }
    shown = { base, name: storeId === CHAIN ? 'chain-' : '', from: f.from.value, to: f.to.value };
  } catch (error) {
    say(message, error.message);
  }
}

async function showCampaign() {
  const id = byId('reports-campaign').value;
  if (!id) return;
  try {
    const report = await api.get(`/v1/admin/campaigns/${encodeURIComponent(id)}/report`);
    const items = [...report.skus, ...report.categories];
    byId('campaign-items').textContent = items.length ? t('reports.campaign_items', { items: items.join(', ') }) : t('reports.campaign_no_items');
    campaignChart(byId('campaign-chart'), report);
  } catch (error) {
    say(message, error.message);
  }
}

// A CSV button: download `path()` as `filename()` once `ready()`, errors said on the page.
function csvButton(id, path, filename, ready = () => shown) {
  byId(id).addEventListener('click', (event) => {
    if (!ready()) return;
    busy(event.currentTarget, () => downloadCsv(api, path(), filename())).catch((error) => say(message, error.message));
  });
}

const staff = await openConsolePage(['manager', 'admin']);
if (staff) {
  admin = staff.role === 'admin';
  stores = (await api.get('/v1/admin/stores')).items;
  campaigns = (await api.get('/v1/admin/campaigns')).items;
  byId('reports-store').replaceChildren(
    el('option', { value: CHAIN }, t(admin ? 'reports.whole_chain' : 'reports.my_stores')),
    ...stores.map((store) => el('option', { value: store.id }, `${store.name} (${store.code})`)),
  );
  const zone = stores[0]?.time_zone || Intl.DateTimeFormat().resolvedOptions().timeZone;
  form.elements.to.value = localDate(zone);
  form.elements.from.value = localDate(zone, new Date(Date.now() - 29 * 86_400_000));
  onSubmit(form, showReports);
  show(byId('program-reports'), admin);
  const range = () => new URLSearchParams({ from: shown.from, to: shown.to });
  csvButton('points-csv', () => `${shown.base}/points-by-day.csv?${range()}`, () => `${shown.name}points-by-day-${shown.from}-${shown.to}.csv`);
  csvButton('by-hour-csv', () => `${shown.base}/sales-by-hour.csv?${new URLSearchParams({ date: shown.to })}`, () => `${shown.name}sales-by-hour-${shown.to}.csv`);
  csvButton('liability-csv', () => `/v1/admin/reports/points-liability.csv?${range()}`, () => `points-liability-${shown.from}-${shown.to}.csv`);
  csvButton('tiers-csv', () => `/v1/admin/reports/members-by-tier.csv?${range()}`, () => `members-by-tier-${shown.from}-${shown.to}.csv`);
  const campaignSelect = byId('reports-campaign');
  campaignSelect.replaceChildren(...campaigns.map((c) => el('option', { value: c.id }, c.name)));
  const asked = new URLSearchParams(location.search).get('campaign');
  if (campaigns.some((c) => c.id === asked)) campaignSelect.value = asked;
  campaignSelect.addEventListener('change', showCampaign);
  csvButton('campaign-csv', () => `/v1/admin/campaigns/${encodeURIComponent(campaignSelect.value)}/report.csv`, () => `campaign-${campaignSelect.value}.csv`, () => campaignSelect.value);
  await showReports();
  await showCampaign();
  if (asked) byId('campaign-title').scrollIntoView();
}
