// The member page: log in with phone and code, then the card, balance, offers and history,
// kept live by the member's event stream; every time on it in the member's own time zone.

import { ApiClient } from './api.js';
import { busy, byId, say, show, showConnection } from './dom.js';
import { Details } from './details.js';
import { normalisePhone, PHONE, zoneLabel } from './format.js';
import { History } from './history.js';
import { languageSwitch, t } from './i18n.js';
import { NotificationSettings } from './notifications.js';
import { Offers } from './offers.js';
import { Profile } from './profile.js';
import { pushDevice, PushSwitch } from './push.js';
import { QrCode } from './qr.js';
import { Rights } from './rights.js';
import { Stream } from './stream.js';

const api = new ApiClient('astrocoffee.member');
const history = new History(api, byId('history'), byId('history-more'));
const details = new Details(api, (me) => profile.render(me));
const profile = new Profile(api, (me) => {
  details.render(me);
  byId('history-zone').textContent = t('common.times_in', { zone: zoneLabel(me.time_zone) });
  if (me.time_zone !== history.zone) history.setZone(me.time_zone);
  if (me.time_zone !== offers.zone) offers.setZone(me.time_zone);
  if (me.time_zone !== rights.zone) rights.setZone(me.time_zone);
});
const rights = new Rights(api, () => {
  // The account is gone: so are its sessions; sign out here and say so.
  api.forget();
  showLogin('');
  say(loginStatus, t('member.erase.done'), 'ok');
});
const offers = new Offers(api, byId('offers'), byId('offers-empty'), byId('offers-message'), () =>
  quietly(profile.reload()),
);
const qr = new QrCode(api, byId('qr'), byId('qr-note'));
const push = new PushSwitch(api);
const notifications = new NotificationSettings(api);
const loginForm = byId('login-form');
const loginError = byId('login-error');
const loginStatus = byId('login-status');
const viewMessage = byId('member-message');

// Errors of background refreshes go to the message line under the card.
function quietly(promise) {
  return Promise.resolve(promise).then(
    () => say(viewMessage, ''),
    (error) => say(viewMessage, error.message),
  );
}

let meTimer = null;
function reloadProfileSoon() {
  clearTimeout(meTimer);
  meTimer = setTimeout(() => quietly(profile.reload()), 300);
}

async function streamUrl() {
  const token = await api.freshToken();
  if (!token) return null;
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  // This browser's push device, if registered: push then skips what this page showed.
  const device = pushDevice();
  const named = device ? `&device=${encodeURIComponent(device)}` : '';
  return `${scheme}//${location.host}/v1/ws?token=${encodeURIComponent(token)}${named}`;
}

const stream = new Stream(streamUrl, {
  onState: showConnection,
  onReady: () => {
    quietly(profile.reload());
    quietly(offers.reload());
    qr.refreshIfStale();
  },
  onResync: () => {
    quietly(profile.reload());
    quietly(offers.reload());
    quietly(history.reload());
  },
  onEvent: (event) => {
    switch (event.type) {
      case 'balance.updated':
        profile.applyBalance(event.data, event.seq);
        reloadProfileSoon(); // tier progress and expiring points move with the balance
        break;
      case 'transaction.created':
        history.prepend(event.data, event.ts);
        break;
      case 'offer.available':
      case 'offer.expired':
        quietly(offers.reload());
        break;
      case 'tier.changed':
      case 'stamps.updated':
      case 'order.updated':
      case 'hold.updated':
        quietly(profile.reload());
        break;
      default:
        break;
    }
  },
  onUnauthorized: () => api.refresh(),
  onDenied: () => endSession(t('api.session_ended')),
});

function showLogin(message = '') {
  stream.stop();
  qr.stop();
  clearTimeout(meTimer);
  profile.clear();
  history.clear();
  offers.clear();
  details.clear();
  rights.clear();
  notifications.clear();
  byId('history-zone').textContent = '';
  say(viewMessage, '');
  show(byId('member-view'), false);
  show(byId('log-out'), false);
  show(byId('login'), true);
  say(loginStatus, '');
  say(loginError, message);
}

function showMember() {
  say(loginError, '');
  say(loginStatus, '');
  show(byId('login'), false);
  show(byId('member-view'), true);
  show(byId('log-out'), true);
  stream.start();
  qr.start();
  quietly(
    Promise.all([
      profile.reload(),
      history.reload(),
      offers.reload(),
      rights.reload(),
      push.reload(),
      notifications.reload(),
    ]),
  );
}

function endSession(message) {
  api.forget();
  showLogin(message);
}

api.onSessionEnd = (message) => showLogin(message);

function phoneOrComplain() {
  const phone = normalisePhone(loginForm.elements.phone.value);
  if (!PHONE.test(phone)) {
    say(loginError, t('member.login.bad_phone'));
    loginForm.elements.phone.focus();
    return null;
  }
  return phone;
}

async function sendCode() {
  say(loginError, '');
  say(loginStatus, '');
  const phone = phoneOrComplain();
  if (!phone) return;
  try {
    await busy(byId('send-code'), () => api.post('/v1/auth/otp', { phone }, { auth: false }));
    say(loginStatus, t('member.login.code_sent', { phone }), 'ok');
    loginForm.elements.code.focus();
  } catch (error) {
    say(loginError, error.message);
  }
}

async function logIn() {
  say(loginError, '');
  const phone = phoneOrComplain();
  if (!phone) return;
  const code = loginForm.elements.code.value.trim();
  if (!/^[0-9]{6}$/.test(code)) {
    say(loginError, t('common.enter_code'));
    loginForm.elements.code.focus();
    return;
  }
  try {
    await busy(byId('log-in'), () => api.logIn('/v1/auth/token', { phone, code }));
    loginForm.elements.code.value = '';
    showMember();
  } catch (error) {
    say(loginError, error.message);
  }
}

byId('send-code').addEventListener('click', () => sendCode());
// Both buttons are disabled in the markup until this script handles the form.
byId('send-code').disabled = false;
byId('log-in').disabled = false;
loginForm.addEventListener('submit', (event) => {
  event.preventDefault();
  // Enter in the phone field before any code is typed sends the code.
  if (!loginForm.elements.code.value.trim()) sendCode();
  else logIn();
});

byId('history-more').addEventListener('click', (event) =>
  busy(event.currentTarget, () => history.next()).catch((error) => say(viewMessage, error.message)),
);

byId('log-out').addEventListener('click', async (event) => {
  await busy(event.currentTarget, () => api.logOut());
  showLogin('');
  byId('login-form').elements.phone.focus();
});

languageSwitch(byId('language'));
showConnection('offline');
if (api.loggedIn) showMember();
else showLogin();
