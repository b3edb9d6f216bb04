// A store's POS terminals (managers, admins): list, create (the key is shown once), revoke.

import { busy, byId, el, onSubmit, say, show } from './dom.js';
import { dateTime } from './format.js';
import { t } from './i18n.js';

export class Terminals {
  constructor(api) {
    this.api = api;
    this.storeId = null;
    this.zone = undefined; // the store's: terminal times read on its clock
    this.list = byId('terminals');
    this.form = byId('terminal-form');
    this.message = byId('terminal-message');
    onSubmit(this.form, () => this.create());
    this.list.addEventListener('click', (event) => {
      const button = event.target.closest('button.revoke');
      if (button) this.revoke(button);
    });
  }

  clear() {
    this.storeId = null;
    this.list.replaceChildren();
    this.form.reset();
    this._hideKey();
    say(this.message, '');
  }

  async load(storeId, zone) {
    this.clear();
    this.storeId = storeId;
    this.zone = zone;
    const page = await this.api.get(`/v1/admin/stores/${encodeURIComponent(storeId)}/terminals`);
    if (storeId !== this.storeId) return;
    // Keep a terminal created while the list was loading.
    const listed = new Set(page.items.map((t) => t.id));
    const created = [...this.list.children].filter((li) => !listed.has(li.dataset.terminalId));
    this.list.replaceChildren(...page.items.map((terminal) => this._row(terminal)), ...created);
    byId('terminals-empty').hidden = this.list.children.length > 0;
  }

  _row(terminal) {
    const revoked = Boolean(terminal.revoked_at);
    return el(
      'li',
      { dataset: { terminalId: terminal.id }, className: revoked ? 'revoked' : '' },
      el(
        'span',
        { className: 'info' },
        el('span', { className: 'name' }, terminal.name),
        el(
          'span',
          { className: 'note' },
          `${t('staff.terminals.key', { prefix: terminal.key_prefix })} · ${revoked ? t('staff.terminals.revoked_at', { at: dateTime(terminal.revoked_at, this.zone) }) : t('staff.terminals.since', { at: dateTime(terminal.created_at, this.zone) })}`,
        ),
      ),
      el(
        'button',
        { type: 'button', className: 'revoke danger', disabled: revoked, 'aria-label': t('staff.terminals.revoke_label', { name: terminal.name }) },
        revoked ? t('staff.terminals.revoked') : t('staff.terminals.revoke'),
      ),
    );
  }

  _hideKey() {
    byId('new-terminal-key').textContent = '';
    byId('new-terminal-name').textContent = '';
    show(byId('new-terminal'), false);
  }

  async create() {
    say(this.message, '');
    this._hideKey();
    const name = this.form.elements.name.value.trim();
    if (!name) {
      say(this.message, t('staff.terminals.missing_name'));
      this.form.elements.name.focus();
      return;
    }
    const storeId = this.storeId;
    try {
      const created = await busy(byId('terminal-create'), () =>
        this.api.post(`/v1/admin/stores/${encodeURIComponent(storeId)}/terminals`, { name }),
      );
      if (storeId !== this.storeId) return;
      this.form.reset();
      this.list.append(this._row(created.terminal));
      byId('terminals-empty').hidden = true;
      byId('new-terminal-name').textContent = created.terminal.name;
      byId('new-terminal-key').textContent = created.api_key;
      show(byId('new-terminal'), true);
    } catch (error) {
      say(this.message, error.message);
    }
  }

  async revoke(button) {
    const row = button.closest('li[data-terminal-id]');
    say(this.message, '');
    try {
      const terminal = await busy(button, () =>
        this.api.post(`/v1/admin/terminals/${encodeURIComponent(row.dataset.terminalId)}/revoke`),
      );
      row.replaceWith(this._row(terminal));
      say(this.message, t('staff.terminals.revoked_done', { name: terminal.name }), 'ok');
    } catch (error) {
      say(this.message, error.message);
    }
  }
}
