// The member's QR code: a single-use token valid about 60 s, fetched as SVG (with the
// bearer header, so no <img src>) and put into the page; renewed every 50 s while visible.

import { t } from './i18n.js';

const EVERY_MS = 50_000;
const SVG_NS = 'http://www.w3.org/2000/svg';

// Parse SVG markup into a node safe to insert: only the <svg>, no scripts or handlers.
export function svgNode(markup) {
  const doc = new DOMParser().parseFromString(markup, 'image/svg+xml');
  const svg = doc.documentElement;
  if (!svg || svg.namespaceURI !== SVG_NS || svg.localName !== 'svg' || doc.querySelector('parsererror')) {
    throw new Error(t('qr.unreadable'));
  }
  for (const bad of svg.querySelectorAll('script, foreignObject')) bad.remove();
  for (const node of [svg, ...svg.querySelectorAll('*')]) {
    for (const attr of [...node.attributes]) {
      if (/^on/i.test(attr.name) || attr.name === 'style' || /href$/i.test(attr.name)) {
        node.removeAttribute(attr.name);
      }
    }
  }
  // Scale with CSS: give it a viewBox from its own size.
  const width = parseFloat(svg.getAttribute('width'));
  const height = parseFloat(svg.getAttribute('height'));
  if (!svg.hasAttribute('viewBox') && width > 0 && height > 0) {
    svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  }
  svg.removeAttribute('width');
  svg.removeAttribute('height');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', t('qr.label'));
  return document.importNode(svg, true);
}

export class QrCode {
  constructor(api, container, note) {
    this.api = api;
    this.container = container;
    this.note = note;
    this.timer = null;
    this.fetchedAt = 0;
    this.running = false;
    this._visibility = () => {
      if (document.visibilityState === 'visible') this.refreshIfStale();
    };
  }

  start() {
    if (this.running) return;
    this.running = true;
    document.addEventListener('visibilitychange', this._visibility);
    this.timer = setInterval(() => {
      if (document.visibilityState === 'visible') this.refresh();
    }, EVERY_MS);
    this.refresh();
  }

  stop() {
    this.running = false;
    clearInterval(this.timer);
    document.removeEventListener('visibilitychange', this._visibility);
    this.container.replaceChildren();
    this.note.textContent = '';
  }

  // After a reconnect: the code shown may have expired meanwhile.
  refreshIfStale() {
    if (this.running && Date.now() - this.fetchedAt > EVERY_MS - 5_000) this.refresh();
  }

  async refresh() {
    try {
      const markup = await this.api.get('/v1/me/qr.svg', { as: 'text' });
      if (!this.running) return;
      this.container.replaceChildren(svgNode(markup));
      this.fetchedAt = Date.now();
      this.note.textContent = t('qr.note');
    } catch (error) {
      if (this.running) this.note.textContent = t('qr.unavailable', { reason: error.message });
    }
  }
}
