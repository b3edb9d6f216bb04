// How numbers, money, points and dates read on screen.

export function points(n) {
  const value = Number(n) || 0;
  return value > 0 ? `+${value}` : String(value);
}

// Minor units to "350.00 RUB".
export function money(minor, currency = 'RUB') {
  const value = Number(minor) || 0;
  const sign = value < 0 ? '-' : '';
  const abs = Math.abs(value);
  const units = Math.floor(abs / 100);
  const cents = String(abs % 100).padStart(2, '0');
  return `${sign}${units}.${cents} ${currency}`;
}

export function dateTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  return date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function date(iso) {
  const value = new Date(iso);
  if (Number.isNaN(value.getTime())) return '';
  return value.toLocaleDateString(undefined, { dateStyle: 'medium' });
}

export function time(iso) {
  const value = new Date(iso);
  if (Number.isNaN(value.getTime())) return '';
  return value.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

// "+79990000001" with spaces, dashes and brackets taken out.
export function normalisePhone(text) {
  return String(text || '').replace(/[\s()-]/g, '');
}

export const PHONE = /^\+[1-9][0-9]{7,14}$/;
