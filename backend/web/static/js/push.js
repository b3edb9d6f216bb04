// Push notifications on this device: the member turns them on, the browser asks for
// permission, the service worker (/sw.js) is registered, the browser's push service
// subscribes with the server's VAPID key, and the subscription is registered with the API
// (POST /v1/me/devices). The service worker shows what arrives (sw.js).

import { busy, byId, say } from './dom.js';
import { t } from './i18n.js';

// The id this browser was registered under for push: the member's socket names it
// (/v1/ws?device=), so that push does not tell this browser what the open page showed.
const DEVICE_KEY = 'astrocoffee.push.device';

export function pushDevice() {
  try {
    return localStorage.getItem(DEVICE_KEY);
  } catch {
    return null; // storage refused (a private window's policy): the rule just does not apply
  }
}

// The applicationServerKey as the Push API takes it: the base64url key's bytes.
function keyBytes(base64url) {
  const base64 = base64url.replace(/-/g, '+').replace(/_/g, '/');
  const raw = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(raw, (char) => char.charCodeAt(0));
}

export class PushSwitch {
  constructor(api) {
    this.api = api;
    this.button = byId('push-enable');
    this.state = byId('push-state');
    this.message = byId('push-message');
    this.button.addEventListener('click', (event) => busy(event.currentTarget, () => this.enable()));
  }

  get supported() {
    return 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
  }

  // What this device's notifications are now: on, off, blocked, or impossible here.
  async reload() {
    say(this.message, '');
    if (!this.supported) return this.show('unsupported');
    if (Notification.permission === 'denied') return this.show('blocked');
    const registration = await navigator.serviceWorker.getRegistration('/');
    const subscribed = registration && (await registration.pushManager.getSubscription());
    this.show(subscribed && Notification.permission === 'granted' ? 'on' : 'off');
  }

  show(state) {
    this.state.textContent = t(`member.push.state.${state}`);
    this.state.dataset.state = state;
    this.button.hidden = state !== 'off';
  }

  async enable() {
    say(this.message, '');
    const permission = await Notification.requestPermission();
    if (permission !== 'granted') {
      this.show(permission === 'denied' ? 'blocked' : 'off');
      say(this.message, t('member.push.not_allowed'));
      return;
    }
    try {
      const registration = await navigator.serviceWorker.register('/sw.js', { scope: '/' });
      await navigator.serviceWorker.ready;
      const { public_key: key } = await this.api.get('/v1/push/web-push-key', { auth: false });
      const subscription =
        (await registration.pushManager.getSubscription()) ||
        (await registration.pushManager.subscribe({
          userVisibleOnly: true,
          applicationServerKey: keyBytes(key),
        }));
      const device = await this.api.post('/v1/me/devices', {
        provider: 'webpush',
        subscription: subscription.toJSON(),
      });
      if (device?.id) localStorage.setItem(DEVICE_KEY, device.id);
      this.show('on');
      say(this.message, t('member.push.turned_on'), 'ok');
    } catch (error) {
      say(this.message, error.code ? error.message : t('member.push.failed'));
    }
  }
}
