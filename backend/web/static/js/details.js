// The member's own details: the time zone the page (and their birthday, and their limits
// per day) reads in, and the birth date, which they give once: after that it is shown
// read-only, and staff at the counter correct it (PATCH /v1/me refuses a second one).

import { busy, byId, el, onSubmit, say, show } from './dom.js';
import { calendarDate, deviceZone, knownZones, localDate, zoneLabel } from './format.js';
import { t } from './i18n.js';

export class Details {
  // onSaved(me): PATCH /v1/me answers the whole profile, which the page shows at once.
  constructor(api, onSaved) {
    this.api = api;
    this.onSaved = onSaved;
    this.zone = null; // as saved
    this.edited = false; // the member is choosing: a profile reload keeps their choice
    this.zoneForm = byId('zone-form');
    this.birthForm = byId('birth-form');
    this.select = byId('time-zone');
    this.message = byId('details-message');
    this.select.addEventListener('change', () => {
      this.edited = this.select.value !== this.zone;
    });
    onSubmit(this.zoneForm, () => this.saveZone(this.select.value));
    byId('use-device-zone').addEventListener('click', () => {
      this.select.value = deviceZone();
      this.saveZone(deviceZone());
    });
    onSubmit(this.birthForm, () => this.saveBirthDate());
  }

  clear() {
    this.zone = null;
    this.edited = false;
    this.select.replaceChildren();
    this.birthForm.reset();
    show(this.birthForm, false);
    show(byId('birth-known'), false);
    show(byId('device-zone'), false);
    byId('member-zone').textContent = '';
    say(this.message, '');
  }

  render(me) {
    const zone = me.time_zone;
    if (zone !== this.zone || !this.select.options.length) {
      this.zone = zone;
      const chosen = this.edited ? this.select.value : zone;
      this.select.replaceChildren(...knownZones(zone, deviceZone()).map((name) => el('option', { value: name }, name)));
      this.select.value = chosen;
    } else if (!this.edited) {
      this.select.value = zone;
    }
    byId('member-zone').textContent = t('member.details.zone_line', { zone: zoneLabel(zone) });
    byId('device-zone-name').textContent = deviceZone();
    show(byId('device-zone'), deviceZone() !== zone);

    const known = Boolean(me.birth_date);
    show(this.birthForm, !known);
    show(byId('birth-known'), known);
    byId('birth-date-shown').textContent = known ? calendarDate(me.birth_date) : '';
    // Nobody is born after today, wherever they are.
    this.birthForm.elements.birth_date.max = localDate(zone);
  }

  async saveZone(zone) {
    say(this.message, '');
    if (!zone) {
      say(this.message, t('member.details.choose_zone'));
      this.select.focus();
      return;
    }
    try {
      const me = await busy(byId('zone-save'), () => this.api.patch('/v1/me', { time_zone: zone }));
      this.edited = false;
      this.onSaved(me);
      say(this.message, t('member.details.zone_saved', { zone: zoneLabel(me.time_zone) }), 'ok');
    } catch (error) {
      say(this.message, error.message);
    }
  }

  async saveBirthDate() {
    say(this.message, '');
    const input = this.birthForm.elements.birth_date;
    const value = input.value;
    if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || value > input.max) {
      say(this.message, t('member.details.bad_birth_date'));
      input.focus();
      return;
    }
    try {
      const me = await busy(byId('birth-save'), () => this.api.patch('/v1/me', { birth_date: value }));
      this.onSaved(me);
      say(this.message, t('member.details.birth_date_saved'), 'ok');
    } catch (error) {
      say(this.message, error.message);
    }
  }
}
