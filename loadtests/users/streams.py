"""A socket that a user holds open, and the greenlet that reads it.

What it reports to Locust:

* ``WS <event type>``: every live push the socket receives; response time = commit-to-client
  latency, from the envelope's ``ts`` (taken inside the committing transaction) to the moment
  this client read the frame. Server and clients must share a clock (same machine, or NTP).
* ``WS-replay <event type>``: events replayed after a reconnect (``resume``), kept apart.
* ``WSCONN <kind>``: opening a socket (connect + ``ready``); a failure when a socket drops.
* ``WSSEQ <stream>``: a failure when a stream's ``seq`` does not go up by exactly one;
  ``WSERR <kind>``: an error frame, or a frame that is not JSON.

A ``balance.updated`` push also settles its purchase's push deadline (``users.pushes``).
"""

from __future__ import annotations

import contextlib
import json
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import gevent
import websocket  # websocket-client

from loadtests.users.config import log
from loadtests.users.pushes import pushed
from loadtests.users.reporting import fire
from loadtests.users.shared import Shared

if TYPE_CHECKING:
    from loadtests.users.tokens import TokenUser


class StreamError(Exception):
    pass


def ws_url(host: str, path: str) -> str:
    parts = urlsplit(host)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return f"{scheme}://{parts.netloc}{path}"


class Stream:
    """A socket held open by a user; every push it reads is reported to Locust."""

    def __init__(self, user: TokenUser, kind: str) -> None:
        self.user = user
        self.kind = kind  # "member" or "store"
        self.ws: Any = None
        self.reader: Any = None
        self.closing = False
        self.seqs: dict[str, int] = {}  # stream ("own" or "broadcast") -> last seq seen
        self.replay_until: dict[str, int] = {}

    @property
    def environment(self) -> Any:
        return self.user.environment

    def open(self) -> bool:
        """Connect and wait for ``ready``; on a reconnect, resume from the last seq seen."""
        url = ws_url(self.user.host, self.user.ws_path())
        started = time.perf_counter()
        try:
            ws = websocket.create_connection(url, timeout=10, enable_multithread=True)
            ready = json.loads(ws.recv())
            if ready.get("type") != "ready":
                ws.close()
                raise StreamError(f"expected ready, got {ready!r:.200}")
        except Exception as exc:
            fire(
                self.environment,
                "WSCONN",
                self.kind,
                (time.perf_counter() - started) * 1000,
                exception=exc,
            )
            return False
        fire(self.environment, "WSCONN", self.kind, (time.perf_counter() - started) * 1000)
        ws.settimeout(None)  # the server pings every 25 s; websocket-client answers
        self.ws = ws
        positions = {"own": int(ready.get("last_seq", 0))}
        if ready.get("broadcast_last_seq") is not None:
            positions["broadcast"] = int(ready["broadcast_last_seq"])
        # Every connect resumes, the first one from ``ready``'s positions, as the reference
        # clients do (realtime/client.py, web/static/js/stream.js): the server holds live
        # events until the client's first frame, or 2 s for a client that never speaks.
        if self.seqs:  # a reconnect: ask for what was missed, report it as replays
            self.replay_until = positions
        else:
            self.seqs = positions
        resume: dict[str, Any] = {"type": "resume", "last_seq": self.seqs.get("own", 0)}
        if "broadcast" in self.seqs:
            resume["broadcast_last_seq"] = self.seqs["broadcast"]
        ws.send(json.dumps(resume))
        self.reader = gevent.spawn(self._read)
        return True

    def close(self, *, abrupt: bool = False) -> None:
        """Close the socket: with a close frame, or (``abrupt``) just the TCP connection."""
        self.closing = True
        if self.reader is not None:
            self.reader.kill(block=True, timeout=2)
        if self.ws is not None:
            with contextlib.suppress(Exception):  # closing anyway
                if abrupt:
                    self.ws.shutdown()
                else:
                    self.ws.close(timeout=1)

    def _read(self) -> None:
        while not self.closing:
            try:
                raw = self.ws.recv()
            except Exception as exc:
                self._dropped(exc)
                return
            received = time.time()
            if not raw:  # a close frame
                self._dropped(StreamError("closed by the server"))
                return
            try:
                frame = json.loads(raw)
            except ValueError:
                fire(self.environment, "WSERR", self.kind, 0, exception=StreamError(raw[:200]))
                continue
            self._handle(frame, received, len(raw))

    def _handle(self, frame: dict[str, Any], received: float, length: int) -> None:
        kind = frame.get("type", "?")
        if kind in ("pong", "ready"):
            return
        if kind == "resync":  # too far behind: refetch over REST, follow from here
            self.seqs["broadcast" if frame.get("stream") == "broadcast" else "own"] = int(
                frame.get("last_seq", 0)
            )
            return
        if kind == "error":
            fire(self.environment, "WSERR", self.kind, 0, exception=StreamError(str(frame)[:300]))
            return
        ts = frame.get("ts")
        if ts is None or "seq" not in frame:
            return
        latency = (received - datetime.fromisoformat(ts).timestamp()) * 1000
        stream = "broadcast" if frame.get("stream") == "broadcast" else "own"
        seq = int(frame["seq"])
        last = self.seqs.get(stream)
        if last is not None and seq != last + 1:
            fire(
                self.environment,
                "WSSEQ",
                f"{self.kind}/{stream}",
                0,
                exception=StreamError(f"seq {seq} after {last}"),
            )
        self.seqs[stream] = max(seq, last or 0)
        if seq <= self.replay_until.get(stream, 0):
            fire(self.environment, "WS-replay", kind, latency, length=length)
            return
        fire(self.environment, "WS", kind, latency, length=length)
        if kind == "balance.updated":
            purchase_id = frame.get("data", {}).get("purchase_id")
            if purchase_id:
                pushed(self.environment, purchase_id, latency)

    def _dropped(self, exc: BaseException) -> None:
        if self.closing or Shared.stopping:
            return
        fire(self.environment, "WSCONN", f"{self.kind} dropped", 0, exception=exc)
        self.user.stream_dropped()
        self.reconnect()

    def reconnect(self) -> None:
        """Like the app: after a pause, with a fresh token, resuming from the last seq."""
        for attempt in range(10):
            gevent.sleep(min(5.0, 0.5 * 2**attempt))
            if self.closing or Shared.stopping:
                return
            try:
                self.user.ensure_token()
            except Exception as token_error:
                log.warning("reconnect of %s: no token: %s", self.kind, token_error)
            if self.open():
                self.user.stream_opened()
                return

    def start(self) -> None:
        """Open the socket; if that fails, keep trying in the background."""
        if self.open():
            self.user.stream_opened()
        else:
            self.reader = gevent.spawn(self.reconnect)
