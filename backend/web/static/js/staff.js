// The staff dashboard: log in, pick a store, follow its live sales and today's figures,
// look members up and adjust points, manage terminals (managers) and campaigns (admins).
// Every time on it is on the selected store's clock (its IANA zone), whatever the zone of
// the computer showing it; the page names that zone.

import { ApiClient } from './api.js';
import { Approvals } from './approvals.js';
import { busy, byId, el, say, setText, show, showConnection } from './dom.js';
import { zoneLabel } from './format.js';
import { languageSwitch, t } from './i18n.js';
import { consoleNav, nextPage } from './nav.js';
import { Campaigns } from './campaigns.js';
import { Feed } from './feed.js';
import { Hourly } from './hourly.js';
import { Lookup } from './lookup.js';
import { Stats } from './stats.js';
import { Stream } from './stream.js';
import { Terminals } from './terminals.js';

const STORE_KEY = 'astrocoffee.staff.store';
const api = new ApiClient('astrocoffee.staff');
const stats = new Stats(api);
const feed = new Feed(byId('feed'), byId('feed-empty'));
const lookup = new Lookup(api);
const terminals = new Terminals(api);
const campaigns = new Campaigns(api);
const approvals = new Approvals(api);
const hourly = new Hourly(api);
const loginForm = byId('staff-login-form');
const loginError = byId('staff-login-error');
const message = byId('staff-message');
const storeSelect = byId('store-select');

let staff = null; // GET /v1/staff/me
let stores = [];
let storeId = null;

function quietly(promise) {
  return Promise.resolve(promise).catch((error) => say(message, error.message));
}

const isManager = () => staff && (staff.role === 'manager' || staff.role === 'admin');
const isAdmin = () => staff && staff.role === 'admin';

async function streamUrl() {
  if (!storeId) return null;
  const token = await api.freshToken();
  if (!token) return null;
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const query = new URLSearchParams({ store_id: storeId, token });
  return `${scheme}//${location.host}/v1/ws?${query}`;
}

const stream = new Stream(streamUrl, {
  onState: showConnection,
  // (Re)connected or resynced: what happened meanwhile is in the figures and the chart.
  onReady: () => {
    quietly(stats.load());
    hourly.soon();
  },
  onResync: () => {
    quietly(stats.load());
    hourly.soon();
  },
  onEvent: (event) => {
    if (event.type === 'sale.completed') {
      feed.add(event.data, event.ts);
      hourly.soon();
    }
    else if (event.type === 'stats.updated') stats.apply(event.data);
  },
  onUnauthorized: () => api.refresh(),
  onDenied: () => say(message, t('staff.stream_denied')),
});

function selectStore(id) {
  const store = stores.find((s) => s.id === id);
  if (!store) return;
  storeId = id;
  storeSelect.value = id;
  sessionStorage.setItem(STORE_KEY, id);
  say(message, '');
  feed.clear(store.time_zone);
  stats.follow(store);
  hourly.follow(isManager() ? store : null);
  showZone(store);
  stream.restart();
  quietly(stats.load());
}

// The selected store's clock, everywhere on the page (again when its zone changes).
function showZone(store) {
  setText('store-zone', t('common.times_in', { zone: zoneLabel(store.time_zone) }));
  feed.setZone(store.time_zone);
  campaigns.setZone(store.time_zone);
  approvals.setZone(store.time_zone);
  if (isManager()) quietly(terminals.load(store.id, store.time_zone));
}

stats.onZone = (store) => {
  stores = stores.map((s) => (s.id === store.id ? { ...s, time_zone: store.time_zone } : s));
  showZone(store);
};

async function loadStores() {
  const list = await api.get('/v1/admin/stores');
  stores = list.items;
  storeSelect.replaceChildren(
    ...stores.map((s) => el('option', { value: s.id }, `${s.name} (${s.code})`)),
  );
  if (isAdmin()) campaigns.setStores(stores);
  if (!stores.length) {
    say(message, t('staff.no_store'));
    return;
  }
  const saved = sessionStorage.getItem(STORE_KEY);
  selectStore(stores.some((s) => s.id === saved) ? saved : stores[0].id);
}

async function showStaff() {
  say(loginError, '');
  show(byId('staff-login'), false);
  show(byId('staff-view'), true);
  show(byId('log-out'), true);
  try {
    staff = await api.get('/v1/staff/me');
  } catch (error) {
    if (api.loggedIn) say(message, error.message);
    return;
  }
  byId('whoami').textContent = `${staff.name} · ${t(`staff.role.${staff.role}`)}`;
  consoleNav(byId('console-nav'), staff.role);
  lookup.reset(isManager());
  show(byId('terminals-section'), isManager());
  show(byId('campaigns-section'), isAdmin());
  show(byId('approvals-section'), isManager());
  if (isManager()) quietly(approvals.load(staff.id));
  if (isAdmin()) quietly(campaigns.load());
  await quietly(loadStores());
}

function showLogin(text = '') {
  stream.stop();
  staff = null;
  stores = [];
  storeId = null;
  storeSelect.replaceChildren();
  feed.clear();
  stats.clear();
  hourly.follow(null);
  setText('store-zone', '');
  lookup.reset(false);
  terminals.clear();
  campaigns.clear();
  approvals.clear();
  show(byId('approvals-section'), false);
  say(message, '');
  byId('whoami').textContent = '';
  byId('console-nav').replaceChildren();
  show(byId('staff-view'), false);
  show(byId('log-out'), false);
  show(byId('staff-login'), true);
  say(loginError, text);
}

api.onSessionEnd = (text) => showLogin(text);

loginForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  say(loginError, '');
  const email = loginForm.elements.email.value.trim();
  const password = loginForm.elements.password.value;
  if (!email || !password) {
    say(loginError, t('staff.login.missing'));
    (email ? loginForm.elements.password : loginForm.elements.email).focus();
    return;
  }
  try {
    await busy(byId('staff-log-in'), () => api.logIn('/v1/staff/token', { email, password }));
    loginForm.elements.password.value = '';
    // Sent here to log in from a console page: back to it.
    const next = nextPage();
    if (next) {
      location.assign(next);
      return;
    }
    await showStaff();
  } catch (error) {
    say(loginError, error.message);
  }
});

storeSelect.addEventListener('change', () => selectStore(storeSelect.value));
// The login button is disabled in the markup until this script handles the form: a press
// before then must not submit it natively (the form posts nothing anywhere).
byId('staff-log-in').disabled = false;

byId('log-out').addEventListener('click', async (event) => {
  await busy(event.currentTarget, () => api.logOut());
  sessionStorage.removeItem(STORE_KEY);
  showLogin('');
  loginForm.elements.email.focus();
});

languageSwitch(byId('language'));
showConnection('offline');
if (api.loggedIn) showStaff();
else showLogin();
