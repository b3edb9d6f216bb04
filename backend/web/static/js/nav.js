// The staff console's navigation: which pages there are, who may open each (the API refuses
// anyone else anyway), and where the login sends a person back to. Kept apart from
// console.js so that the dashboard (which has its own API client) can use it too.

import { el } from './dom.js';
import { t } from './i18n.js';

// Where each console page is, and who may open it (the API refuses anyone else anyway).
const PAGES = [
  { path: '/staff', key: 'console.dashboard', roles: ['barista', 'manager', 'admin'] },
  { path: '/staff/reports', key: 'console.reports', roles: ['manager', 'admin'] },
  { path: '/staff/rules', key: 'console.rules', roles: ['manager', 'admin'] },
  { path: '/staff/catalogue', key: 'console.catalogue', roles: ['manager', 'admin'] },
  { path: '/staff/people', key: 'console.people', roles: ['admin'] },
  { path: '/staff/reconciliation', key: 'console.reconciliation', roles: ['admin'] },
  { path: '/staff/dead-letters', key: 'console.dead_letters', roles: ['admin'] },
];

// The links `role` may follow, the current page marked (the dashboard puts them in its own
// top bar with this too).
export function consoleNav(nav, role) {
  nav.replaceChildren(
    ...PAGES.filter((page) => page.roles.includes(role)).map((page) =>
      el('a', { href: page.path, 'aria-current': page.path === location.pathname ? 'page' : null }, t(page.key)),
    ),
  );
  nav.setAttribute('aria-label', t('console.nav'));
}

// Where the dashboard's login sends the person next: a console page they came from.
export function nextPage() {
  const next = new URLSearchParams(location.search).get('next') || '';
  return /^\/staff\/[a-z-]+(\?[\w=&%.-]*)?$/.test(next) ? next : null;
}
