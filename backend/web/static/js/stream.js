// The WebSocket client of /v1/ws, after realtime/client.py: remember the last seq handled
// on the own stream (and, for members, on the broadcast stream); on every reconnect give
// them on the URL (?last_seq=&broadcast_last_seq=), so the server replays what was missed at
// once and no live event waits for a first frame; on a first connect (no position yet) send
// "resume" with ready's; drop anything at or below them; on "resync" refetch over REST.
// Reconnects with full-jitter backoff (0.5-1 s, then up to 2, 4 ... 30 s), at once when the
// browser comes back online; after a server restart (1012) at a random moment 1-8 s later, so
// that the sockets of a stopping server do not all land on the others at once.

const CLOSE_UNAUTHORIZED = 4401;
const CLOSE_SERVICE_RESTART = 1012;
const RESTART_SPREAD_MS = [1_000, 8_000];
const FIRST_BACKOFF_MS = 1_000;
const MAX_BACKOFF_MS = 30_000;

// As realtime/client.py's reconnect_delay_s: `attempt` 1 is the first try after a drop.
function reconnectDelayMs(attempt, restarted) {
  const between = (low, high) => low + Math.random() * (high - low);
  if (restarted && attempt === 1) return between(...RESTART_SPREAD_MS);
  const ceiling = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** (attempt - 1));
  return between(Math.min(ceiling, FIRST_BACKOFF_MS) / 2, ceiling);
}
const PING_AFTER_MS = 20_000; // quiet this long: ping
const DEAD_AFTER_MS = 45_000; // quiet this long: the connection is gone, reconnect
const BROADCAST = 'broadcast';

export class Stream {
  // url(): the URL to connect to (with a fresh token), or null to wait.
  // handlers: onEvent(envelope), onReady(frame), onResync(frame), onState(state),
  // onUnauthorized() -> Promise<boolean> (true: a new token, reconnect), onDenied().
  constructor(url, handlers) {
    this.url = url;
    this.handlers = handlers;
    this.state = 'offline';
    this.socket = null;
    this.stopped = true;
    this.attempt = 0;
    this.denials = 0;
    this.timer = null;
    this.heartbeat = null;
    this.lastHeard = 0;
    this.positions = { own: null, broadcast: null };
    this.asked = { own: null, broadcast: null };
    this.told = false; // the current connection's URL carries the position
    this._online = () => this._connectNow();
    this._offline = () => this._drop('offline');
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    window.addEventListener('online', this._online);
    window.addEventListener('offline', this._offline);
    this._connect();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener('online', this._online);
    window.removeEventListener('offline', this._offline);
    clearTimeout(this.timer);
    this._detach(1000);
    this._setState('offline');
  }

  // Follow a different stream (another store): forget positions and connect again.
  restart() {
    this.stop();
    this.positions = { own: null, broadcast: null };
    this.asked = { own: null, broadcast: null };
    this.attempt = 0;
    this.start();
  }

  _setState(state) {
    if (state === this.state) return;
    this.state = state;
    this.handlers.onState?.(state);
  }

  _connectNow() {
    if (this.stopped) return;
    this.attempt = 0;
    clearTimeout(this.timer);
    if (!this.socket) this._connect();
  }

  async _connect() {
    clearTimeout(this.timer);
    if (this.stopped || this.socket) return;
    if (navigator.onLine === false) {
      this._setState('offline'); // the 'online' event connects again
      return;
    }
    this._setState('reconnecting');
    let url;
    try {
      url = await this.url();
    } catch {
      url = null; // no token now (offline, server restarting): try again later
    }
    if (this.stopped || this.socket) return;
    if (!url) {
      this._retryLater();
      return;
    }
    const socket = new WebSocket(this._withPosition(url));
    this.socket = socket;
    this.lastHeard = Date.now();
    socket.onmessage = (message) => this._receive(socket, message.data);
    socket.onclose = (event) => this._closed(socket, event.code);
    socket.onerror = () => {}; // the close event that follows decides what to do
    clearInterval(this.heartbeat);
    this.heartbeat = setInterval(() => this._beat(), 5_000);
  }

  // The URL with the position this client knows, if any: the server resumes from it at once.
  _withPosition(url) {
    const p = this.positions;
    this.told = p.own !== null;
    if (!this.told) return url;
    const position = new URLSearchParams({ last_seq: String(p.own) });
    if (p.broadcast !== null) position.set('broadcast_last_seq', String(p.broadcast));
    return `${url}${url.includes('?') ? '&' : '?'}${position}`;
  }

