// The member's notification settings (GET/PUT /v1/me/notifications): each kind on or off,
// the quiet hours (local "HH:MM"; the same time twice: none) and the language notifications
// are written in. They hold for every device of the member; turning push on for this browser
// is push.js.

import { busy, byId, el, onSubmit, say } from './dom.js';
import { t } from './i18n.js';

// The kinds, in the order the form lists them: one checkbox each (#notify-<kind>, named <kind>).
const KINDS = ['points_earned', 'reward_earned', 'offer_live', 'points_expiring', 'birthday', 'tier_up'];
const CLOCK = /^([01][0-9]|2[0-3]):[0-5][0-9]$/;

function kindCheck(kind) {
  const id = `notify-${kind}`;
  return el(
    'div',
    { className: 'check' },
    el('input', { id, name: kind, type: 'checkbox' }),
    el('label', { for: id }, t(`member.notify.kind.${kind}`)),
  );
}

export class NotificationSettings {
  constructor(api) {
    this.api = api;
    this.form = byId('notify-form');
    this.message = byId('notify-message');
    this.start = byId('notify-quiet-start');
    this.end = byId('notify-quiet-end');
    this.language = byId('notify-language');
    byId('notify-kinds').append(...KINDS.map(kindCheck));
    onSubmit(this.form, () => busy(byId('notify-save'), () => this.save()));
  }

  clear() {
    this.form.reset();
    say(this.message, '');
  }

  async reload() {
    this.render(await this.api.get('/v1/me/notifications'));
  }

  render(settings) {
    for (const kind of KINDS) byId(`notify-${kind}`).checked = settings.kinds[kind] !== false;
    this.start.value = settings.quiet_hours.start;
    this.end.value = settings.quiet_hours.end;
    this.language.value = settings.language;
  }

  async save() {
    say(this.message, '');
    // A time input's value is "HH:MM" (or "HH:MM:SS" where seconds were typed): minutes only.
    const start = this.start.value.slice(0, 5);
    const end = this.end.value.slice(0, 5);
    if (!CLOCK.test(start) || !CLOCK.test(end)) {
      say(this.message, t('member.notify.bad_time'));
      (CLOCK.test(start) ? this.end : this.start).focus();
      return;
    }
    const kinds = Object.fromEntries(KINDS.map((kind) => [kind, byId(`notify-${kind}`).checked]));
    try {
      const saved = await this.api.request('/v1/me/notifications', {
        method: 'PUT',
        body: { language: this.language.value, kinds, quiet_hours: { start, end } },
      });
      this.render(saved);
      say(this.message, t('common.saved'), 'ok');
    } catch (error) {
      say(this.message, error.message);
    }
  }
}
