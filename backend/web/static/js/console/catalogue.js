// The product catalogue (/staff/catalogue): its products a page at a time and the file to
// download (managers and admins); an admin replaces it with a CSV file, and a refused file is
// explained in the page's language with the row at fault (problem.catalogue_* keys).

import { busy, byId, el, say } from '../dom.js';
import { api, openConsolePage } from './page.js';
import { pagedTable } from './paged.js';
import { t } from '../i18n.js';

const body = byId('products').tBodies[0];
const message = byId('products-message');

function row(product) {
  return el('tr', { dataset: { sku: product.sku } }, el('td', {}, product.sku), el('td', {}, product.name), el('td', {}, product.category));
}

const reload = pagedTable({
  path: '/v1/admin/catalogue',
  body,
  more: byId('products-more'),
  message,
  row,
  limit: 100,
  shown: (listed) => {
    byId('catalogue-total').textContent = listed.total ? t('catalogue.total', { count: listed.total }) : t('catalogue.empty');
  },
});

// The file as the server writes it, saved by the browser (the request needs the token, so
// it is fetched here rather than followed as a link).
async function download() {
  const text = await api.get('/v1/admin/catalogue.csv', { as: 'text' });
  const link = el('a', { href: URL.createObjectURL(new Blob([text], { type: 'text/csv' })), download: 'catalogue.csv' });
  link.click();
  URL.revokeObjectURL(link.href);
}

async function upload(event) {
  event.preventDefault();
  const form = byId('catalogue-form');
  const out = byId('catalogue-message');
  const file = form.elements.file.files[0];
  say(out, '');
  if (!file) {
    say(out, t('catalogue.choose'));
    return;
  }
  try {
    // Sent as it is: the server judges its bytes (a file that is not UTF-8 is refused there).
    const loaded = await busy(byId('catalogue-send'), () => api.putFile('/v1/admin/catalogue', file, 'text/csv; charset=utf-8'));
    say(out, t('catalogue.loaded', { count: loaded.products, categories: loaded.categories }), 'ok');
    form.reset();
    await reload();
  } catch (error) {
    say(out, error.message);
  }
}

const staff = await openConsolePage(['manager', 'admin']);
if (staff) {
  if (staff.role === 'admin') {
    byId('catalogue-upload-section').hidden = false;
    byId('catalogue-form').addEventListener('submit', upload);
  }
  byId('catalogue-download').addEventListener('click', (event) => busy(event.currentTarget, download).catch((error) => say(message, error.message)));
  await reload().catch((error) => say(message, error.message));
}