  _beat() {
    const socket = this.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    const quiet = Date.now() - this.lastHeard;
    if (quiet > DEAD_AFTER_MS) this._drop('reconnecting');
    else if (quiet > PING_AFTER_MS) this._send({ type: 'ping' });
  }

  _send(frame) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(frame));
  }

  // Close the socket without waiting for its close event, and go on as `state` says.
  _drop(state) {
    this._detach(1000);
    if (this.stopped) return;
    if (state === 'offline') this._setState('offline');
    else this._retryLater();
  }

  _detach(code) {
    clearInterval(this.heartbeat);
    this.heartbeat = null;
    const socket = this.socket;
    this.socket = null;
    if (!socket) return;
    socket.onmessage = socket.onclose = socket.onerror = null;
    if (socket.readyState === WebSocket.OPEN) socket.close(code);
    else if (socket.readyState === WebSocket.CONNECTING) {
      // Closing while connecting makes the browser log an error: close once open instead.
      socket.onopen = () => socket.close(code);
    }
  }

  _retryLater(restarted = false) {
    clearTimeout(this.timer);
    if (this.stopped) return;
    if (navigator.onLine === false) {
      this._setState('offline');
      return;
    }
    this.attempt += 1;
    this._setState('reconnecting');
    this.timer = setTimeout(() => this._connect(), reconnectDelayMs(this.attempt, restarted));
  }

  async _closed(socket, code) {
    if (socket !== this.socket) return;
    this._detach(1000);
    if (this.stopped) return;
    if (code !== CLOSE_UNAUTHORIZED) {
      this._retryLater(code === CLOSE_SERVICE_RESTART);
      return;
    }
    // 4401: the token was refused. Get a new one and reconnect; twice in a row: give up.
    this.denials += 1;
    this._setState('reconnecting');
    let renewed = false;
    try {
      renewed = this.denials < 2 && (await this.handlers.onUnauthorized?.());
    } catch {
      this._retryLater(); // could not reach the server to refresh: try again later
      return;
    }
    if (this.stopped) return;
    if (renewed) this._connect();
    else {
      this.stop();
      this.handlers.onDenied?.();
    }
  }

  _receive(socket, raw) {
    if (socket !== this.socket) return;
    this.lastHeard = Date.now();
    let frame;
    try {
      frame = JSON.parse(raw);
    } catch {
      return;
    }
    if (!frame || typeof frame !== 'object') return;
    switch (frame.type) {
      case 'ready':
        this._ready(frame);
        return;
      case 'resync': {
        const key = frame.stream === BROADCAST ? 'broadcast' : 'own';
        this.positions[key] = Number(frame.last_seq);
        this.handlers.onResync?.(frame);
        return;
      }
      case 'pong':
      case 'error':
        return;
      default:
        if (typeof frame.seq === 'number') this._event(frame);
    }
  }

  _ready(frame) {
    this.attempt = 0;
    this.denials = 0;
    const p = this.positions;
    if (p.own === null) p.own = Number(frame.last_seq);
    const hasBroadcast = frame.broadcast_last_seq !== undefined && frame.broadcast_last_seq !== null;
    if (hasBroadcast && p.broadcast === null) p.broadcast = Number(frame.broadcast_last_seq);
    if (!this.told) this._resume(hasBroadcast); // else the URL said it: nothing waits
    this.told = false;
    this._setState('live');
    this.handlers.onReady?.(frame);
  }

  _resume(withBroadcast) {
    const resume = { type: 'resume', last_seq: this.positions.own };
    if (withBroadcast && this.positions.broadcast !== null) {
      resume.broadcast_last_seq = this.positions.broadcast;
    }
    this._send(resume);
  }

  _event(envelope) {
    const key = envelope.stream === BROADCAST ? 'broadcast' : 'own';
    const last = this.positions[key] ?? 0;
    if (envelope.seq <= last) return; // already handled (replayed after a reconnect)
    if (envelope.seq > last + 1) {
      // A gap (should not happen): ask once for everything after what we have, in order.
      if (this.asked[key] !== last) {
        this.asked[key] = last;
        this._resume(this.positions.broadcast !== null);
      }
      return;
    }
    this.positions[key] = envelope.seq;
    try {
      this.handlers.onEvent?.(envelope);
    } catch (error) {
      // A rendering problem must not stop the stream.
      queueMicrotask(() => {
        throw error;
      });
    }
  }
}
