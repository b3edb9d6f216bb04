// Small DOM helpers: find by id, build elements, show and hide, messages.

import { t } from './i18n.js';

export function byId(id) {
  const found = document.getElementById(id);
  if (!found) throw new Error(`#${id} is missing from the page`); // for developers
  return found;
}

// el('li', {className: 'x', dataset: {id: '1'}}, 'text', child, ...)
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key === 'className' || key === 'textContent' || key === 'type' || key === 'disabled' || key === 'value') node[key] = value;
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  node.append(...children.filter((child) => child !== null && child !== undefined && child !== false));
  return node;
}

export function show(node, visible = true) {
  node.hidden = !visible;
}

export function setText(id, text) {
  byId(id).textContent = text;
}

// A message region (aria-live): text, or '' to clear. kind: 'error' or 'ok'.
export function say(node, text, kind = 'error') {
  node.textContent = text || '';
  node.classList.toggle('error', kind === 'error' && Boolean(text));
  node.classList.toggle('ok', kind === 'ok' && Boolean(text));
}

// A form the script sends itself: submitting it (its button, Enter) runs `action`, and the
// browser does not navigate.
export function onSubmit(form, action) {
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    action();
  });
}

// Disable a button while an async action runs; errors go to `messages` (or are swallowed).
export async function busy(button, action) {
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    return await action();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
}

// The connection indicator: its state is exactly "live", "reconnecting" or "offline"; its
// words are the page's language's.
export function showConnection(state) {
  const node = byId('connection');
  node.textContent = t(`connection.${state}`);
  node.dataset.state = state;
}
