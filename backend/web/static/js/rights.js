// The member's rights over their data: download everything kept about them (one JSON file),
// give or withdraw marketing consent per channel, and erase the account (confirmed with a
// one-time code texted to them; the points are forfeited).

import { busy, byId, onSubmit, say, show } from './dom.js';
import { inZone } from './format.js';
import { t, wordFor } from './i18n.js';

const CHANNELS = ['push', 'sms', 'email'];

// The erasure form's own words for some problem codes (erasure.<code>), else the message
// api.js made (the catalogue's problem.<code>, else the server's).
function worded(error) {
  return wordFor('erasure', error.code, error.message);
}

export class Rights {
  // onErased(result): the account is gone; the page signs out.
  constructor(api, onErased) {
    this.api = api;
    this.onErased = onErased;
    this.zone = null;
    this.channels = [];
    this.message = byId('data-message');
    this.consentMessage = byId('consent-message');
    this.eraseForm = byId('erase-form');
    this.eraseMessage = byId('erase-message');
    byId('export-data').addEventListener('click', (event) =>
      busy(event.currentTarget, () => this.download()),
    );
    for (const channel of CHANNELS) {
      byId(`consent-${channel}`).addEventListener('change', (event) =>
        this.change(channel, event.currentTarget),
      );
    }
    byId('erase-send-code').addEventListener('click', (event) =>
      busy(event.currentTarget, () => this.sendCode()),
    );
    onSubmit(this.eraseForm, () => this.erase());
  }

  setZone(zone) {
    this.zone = zone;
    this.renderConsents();
  }

  clear() {
    this.zone = null;
    this.channels = [];
    this.eraseForm.reset();
    show(byId('erase-step'), false);
    for (const channel of CHANNELS) {
      byId(`consent-${channel}`).checked = false;
      byId(`consent-${channel}-at`).textContent = '';
    }
    say(this.message, '');
    say(this.consentMessage, '');
    say(this.eraseMessage, '');
  }

  async reload() {
    const consents = await this.api.get('/v1/me/consents');
    this.channels = consents.channels;
    this.renderConsents();
  }

  renderConsents() {
    for (const state of this.channels) {
      const box = document.getElementById(`consent-${state.channel}`);
      if (!box) continue;
      box.checked = state.given;
      byId(`consent-${state.channel}-at`).textContent = state.at
        ? t(state.given ? 'member.consent.given' : 'member.consent.withdrawn', { at: inZone(state.at, this.zone) })
        : t('member.consent.never');
    }
  }

  async change(channel, box) {
    say(this.consentMessage, '');
    const given = box.checked;
    box.disabled = true;
    try {
      const consents = await this.api.request('/v1/me/consents', {
        method: 'PUT',
        body: { [channel]: given },
      });
      this.channels = consents.channels;
      this.renderConsents();
      say(this.consentMessage, t('common.saved'), 'ok');
    } catch (error) {
      box.checked = !given;
      say(this.consentMessage, error.message);
    } finally {
      box.disabled = false;
    }
  }

  async download() {
    say(this.message, '');
    try {
      const data = await this.api.get('/v1/me/export');
      const blob = new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' });
      const url = URL.createObjectURL(blob);
      const link = document.createElement('a');
      link.href = url;
      link.download = `astrocoffee-my-data-${String(data.exported_at || '').slice(0, 10) || 'export'}.json`;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      say(this.message, t('member.data.downloaded'), 'ok');
    } catch (error) {
      say(this.message, error.message);
    }
  }

  async sendCode() {
    say(this.eraseMessage, '');
    try {
      await this.api.post('/v1/me/erasure/code');
      show(byId('erase-step'), true);
      say(this.eraseMessage, t('member.erase.code_sent'), 'ok');
      this.eraseForm.elements.code.focus();
    } catch (error) {
      say(this.eraseMessage, worded(error));
    }
  }

  async erase() {
    say(this.eraseMessage, '');
    const code = this.eraseForm.elements.code.value.trim();
    if (!/^[0-9]{6}$/.test(code)) {
      say(this.eraseMessage, t('common.enter_code'));
      this.eraseForm.elements.code.focus();
      return;
    }
    if (!this.eraseForm.elements.understood.checked) {
      say(this.eraseMessage, t('member.erase.tick_box'));
      this.eraseForm.elements.understood.focus();
      return;
    }
    try {
      const result = await busy(byId('erase-submit'), () =>
        this.api.post('/v1/me/erasure', { code }),
      );
      this.onErased(result);
    } catch (error) {
      say(this.eraseMessage, worded(error));
    }
  }
}
