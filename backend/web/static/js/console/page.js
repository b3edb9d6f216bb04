// The staff console's pages beside the dashboard (program rules, staff, reconciliation, dead
// letters, a member): one top bar and navigation, built here so that no page repeats them,
// and the dashboard's session (this tab's sessionStorage). A page opened without a session
// sends the person to the dashboard's login, which brings them back (?next=).

import { ApiClient } from '../api.js';
import { busy, byId, el, say } from '../dom.js';
import { languageSwitch, t } from '../i18n.js';
import { consoleNav } from '../nav.js';

export const api = new ApiClient('astrocoffee.staff');

function topBar() {
  const header = byId('console-header');
  const language = el('select', { id: 'language', className: 'language', 'aria-label': t('language.label') });
  const logOut = el('button', { type: 'button', id: 'log-out', className: 'secondary' }, t('common.log_out'));
  header.replaceChildren(
    el('h1', { className: 'brand' }, t('brand'), ' ', el('span', { className: 'muted' }, t('staff.brand_suffix'))),
    language,
    logOut,
  );
  languageSwitch(language);
  logOut.addEventListener('click', async () => {
    await busy(logOut, () => api.logOut());
    location.assign('/staff');
  });
}

// Open a console page for `roles`: the signed-in staff user (GET /v1/staff/me), or null when
// there is none (sent to the login) or their role may not use the page (said on it).
export async function openConsolePage(roles) {
  topBar();
  if (!api.loggedIn) {
    location.assign(`/staff?${new URLSearchParams({ next: location.pathname + location.search })}`);
    return null;
  }
  api.onSessionEnd = () => location.assign('/staff');
  const message = byId('page-message');
  let staff;
  try {
    staff = await api.get('/v1/staff/me');
  } catch (error) {
    say(message, error.message);
    return null;
  }
  consoleNav(byId('console-nav'), staff.role);
  if (!roles.includes(staff.role)) {
    say(message, t('console.not_allowed'));
    return null;
  }
  byId('page-body').hidden = false;
  return staff;
}
