// The API client: JSON over fetch with the caller's bearer token, refreshed before it
// expires (and once more on a 401), and problem+json errors turned into readable messages:
// the page's own words for a problem's `code` when the catalogue has them (problem.<code>),
// else the server's (English) detail. Tokens live in sessionStorage: one session per browser
// tab, nothing in the URL.

import { has, t } from './i18n.js';

const REFRESH_MARGIN_MS = 60_000; // refresh this long before the access token expires

export class ApiError extends Error {
  constructor(status, problem, fallback) {
    super(problemText(problem) || fallback || t('api.failed', { status }));
    this.name = 'ApiError';
    this.status = status;
    this.code = problem?.code ?? null;
    this.detail = problem?.detail ?? null;
    this.errors = Array.isArray(problem?.errors) ? problem.errors : [];
  }
}

// "detail" plus, for validation problems, each error ("key: message").
function problemText(problem) {
  if (!problem || typeof problem !== 'object') return '';
  // The page's own words: for the field a refusal names (problem.field.<field>), else for
  // its code (problem.<code>), else the server's.
  const field = problem.extra?.field;
  const byField = typeof field === 'string' && has(`problem.field.${field}`);
  const byCode = typeof problem.code === 'string' && has(`problem.${problem.code}`);
  // A code's words may name what the problem's extra says (the row of a refused file).
  const words = byField ? t(`problem.field.${field}`) : byCode ? t(`problem.${problem.code}`, problem.extra || {}) : null;
  const parts = [words || problem.detail || problem.title || ''];
  for (const error of Array.isArray(problem.errors) ? problem.errors : []) {
    const where = error.key ?? error.field ?? error.loc ?? '';
    const what = error.message ?? error.msg ?? JSON.stringify(error);
    parts.push(where ? `${where}: ${what}` : what);
  }
  return parts.filter(Boolean).join(' — ');
}

// A fresh Idempotency-Key (crypto.randomUUID needs a secure context; fall back if absent).
export function newIdempotencyKey() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function offline() {
  return new ApiError(0, null, t('api.offline'));
}

async function readProblem(response) {
  const type = response.headers.get('content-type') || '';
  if (!type.includes('json')) return null;
  try {
    return await response.json();
  } catch {
    return null;
  }
}

export class ApiClient {
  // storageKey: where this page keeps its tokens in sessionStorage.
  constructor(storageKey) {
    this.storageKey = storageKey;
    this.onSessionEnd = () => {};
    this._refreshing = null;
    this._timer = null;
    this._schedule();
  }

  get session() {
    try {
      return JSON.parse(sessionStorage.getItem(this.storageKey) || 'null');
    } catch {
      return null;
    }
  }

  get loggedIn() {
    return Boolean(this.session?.refresh_token);
  }

  get accessToken() {
    return this.session?.access_token ?? null;
  }

  // Keep the tokens of a login or refresh response.
  keep(tokens) {
    const session = {
      access_token: tokens.access_token,
      refresh_token: tokens.refresh_token,
      expires_at: Date.now() + (Number(tokens.expires_in) || 900) * 1000,
    };
    sessionStorage.setItem(this.storageKey, JSON.stringify(session));
    this._schedule();
  }

  // Log in: `credentials` go to `path` (there is no token yet); the tokens answered are kept.
  async logIn(path, credentials) {
    this.keep(await this.post(path, credentials, { auth: false }));
  }

  forget() {
    sessionStorage.removeItem(this.storageKey);
    clearTimeout(this._timer);
    this._timer = null;
  }

  // End the session on the server too (best effort), then locally.
  async logOut() {
    try {
      if (this.loggedIn) await this.request('/v1/auth/logout', { method: 'POST' });
    } catch {
      // Nothing to do: the local session ends anyway.
    }
    this.forget();
  }

  // A valid access token, refreshed first when it is about to expire.
  async freshToken() {
    const session = this.session;
    if (!session) return null;
    if (session.expires_at - Date.now() < REFRESH_MARGIN_MS / 2) await this.refresh();
    return this.accessToken;
  }

  // Rotate the tokens once, however many callers ask at the same time. Resolves true when
  // refreshed; false (and the session ends) when the server refuses the refresh token.
  refresh() {
    if (!this._refreshing) {
      this._refreshing = this._refresh().finally(() => {
        this._refreshing = null;
      });
    }
    return this._refreshing;
  }

  async _refresh() {
    const session = this.session;
    if (!session?.refresh_token) return false;
    if (navigator.onLine === false) throw offline();
    let response;
    try {
      response = await fetch('/v1/auth/refresh', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify({ refresh_token: session.refresh_token }),
      });
    } catch {
      throw offline();
    }
    if (response.ok) {
      this.keep(await response.json());
      return true;
    }
    if (response.status === 400 || response.status === 401) {
      this.forget();
      this.onSessionEnd(t('api.session_ended'));
      return false;
    }
    throw new ApiError(response.status, await readProblem(response));
  }

  _schedule() {
    clearTimeout(this._timer);
    const session = this.session;
    if (!session?.refresh_token) return;
    const delay = Math.max(1000, session.expires_at - Date.now() - REFRESH_MARGIN_MS);
    this._timer = setTimeout(() => {
      this.refresh().catch(() => {
        // Offline or the server is restarting: the next request refreshes on demand.
        this._timer = setTimeout(() => this._schedule(), 15_000);
      });
    }, delay);
  }

  // fetch a path. options: method, body (JSON), headers, auth (default true),
  // as: 'json' (default) or 'text'; file: a File or Blob sent as it is instead of a body
  // (with its Content-Type in headers). Throws ApiError with the problem's message.
  async request(path, { method = 'GET', body, file, headers = {}, auth = true, as = 'json' } = {}) {
    const json = body !== undefined && file === undefined;
    const sent = json ? JSON.stringify(body) : file;
    const all = json ? { 'Content-Type': 'application/json', ...headers } : headers;
    let response = await this._send(path, method, sent, all, auth);
    if (response.status === 401 && auth && this.loggedIn) {
      const problem = await readProblem(response);
      // A wrong one-time code (erasure) is the member's typing, not an expired token.
      if (problem?.code === 'invalid_otp') throw new ApiError(401, problem);
      if (await this.refresh()) response = await this._send(path, method, sent, all, auth);
      else throw new ApiError(401, null, t('api.session_ended'));
    }
    if (!response.ok) throw new ApiError(response.status, await readProblem(response));
    if (response.status === 204) return null;
    return as === 'text' ? response.text() : response.json();
  }

  async _send(path, method, body, headers, auth) {
    // Offline: fail at once (the page refetches when the stream is back) rather than let
    // the browser report a failed request.
    if (navigator.onLine === false) throw offline();
    const all = { Accept: 'application/json, application/problem+json', ...headers };
    if (auth) {
      const token = await this.freshToken();
      if (token) all.Authorization = `Bearer ${token}`;
    }
    try {
      return await fetch(path, { method, headers: all, body });
    } catch {
      throw offline();
    }
  }

  get(path, options) {
    return this.request(path, options);
  }

  post(path, body, options = {}) {
    return this.request(path, { ...options, method: 'POST', body });
  }

  patch(path, body, options = {}) {
    return this.request(path, { ...options, method: 'PATCH', body });
  }

  // A file as it is (a CSV upload), with its media type.
  putFile(path, file, type) {
    return this.request(path, { method: 'PUT', file, headers: { 'Content-Type': type } });
  }
}
