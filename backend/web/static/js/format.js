// How numbers, money, points and dates read on screen.
//
// Instants come from the API in UTC (RFC 3339); people read them in a named IANA zone: the
// store's on the staff dashboard, the member's own on the member's page, never the zone of
// the device that happens to show them. Formats follow the page's locale (i18n.js).

import { el } from './dom.js';
import { locale, t, wordFor } from './i18n.js';

const signed = new Intl.NumberFormat(locale, { signDisplay: 'exceptZero', useGrouping: 'min2' });

// A tier's name ("green", "gold", "platinum") in the page's language; an unknown one as sent.
export function tierName(tier) {
  return wordFor('tier', tier, tier || '');
}

// A change of points: "+17", "-250", "0".
export function points(n) {
  return signed.format(Number(n) || 0);
}

const currencies = new Map();

// Minor units as money of the page's locale: "RUB 350.00", "350,00 ₽".
export function money(minor, currency = 'RUB') {
  let found = currencies.get(currency);
  if (!found) {
    found = new Intl.NumberFormat(locale, { style: 'currency', currency });
    currencies.set(currency, found);
  }
  return found.format((Number(minor) || 0) / 100);
}

const STYLES = {
  dateTime: { dateStyle: 'medium', timeStyle: 'short' },
  date: { dateStyle: 'medium' },
  time: { hour: '2-digit', minute: '2-digit', second: '2-digit' },
};

const formatters = new Map();
function formatter(zone, options, inLocale = locale) {
  const key = `${inLocale}|${zone}|${JSON.stringify(options)}`;
  let found = formatters.get(key);
  if (!found) {
    found = new Intl.DateTimeFormat(inLocale, { ...options, timeZone: zone || undefined });
    formatters.set(key, found);
  }
  return found;
}

// An instant as people in `zone` read it: style 'dateTime', 'date' or 'time'. Without a
// zone (not known yet) the browser's own.
export function inZone(iso, zone, style = 'dateTime') {
  const value = new Date(iso);
  if (!iso || Number.isNaN(value.getTime())) return '';
  return formatter(zone, STYLES[style]).format(value);
}

export const dateTime = (iso, zone) => inZone(iso, zone, 'dateTime');
export const date = (iso, zone) => inZone(iso, zone, 'date');
export const time = (iso, zone) => inZone(iso, zone, 'time');

// <time datetime="…"> showing `iso` in `zone`; retime() shows it again in another zone.
export function timeEl(iso, zone, style = 'dateTime') {
  return el('time', { datetime: iso, dataset: { style } }, inZone(iso, zone, style));
}

export function retime(root, zone) {
  for (const node of root.querySelectorAll('time[data-style]')) {
    node.textContent = inZone(node.dateTime, zone, node.dataset.style);
  }
}

// A calendar date ("2026-12-07": a business day, a birth date) as words; it is no instant,
// so no zone moves it.
export function calendarDay(day) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(String(day || ''))) return '';
  return formatter('UTC', { weekday: 'short', year: 'numeric', month: 'short', day: 'numeric' }).format(new Date(`${day}T00:00:00Z`));
}

export function calendarDate(day) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(String(day || ''))) return '';
  return formatter('UTC', STYLES.date).format(new Date(`${day}T00:00:00Z`));
}

// "UTC+10", "UTC−3:30", "UTC": the zone's offset from UTC at `at`.
export function offset(zone, at = new Date()) {
  const name = formatter(zone, { timeZoneName: 'shortOffset' }, 'en-US')
    .formatToParts(at)
    .find((part) => part.type === 'timeZoneName');
  return (name ? name.value : 'GMT').replace(/^GMT/, 'UTC');
}

// "Asia/Vladivostok (UTC+10)": which clock the times on a page are in.
export function zoneLabel(zone, at = new Date()) {
  return zone ? `${zone} (${offset(zone, at)})` : '';
}

// The zone of the device showing the page.
export function deviceZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

// Every zone the browser knows, with `extra` ones (a zone saved elsewhere) added, sorted.
export function knownZones(...extra) {
  const listed = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  return [...new Set([...listed, ...extra.filter(Boolean)])].sort();
}

// The wall clock in `zone` at the instant `ms`, as milliseconds of a UTC date with the
// same fields (so that wall clocks can be compared and shifted by plain arithmetic).
function wallMs(ms, zone) {
  const parts = {};
  const fields = { year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric', hourCycle: 'h23' };
  for (const part of formatter(zone, fields, 'en-US').formatToParts(new Date(ms))) parts[part.type] = part.value;
  return Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second));
}

// The business day of a store at instant `at`: its local date, or the day before when it is
// earlier than the day-start hour (as backend/local_time.py StoreClock.business_day).
export function businessDay(zone, dayStartsAt = 0, at = new Date()) {
  const wall = wallMs(at.getTime(), zone) - Number(dayStartsAt || 0) * 3_600_000;
  return new Date(wall).toISOString().slice(0, 10);
}

// Today's date on the clocks of `zone` ("2026-12-07").
export function localDate(zone, at = new Date()) {
  return businessDay(zone, 0, at);
}

export class NoSuchTime extends Error {}

// "2026-05-01T09:30" read on the clocks of `zone` as an instant: the first time they show
// it when clocks go back (as the backend reads a repeated time); a time they skip when they
// go forward names no instant, so it is refused.
export function instantIn(local, zone) {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(String(local || ''));
  if (!match) throw new NoSuchTime(t('time.not_a_time', { value: local }));
  const [, y, mo, d, h, mi, s] = match.map(Number);
  const wall = Date.UTC(y, mo - 1, d, h, mi, s || 0);
  // The zone's offset a day either side covers any change of its clocks in between.
  const candidates = [wall - 86_400_000, wall + 86_400_000]
    .map((ms) => wall - (wallMs(ms, zone) - ms))
    .filter((ms) => wallMs(ms, zone) === wall)
    .sort((a, b) => a - b);
  if (!candidates.length) throw new NoSuchTime(t('time.skipped', { value: local.replace('T', ' '), zone }));
  return new Date(candidates[0]);
}

// "+79990000001" with spaces, dashes and brackets taken out.
export function normalisePhone(text) {
  return String(text || '').replace(/[\s()-]/g, '');
}

export const PHONE = /^\+[1-9][0-9]{7,14}$/;
