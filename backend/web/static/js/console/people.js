// Staff management (admins): everyone who works in the chain with their role, stores and
// status; change a role, deactivate or reactivate, end a lock after failed logins, and add
// someone new.

import { busy, byId, el, onSubmit, say } from '../dom.js';
import { api, openConsolePage } from './page.js';
import { pagedTable } from './paged.js';
import { dateTime } from '../format.js';
import { t } from '../i18n.js';

const ROLES = ['barista', 'manager', 'admin'];
// A role's choices, in each person's row and in the form that adds someone.
const roleOptions = () => ROLES.map((name) => el('option', { value: name }, t(`staff.role.${name}`)));
const body = byId('people').tBodies[0];
const message = byId('people-message');
const form = byId('hire-form');
let stores = new Map();

function storeNames(ids) {
  return ids.map((id) => stores.get(id)?.name ?? id).join(', ') || '—';
}

function status(person) {
  if (!person.active) return t('people.inactive');
  if (person.locked_until && new Date(person.locked_until) > new Date()) return t('people.locked', { until: dateTime(person.locked_until) });
  return t('people.active');
}

function row(person) {
  const role = el(
    'select',
    { className: 'role', 'aria-label': t('people.role_of', { name: person.name }) },
    ...roleOptions(),
  );
  role.value = person.role;
  role.addEventListener('change', () => change(person, { role: role.value }, role));
  const toggle = el('button', { type: 'button', className: 'secondary small' }, t(person.active ? 'people.deactivate' : 'people.activate'));
  toggle.addEventListener('click', () => change(person, { active: !person.active }, toggle));
  const actions = [toggle];
  if (person.locked_until) {
    const unlock = el('button', { type: 'button', className: 'secondary small' }, t('people.unlock'));
    unlock.addEventListener('click', () => act(person, unlock, () => api.post(`/v1/admin/staff/${person.id}/unlock`)));
    actions.push(unlock);
  }
  return el(
    'tr',
    { dataset: { staffId: person.id } },
    el('td', {}, person.name),
    el('td', {}, person.email),
    el('td', {}, role),
    el('td', {}, storeNames(person.store_ids)),
    el('td', { className: 'status' }, status(person)),
    el('td', { className: 'actions' }, ...actions),
  );
}

async function act(person, control, request) {
  say(message, '');
  try {
    const changed = await busy(control, request);
    byId('people').querySelector(`tr[data-staff-id="${person.id}"]`).replaceWith(row(changed));
    say(message, t('people.saved', { name: changed.name }), 'ok');
  } catch (error) {
    say(message, error.message);
    await reload();
  }
}

function change(person, update, control) {
  return act(person, control, () => api.patch(`/v1/admin/staff/${person.id}`, update));
}

const reload = pagedTable({ path: '/v1/admin/staff', body, more: byId('people-more'), message, row });

async function hire() {
  const hireMessage = byId('hire-message');
  say(hireMessage, '');
  if (!form.checkValidity()) {
    say(hireMessage, t('people.fix_fields'));
    form.querySelector(':invalid')?.focus();
    return;
  }
  const f = form.elements;
  const chosen = [...byId('hire-stores').querySelectorAll('input:checked')].map((box) => box.value);
  try {
    const person = await busy(byId('hire-submit'), () =>
      api.post('/v1/admin/staff', { name: f.name.value.trim(), email: f.email.value.trim(), password: f.password.value, role: f.role.value, store_ids: chosen }),
    );
    form.reset();
    body.append(row(person));
    say(hireMessage, t('people.hired', { name: person.name }), 'ok');
  } catch (error) {
    say(hireMessage, error.message);
  }
}

const staff = await openConsolePage(['admin']);
if (staff) {
  const listed = await api.get('/v1/admin/stores');
  stores = new Map(listed.items.map((store) => [store.id, store]));
  byId('hire-stores').replaceChildren(
    ...listed.items.map((store) =>
      el('div', { className: 'check' }, el('input', { type: 'checkbox', id: `store-${store.id}`, value: store.id }), el('label', { for: `store-${store.id}` }, store.name)),
    ),
  );
  byId('hire-role').replaceChildren(...roleOptions());
  onSubmit(form, hire);
  await reload().catch((error) => say(message, error.message));
}
