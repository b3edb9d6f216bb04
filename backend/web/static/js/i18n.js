// The page's language: Russian or English, one message catalogue per language
// (static/i18n/<language>.json, loaded before any page module runs: top-level await).
//
// The language is `?lang=` in the address, else the one the person chose before (the switch
// in the top bar, kept in localStorage), else the first of the browser's languages we
// have, else English. Numbers, money and dates follow `locale`: the browser's own when it is
// of the chosen language (en-GB stays en-GB), else that language's usual one.
//
// A message is text with {name} placeholders; a message that depends on a number is an
// object of CLDR plural categories ("one", "few", "many", "other"), chosen with
// Intl.PluralRules by the `count` parameter, so Russian reads "1 балл, 2 балла, 5 баллов".
// The browser's own Intl does that work: no library is needed for two languages.

const LANGUAGES = { en: 'English', ru: 'Русский' };
const USUAL_LOCALE = { en: 'en-GB', ru: 'ru-RU' };
const STORAGE_KEY = 'astrocoffee.language';

function wanted() {
  const asked = new URLSearchParams(location.search).get('lang');
  if (asked in LANGUAGES) return asked;
  try {
    const kept = localStorage.getItem(STORAGE_KEY);
    if (kept in LANGUAGES) return kept;
  } catch {
    // Storage blocked: the browser's languages still say.
  }
  for (const tag of navigator.languages || [navigator.language]) {
    const base = String(tag || '').toLowerCase().split('-')[0];
    if (base in LANGUAGES) return base;
  }
  return 'en';
}

export const language = wanted();

function localeFor(lang) {
  const own = (navigator.languages || [navigator.language]).find(
    (tag) => String(tag || '').toLowerCase().split('-')[0] === lang,
  );
  return own || USUAL_LOCALE[lang];
}

export const locale = localeFor(language);

async function load(lang) {
  const response = await fetch(`/static/i18n/${lang}.json`);
  if (!response.ok) throw new Error(`the ${lang} message catalogue is missing (HTTP ${response.status})`); // for developers
  return response.json();
}

const catalogue = await load(language);
const plurals = new Intl.PluralRules(locale);
// "min2": 6000 stays "6000", 60000 groups as "60,000" / "60 000" (Russian's own rule).
const numbers = new Intl.NumberFormat(locale, { useGrouping: 'min2' });

// A number as people of the page's language write it ("12 345").
export function number(n) {
  return numbers.format(Number(n) || 0);
}

function fill(text, params) {
  return text.replace(/\{(\w+)\}/g, (whole, name) => {
    if (!(name in params)) return whole;
    const value = params[name];
    return typeof value === 'number' ? number(value) : String(value);
  });
}

// The message `key` in the page's language, its {placeholders} filled from `params`.
// A missing key shows itself (and a test fails on it) rather than an empty place.
export function t(key, params = {}) {
  const entry = catalogue[key];
  if (entry === undefined) return key;
  if (typeof entry === 'string') return fill(entry, params);
  const form = plurals.select(Number(params.count) || 0);
  return fill(entry[form] ?? entry.other, params);
}

// Whether the catalogue has a message for `key` (the page's own words for a problem code).
export function has(key) {
  return catalogue[key] !== undefined;
}

// A code the server sends ("earn", "gold", a problem's code) in the page's language: the
// catalogue's `prefix`.<code>, else `otherwise` (by default the code as sent: a code the
// catalogue does not know yet is shown, not hidden).
export function wordFor(prefix, code, otherwise = code) {
  return code && has(`${prefix}.${code}`) ? t(`${prefix}.${code}`) : otherwise;
}

const ATTRIBUTES = ['placeholder', 'aria-label', 'title'];

// Put the catalogue's words into the page's static markup: data-i18n sets an element's
// text, data-i18n-placeholder / -aria-label / -title its attributes.
export function translatePage(root = document) {
  document.documentElement.lang = language;
  for (const node of root.querySelectorAll('[data-i18n]')) node.textContent = t(node.dataset.i18n);
  for (const attribute of ATTRIBUTES) {
    for (const node of root.querySelectorAll(`[data-i18n-${attribute}]`)) {
      node.setAttribute(attribute, t(node.getAttribute(`data-i18n-${attribute}`)));
    }
  }
}

// The language switch in the top bar: choosing reloads the page in that language (the
// session survives: its tokens are in sessionStorage).
export function languageSwitch(select) {
  select.replaceChildren(
    ...Object.entries(LANGUAGES).map(([code, name]) => {
      const option = document.createElement('option');
      option.value = code;
      option.textContent = name;
      option.lang = code;
      return option;
    }),
  );
  select.value = language;
  select.addEventListener('change', () => {
    try {
      localStorage.setItem(STORAGE_KEY, select.value);
    } catch {
      // Storage blocked: the address carries the choice instead.
    }
    const url = new URL(location.href);
    url.searchParams.set('lang', select.value);
    location.assign(url);
  });
}

translatePage();
