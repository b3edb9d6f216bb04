"""Locust scenarios for Astrocoffee, measured against ``loadtests/targets.toml``.

Three kinds of user, weighted by ``[run.weights]`` and paced by ``[run.pace]`` (task runs per
second per user, as independent Poisson arrivals: ``poisson_pacing``):

* ``PosTerminal`` (FastHttpUser: the same HTTP user as HttpUser on geventhttpclient, a
  fraction of the CPU per request, which matters on a 2-core machine shared with the server)
  -- a till of a seeded store: one-shot purchases with and without ``redeem_points``,
  two-phase checkouts (open, hold, complete), and about 2 % refunds of its own earlier
  purchases (``[run.pos_mix]``). Every write carries an ``Idempotency-Key``; baskets have
  items with categories (coffee, bakery, tea, merch).
* ``MobileMember`` -- a seeded member with the app open: holds ``/v1/ws?token=...``, reads
  ``/v1/me``, ``/v1/me/transactions`` and ``/v1/me/offers``, now and then activates an offer
  that must be activated and rotates its refresh token (``POST /v1/auth/refresh``, also
  whenever the access token is about to expire).
* ``StaffDashboard`` -- a store's manager: logs in with ``POST /v1/staff/token``, holds the
  store stream ``/v1/ws?store_id=...&token=...`` and reads ``/v1/admin/stores/{id}/stats``.

What is reported besides the HTTP requests:

* ``WS <event type>``: every live push a socket receives; response time = commit-to-client
  latency, from the envelope's ``ts`` (taken inside the committing transaction) to the moment
  this client read the frame. Server and clients must share a clock (same machine, or NTP).
* ``WS-replay <event type>``: events replayed after a reconnect (``resume``), kept apart.
* ``PUSH purchase -> balance.updated``: every purchase (one-shot or completed checkout) made
  by this process for a member whose socket this process holds must reach that socket within
  ``[targets] push_deadline_ms`` -- a failure otherwise (late, or not at all).
* ``WSCONN <kind>``: opening a socket (connect + ``ready``); a failure when a socket drops.
* ``WSSEQ <stream>``: a failure when a stream's ``seq`` does not go up by exactly one;
  ``WSERR <kind>``: an error frame, or a frame that is not JSON.

Connection churn (off unless asked for; ``make soak`` turns it on, ``make loadtest`` does not):

* ``LOADTEST_CHURN_S`` = S > 0: every phone, about every S seconds (uniformly 0.5 S to 1.5 S),
  closes its socket (half of the time abruptly, with no close frame, like a phone losing its
  network) and its HTTP connection, logs out (``POST /v1/auth/logout``), logs in again with a one-time code
  (``POST /v1/auth/otp`` and ``/v1/auth/token``, the code being ``ASTROCOFFEE_DEV_OTP_CODE``,
  which the server must be started with) and reopens the socket, resuming from the last seq
  it saw: what it missed comes as ``WS-replay`` and must keep every stream's seq gapless.
* ``LOADTEST_TILL_DROP`` = a share (e.g. 0.05): that share of a till's task runs starts
  without its keep-alive connection: half of them close it on the client side before the
  first request, the other half send that request with ``Connection: close``.

Environment: ``LOADTEST_CREDENTIALS`` (default ``loadtests/.credentials.json``, written by
``python -m loadtests.seed``), ``LOADTEST_TARGETS`` (default ``loadtests/targets.toml``),
``LOADTEST_PUSH_DEADLINE_MS`` (default: the targets' ``push_deadline_ms``) and,
for a distributed run, ``LOADTEST_WORKERS`` = the number of worker processes, so that each
worker signs in as its own share of the members (a refresh token must not be rotated by two
processes). ``python -m loadtests.run`` starts everything; see its docstring for
distributed runs. Only ever point ``--host`` at 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import random
import time
import tomllib
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import gevent
import websocket  # websocket-client
from locust import FastHttpUser, events, task
from locust.exception import StopUser

HERE = Path(__file__).resolve().parent
TARGETS = tomllib.loads(
    Path(os.environ.get("LOADTEST_TARGETS", HERE / "targets.toml")).read_text(encoding="utf-8")
)
RUN: dict[str, Any] = TARGETS["run"]
PUSH_DEADLINE_MS = float(
    os.environ.get("LOADTEST_PUSH_DEADLINE_MS") or TARGETS["targets"]["push_deadline_ms"]
)
CREDENTIALS = Path(os.environ.get("LOADTEST_CREDENTIALS", HERE / ".credentials.json"))
WORKERS = max(1, int(os.environ.get("LOADTEST_WORKERS", "1")))
CHURN_S = float(os.environ.get("LOADTEST_CHURN_S") or 0)  # 0: phones never churn
TILL_DROP = float(os.environ.get("LOADTEST_TILL_DROP") or 0)  # 0: tills keep their connection
OTP_CODE = os.environ.get("ASTROCOFFEE_DEV_OTP_CODE", "")
if CHURN_S > 0 and not OTP_CODE:
    raise RuntimeError("LOADTEST_CHURN_S needs ASTROCOFFEE_DEV_OTP_CODE (the server's too)")
PUSH_NAME = "purchase -> balance.updated"
log = logging.getLogger("loadtests")
# Who buys what, and when: a load generator, not cryptography.
RNG = random.Random()  # noqa: S311

# A small menu: (sku, name, category, unit price in kopecks).
MENU = [
    ("espresso", "Espresso", "coffee", 12000),
    ("americano", "Americano", "coffee", 15000),
    ("cappuccino", "Cappuccino", "coffee", 18000),
    ("latte", "Latte", "coffee", 20000),
    ("flat-white", "Flat white", "coffee", 22000),
    ("croissant", "Croissant", "bakery", 15000),
    ("cinnamon-bun", "Cinnamon bun", "bakery", 12000),
    ("cheesecake", "Cheesecake", "bakery", 25000),
    ("green-tea", "Green tea", "tea", 14000),
    ("chai-latte", "Chai latte", "tea", 19000),
    ("beans-250", "Beans 250 g", "merch", 90000),
]


def poisson_pacing(rate: float) -> Any:
    """A wait_time that starts a user's task runs as a Poisson process of ``rate`` per second,
    the model of customers who arrive independently of each other.

    Written here because Locust's pacings fit a load test badly. ``constant_throughput``
    phase-locks users: every user whose request was delayed by the same stall finishes with
    the others and starts again with them a second later. After a minute, most tills fired
    in one burst each second and the server was idle in between. Sampled in the server, no
    HTTP request was in flight 57 % of the time, then 100 to 200 at once. ``poisson`` waits
    after the task, so the rate falls by the response time. This one schedules starts apart
    from the answers: each start is one exponential gap after the previous *scheduled* start,
    and a user that has fallen behind catches up without waiting.
    """

    def wait_time(user: Any) -> float:
        now = time.monotonic()
        # Locust asks after each run; the first gap counts from the end of the first run,
        # whose start is not known here (it started at the user's spawn).
        due = getattr(user, "_poisson_due", now) + RNG.expovariate(rate)
        user._poisson_due = due
        return max(0.0, due - now)

    return wait_time


# --- what one Locust process shares between its users -------------------------------------


class Shared:
    """State of this process: the seed, the members whose sockets it holds, pushes seen."""

    credentials: dict[str, Any] | None = None
    members: list[dict[str, Any]] = []
    free_members: list[dict[str, Any]] = []  # this process's share, not signed in yet
    followed: dict[str, dict[str, Any]] = {}  # member id -> member, while a socket is open
    opened_at: dict[str, float] = {}  # member id -> monotonic time its socket became ready
    busy: set[str] = set()  # members with a till's request in flight (one till at a time)
    available: dict[str, int] = {}  # member id -> available points, as last answered
    pushed: dict[str, tuple[float, float]] = {}  # purchase id -> (latency ms, monotonic)
    expected: dict[str, tuple[float, float, str]] = {}  # purchase id -> (sent, deadline, member)
    terminal_counter = itertools.count()
    store_counter = itertools.count()
    stopping = False
    watcher: Any = None

    @classmethod
    def load(cls, environment: Any) -> dict[str, Any]:
        if cls.credentials is None:
            try:
                data = json.loads(CREDENTIALS.read_text(encoding="utf-8"))
            except FileNotFoundError as exc:
                raise RuntimeError(
                    f"{CREDENTIALS} is missing: run python -m loadtests.seed (or loadtests.run)"
                ) from exc
            cls.credentials = data
            cls.members = data["members"]
            index = worker_index(environment)
            cls.free_members = [m for i, m in enumerate(cls.members) if i % WORKERS == index]
            RNG.shuffle(cls.free_members)
        return cls.credentials


def worker_index(environment: Any) -> int:
    index = getattr(environment.runner, "worker_index", 0) or 0
    return max(0, int(index)) % WORKERS


def fire(
    environment: Any,
    request_type: str,
    name: str,
    response_time: float,
    *,
    length: int = 0,
    exception: BaseException | None = None,
) -> None:
    environment.events.request.fire(
        request_type=request_type,
        name=name,
        response_time=response_time,
        response_length=length,
        response=None,
        context={},
        exception=exception,
    )


def problem(response: Any) -> str:
    """A failed answer in few words: status and the problem's ``code`` (RFC 9457), so that
    Locust counts the same failure once however many ids its text names."""
    if response.status_code == 0 and getattr(response, "error", None) is not None:
        return f"0 (no answer): {response.error!r:.200}"
    try:
        body = response.json()
    except Exception:
        body = None
    if isinstance(body, dict) and body.get("code"):
        return f"{response.status_code} {body['code']}: {str(body.get('detail', ''))[:120]}"
    return f"{response.status_code}: {(response.text or '')[:200]}"


class PushLate(Exception):
    pass


class PushMissing(Exception):
    pass


class StreamError(Exception):
    pass


def expect_push(environment: Any, purchase_id: str, member_id: str, sent: float) -> None:
    """A purchase for a member this process follows: its balance.updated must arrive."""
    got = Shared.pushed.pop(purchase_id, None)
    if got is not None:
        _settle(environment, got[0])
        return
    Shared.expected[purchase_id] = (sent, time.monotonic() + PUSH_DEADLINE_MS / 1000, member_id)
    if Shared.watcher is None:
        Shared.watcher = gevent.spawn(_watch, environment)


def pushed(environment: Any, purchase_id: str, latency_ms: float) -> None:
    if Shared.expected.pop(purchase_id, None) is not None:
        _settle(environment, latency_ms)
    else:  # the push beat the HTTP response, or another process made the sale
        Shared.pushed[purchase_id] = (latency_ms, time.monotonic())


def forget_expected(member_id: str) -> None:
    """The member's socket closes on purpose: its pending pushes are not to be waited for."""
    for purchase_id, (_, _, member) in list(Shared.expected.items()):
        if member == member_id:
            Shared.expected.pop(purchase_id, None)


def _settle(environment: Any, latency_ms: float) -> None:
    late = None
    if latency_ms > PUSH_DEADLINE_MS:
        late = PushLate(f"pushed later than the {PUSH_DEADLINE_MS:.0f} ms deadline")
    fire(environment, "PUSH", PUSH_NAME, latency_ms, exception=late)


def _watch(environment: Any) -> None:
    """Fail the purchases whose push did not come in time: if it had, it would be settled.

    The deadline counts from the HTTP response, which comes after the commit (and so after
    ``ts``): a push that arrives after it is late by the commit-to-client measure too.
    """
    while True:
        gevent.sleep(0.02)
        now = time.monotonic()
        for purchase_id, (sent, deadline, member_id) in list(Shared.expected.items()):
            if now <= deadline:
                continue
            del Shared.expected[purchase_id]
            if Shared.stopping or member_id not in Shared.followed:
                continue  # the test or the member's socket is closing: nothing to measure
            fire(
                environment,
                "PUSH",
                PUSH_NAME,
                (now - sent) * 1000,
                exception=PushMissing(f"no balance.updated within {PUSH_DEADLINE_MS:.0f} ms"),
            )
        for purchase_id, (_, at) in list(Shared.pushed.items()):
            if now - at > 30:
                del Shared.pushed[purchase_id]


@events.test_start.add_listener
def _on_test_start(environment: Any, **_: Any) -> None:
    Shared.stopping = False


@events.test_stop.add_listener
def _on_test_stop(environment: Any, **_: Any) -> None:
    Shared.stopping = True


# --- WebSocket: one socket and the greenlet that reads it ---------------------------------


def ws_url(host: str, path: str) -> str:
    parts = urlsplit(host)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return f"{scheme}://{parts.netloc}{path}"


class Stream:
    """A socket held open by a user; every push it reads is reported to Locust."""

    def __init__(self, user: FastHttpUser, kind: str) -> None:
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
        url = ws_url(self.user.host, self.user.ws_path())  # type: ignore[attr-defined]
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
        self.user.stream_dropped()  # type: ignore[attr-defined]
        self.reconnect()

    def reconnect(self) -> None:
        """Like the app: after a pause, with a fresh token, resuming from the last seq."""
        for attempt in range(10):
            gevent.sleep(min(5.0, 0.5 * 2**attempt))
            if self.closing or Shared.stopping:
                return
            try:
                self.user.ensure_token()  # type: ignore[attr-defined]
            except Exception as token_error:
                log.warning("reconnect of %s: no token: %s", self.kind, token_error)
            if self.open():
                self.user.stream_opened()  # type: ignore[attr-defined]
                return

    def start(self) -> None:
        """Open the socket; if that fails, keep trying in the background."""
        if self.open():
            self.user.stream_opened()  # type: ignore[attr-defined]
        else:
            self.reader = gevent.spawn(self.reconnect)


# --- users ------------------------------------------------------------------------------


class TokenUser(FastHttpUser):
    """A user with an access token that it refreshes before it expires."""

    abstract = True
    access_token = ""
    refresh_token = ""
    access_expires_at = 0.0

    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}

    def ensure_token(self) -> None:
        if time.time() > self.access_expires_at - 60:
            self.refresh()

    def fresh_connection(self) -> None:
        """Before a POST: a phone's or dashboard's keep-alive connection has been idle for
        about its pace (5 s), as long as uvicorn keeps one; a POST sent on a connection that
        the server is closing fails and, not being idempotent, is not retried."""
        self.client.client.close()

    def refresh(self) -> bool:
        self.fresh_connection()
        with self.client.post(
            "/v1/auth/refresh",
            json={"refresh_token": self.refresh_token},
            name="/v1/auth/refresh",
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(problem(response))
                return False
            body = response.json()
            self.access_token = body["access_token"]
            self.refresh_token = body["refresh_token"]
            self.access_expires_at = time.time() + int(body["expires_in"])
            self.tokens_changed()
            response.success()
            return True

    def tokens_changed(self) -> None:
        pass

    def stream_opened(self) -> None:
        pass

    def stream_dropped(self) -> None:
        pass

    def get_json(self, path: str, name: str) -> Any:
        with self.client.get(
            path, headers=self.bearer(), name=name, catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(problem(response))
                return None
            response.success()
            return response.json()


class MobileMember(TokenUser):
    weight = int(RUN["weights"]["MobileMember"])
    wait_time = poisson_pacing(float(RUN["pace"]["MobileMember"]))
    member: dict[str, Any] | None = None
    stream: Stream | None = None
    activated: set[str]
    churn_at = 0.0  # monotonic time of the next close, log out, log in, reopen

    def on_start(self) -> None:
        Shared.load(self.environment)
        if not Shared.free_members:
            log.error("every seeded member of this process is signed in: seed more members")
            raise StopUser()
        self.member = Shared.free_members.pop()
        self.access_token = self.member["access_token"]
        self.refresh_token = self.member["refresh_token"]
        self.access_expires_at = float(self.member["access_expires_at"])
        self.activated = set(self.member.get("activated", ()))
        self.ensure_token()
        self.stream = Stream(self, "member")
        self.stream.start()
        if CHURN_S > 0:
            self.next_churn()

    def on_stop(self) -> None:
        if self.member is None:
            return
        self.stream_dropped()
        if self.stream is not None:
            self.stream.close()
        self.member["activated"] = sorted(self.activated)
        Shared.free_members.insert(0, self.member)
        self.member = None

    def ws_path(self) -> str:
        return f"/v1/ws?token={quote(self.access_token)}"

    def tokens_changed(self) -> None:
        assert self.member is not None  # handed back with the newest tokens
        self.member["access_token"] = self.access_token
        self.member["refresh_token"] = self.refresh_token
        self.member["access_expires_at"] = self.access_expires_at

    def stream_opened(self) -> None:
        assert self.member is not None
        Shared.followed[self.member["id"]] = self.member
        Shared.opened_at[self.member["id"]] = time.monotonic()

    def stream_dropped(self) -> None:
        if self.member is not None:
            Shared.followed.pop(self.member["id"], None)
            Shared.opened_at.pop(self.member["id"], None)

    # -- connection churn (LOADTEST_CHURN_S) ------------------------------------------------

    def next_churn(self) -> None:
        self.churn_at = time.monotonic() + RNG.uniform(0.5, 1.5) * CHURN_S

    def prepare(self) -> None:
        """Before every task run: churn when it is due, then a token that is not expiring."""
        self.churn_if_due()
        self.ensure_token()

    def churn_if_due(self) -> None:
        if CHURN_S > 0 and time.monotonic() >= self.churn_at:
            self.churn()

    def churn(self) -> None:
        """Like a phone that loses its network or is signed out: close the socket, log out,
        log in again with a one-time code, reopen the socket and resume where it was."""
        assert self.member is not None
        self.next_churn()
        old = self.stream
        self.stream_dropped()
        forget_expected(self.member["id"])
        if old is not None:
            old.close(abrupt=RNG.random() < 0.5)
        self.fresh_connection()  # the app comes back with no connection left
        self.ensure_token()
        with self.client.post(
            "/v1/auth/logout",
            headers=self.bearer(),
            name="/v1/auth/logout",
            catch_response=True,
        ) as response:
            if response.status_code != 204:
                response.failure(problem(response))
            else:
                response.success()
        if not self.log_in():
            self.churn_at = time.monotonic() + 5  # try again soon; requests fail meanwhile
            return
        fresh = Stream(self, "member")
        if old is not None:
            fresh.seqs = dict(old.seqs)  # resume: the missed events come as replays
        self.stream = fresh
        fresh.start()

    def log_in(self) -> bool:
        assert self.member is not None
        phone = self.member["phone"]
        with self.client.post(
            "/v1/auth/otp", json={"phone": phone}, name="/v1/auth/otp", catch_response=True
        ) as response:
            if response.status_code != 202:
                response.failure(problem(response))
                return False
            response.success()
        with self.client.post(
            "/v1/auth/token",
            json={"phone": phone, "code": OTP_CODE},
            name="/v1/auth/token",
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(problem(response))
                return False
            body = response.json()
            response.success()
        self.access_token = body["access_token"]
        self.refresh_token = body["refresh_token"]
        self.access_expires_at = time.time() + int(body["expires_in"])
        self.tokens_changed()
        return True

    # -- tasks ------------------------------------------------------------------------------

    @task(5)
    def me(self) -> None:
        self.prepare()
        self.get_json("/v1/me", "/v1/me")

    @task(3)
    def transactions(self) -> None:
        self.prepare()
        self.get_json("/v1/me/transactions?limit=20", "/v1/me/transactions")

    @task(2)
    def offers(self) -> None:
        self.prepare()
        body = self.get_json("/v1/me/offers", "/v1/me/offers")
        if not body:
            return
        waiting = [
            offer
            for offer in body["items"]
            if offer.get("requires_activation")
            and offer.get("status") == "available"
            and offer["campaign_id"] not in self.activated
        ]
        if waiting and RNG.random() < float(RUN["member"]["activate_share"]):
            offer = RNG.choice(waiting)
            self.fresh_connection()
            with self.client.post(
                f"/v1/me/offers/{offer['campaign_id']}/activate",
                headers={**self.bearer(), "Idempotency-Key": uuid.uuid4().hex},
                name="/v1/me/offers/{id}/activate",
                catch_response=True,
            ) as response:
                if response.status_code != 200:
                    response.failure(problem(response))
                    return
                response.success()
            self.activated.add(offer["campaign_id"])

    @task(1)
    def rotate(self) -> None:
        self.churn_if_due()
        if RNG.random() < float(RUN["member"]["refresh_share"]):
            self.refresh()
        else:
            self.ensure_token()


class StaffDashboard(TokenUser):
    weight = int(RUN["weights"]["StaffDashboard"])
    wait_time = poisson_pacing(float(RUN["pace"]["StaffDashboard"]))
    store: dict[str, Any]
    stream: Stream | None = None

    def on_start(self) -> None:
        credentials = Shared.load(self.environment)
        stores = credentials["stores"]
        turn = next(Shared.store_counter) * WORKERS + worker_index(self.environment)
        self.store = stores[turn % len(stores)]
        manager = self.store["manager"]
        with self.client.post(
            "/v1/staff/token",
            json={"email": manager["email"], "password": manager["password"]},
            name="/v1/staff/token",
            catch_response=True,
        ) as response:
            body = response.json() if response.status_code == 200 else None
            if body is None:
                response.failure(problem(response))
            else:
                response.success()
        if body is None:
            raise StopUser()
        self.access_token = body["access_token"]
        self.refresh_token = body["refresh_token"]
        self.access_expires_at = time.time() + int(body["expires_in"])
        self.stream = Stream(self, "store")
        self.stream.start()

    def on_stop(self) -> None:
        if self.stream is not None:
            self.stream.close()

    def ws_path(self) -> str:
        return f"/v1/ws?store_id={self.store['id']}&token={quote(self.access_token)}"

    @task
    def stats(self) -> None:
        self.ensure_token()
        self.get_json(f"/v1/admin/stores/{self.store['id']}/stats", "/v1/admin/stores/{id}/stats")


class PosTerminal(FastHttpUser):
    weight = int(RUN["weights"]["PosTerminal"])
    wait_time = poisson_pacing(float(RUN["pace"]["PosTerminal"]))
    store: dict[str, Any]
    terminal: dict[str, Any]
    sales: list[dict[str, Any]]  # this till's purchases: id, amount, refunded so far
    close_next = False  # LOADTEST_TILL_DROP: the next request says Connection: close

    def on_start(self) -> None:
        credentials = Shared.load(self.environment)
        terminals = [(s, t) for s in credentials["stores"] for t in s["terminals"]]
        turn = next(Shared.terminal_counter) * WORKERS + worker_index(self.environment)
        self.store, self.terminal = terminals[turn % len(terminals)]
        self.starting_points = int(credentials.get("starting_points", 0))
        self.redeem_share = int(credentials.get("max_redeem_share_percent", 50))
        self.sales = []
        mix = RUN["pos_mix"]
        self.actions = list(mix)
        self.action_weights = [float(mix[a]) for a in self.actions]

    @task
    def serve_customer(self) -> None:
        if TILL_DROP > 0 and RNG.random() < TILL_DROP:
            if RNG.random() < 0.5:
                self.client.client.close()  # the till drops its idle keep-alive connection
            else:
                self.close_next = True  # or asks the server to close it after the answer
        action = RNG.choices(self.actions, self.action_weights)[0]
        if action == "refund" and self.sales:
            self.refund()
            return
        member = self.pick_member()
        if member is None:
            return
        try:
            if action == "checkout":
                self.checkout(member)
            else:
                self.purchase(member, redeem=action == "purchase_redeem")
        finally:
            Shared.busy.discard(member["id"])

    # -- helpers --------------------------------------------------------------------------

    def pick_member(self) -> dict[str, Any] | None:
        """A member at the till: often one with the app open here, never one already at
        another till of this process."""
        followed = Shared.followed
        for _ in range(10):
            if followed and RNG.random() < float(RUN["member"]["followed_share"]):
                member = RNG.choice(list(followed.values()))
            else:
                member = RNG.choice(Shared.members)
            if member["id"] not in Shared.busy:
                Shared.busy.add(member["id"])
                return member
        return None

    def basket(self) -> tuple[int, list[dict[str, Any]]]:
        items = []
        for sku, name, category, price in RNG.sample(MENU, RNG.randint(1, 3)):
            quantity = 1 if category == "merch" else RNG.randint(1, 2)
            items.append(
                {
                    "sku": sku,
                    "name": name,
                    "category": category,
                    "quantity": quantity,
                    "unit_price": price,
                }
            )
        return sum(i["quantity"] * i["unit_price"] for i in items), items

    def points_to_spend(self, member_id: str, amount: int) -> int:
        cap = amount * self.redeem_share // 10000
        available = Shared.available.get(member_id, self.starting_points)
        top = min(cap, available, 200)
        return RNG.randint(1, top) if top >= 1 else 0

    def post(self, path: str, body: dict[str, Any], name: str, expect: int) -> Any:
        headers = {"X-Api-Key": self.terminal["key"], "Idempotency-Key": uuid.uuid4().hex}
        if self.close_next:
            headers["Connection"] = "close"
            self.close_next = False
        with self.client.post(
            path, json=body, headers=headers, name=name, catch_response=True
        ) as response:
            if response.status_code != expect:
                response.failure(problem(response))
                return None
            try:
                answer = response.json()
            except ValueError:
                response.failure("the answer is not JSON")
                return None
            response.success()
        balance = answer.get("balance")
        member_id = answer.get("member_id")
        if balance and member_id:
            Shared.available[str(member_id)] = int(balance["available"])
        return answer

    def sold(self, member: dict[str, Any], sale: dict[str, Any], sent: float) -> None:
        self.sales.append(
            {
                "id": sale["purchase_id"],
                "member": member["id"],
                "amount": sale["amount"],
                "refunded": 0,
            }
        )
        del self.sales[:-200]
        moved = sale.get("points_earned", 0) or sale.get("points_redeemed", 0)
        # Only a sale sent while the member's socket was open: the push of one sent before
        # the socket (re)opened may come with the replay of the resume, not live.
        opened = Shared.opened_at.get(member["id"]) if member["id"] in Shared.followed else None
        if moved and opened is not None and opened < sent:
            expect_push(self.environment, str(sale["purchase_id"]), member["id"], sent)

    # -- what a till does -----------------------------------------------------------------

    def purchase(self, member: dict[str, Any], *, redeem: bool) -> None:
        amount, items = self.basket()
        body: dict[str, Any] = {
            "customer": {"card_number": member["card_number"]},
            "external_id": f"r-{uuid.uuid4().hex}",
            "amount": amount,
            "currency": self.store["currency"],
            "items": items,
        }
        name = "/v1/purchases"
        if redeem:
            points = self.points_to_spend(member["id"], amount)
            if points:
                body["redeem_points"] = points
                name = "/v1/purchases (redeem)"
        sent = time.monotonic()
        sale = self.post("/v1/purchases", body, name, 201)
        if sale is not None:
            self.sold(member, sale, sent)

    def checkout(self, member: dict[str, Any]) -> None:
        amount, items = self.basket()
        opened = self.post(
            "/v1/checkouts",
            {
                "customer": {"card_number": member["card_number"]},
                "external_id": f"c-{uuid.uuid4().hex}",
                "amount": amount,
                "currency": self.store["currency"],
                "items": items,
            },
            "/v1/checkouts",
            201,
        )
        if opened is None:
            return
        checkout_id = opened["checkout_id"]
        available = int(opened["balance"]["available"])
        top = min(int(opened["max_redeemable_points"]), available, 200)
        points = RNG.randint(1, top) if top >= 1 else 0
        held = self.post(
            f"/v1/checkouts/{checkout_id}/hold",
            {"points": points},
            "/v1/checkouts/{id}/hold",
            200,
        )
        if held is None:
            return
        sent = time.monotonic()
        completed = self.post(
            f"/v1/checkouts/{checkout_id}/complete",
            {"payment_ref": f"pay-{uuid.uuid4().hex[:16]}", "paid_amount": amount - points * 100},
            "/v1/checkouts/{id}/complete",
            200,
        )
        if completed is not None and completed.get("purchase"):
            self.sold(member, completed["purchase"], sent)

    def refund(self) -> None:
        open_sales = [s for s in self.sales if s["refunded"] < s["amount"]]
        if not open_sales:
            return
        sale = RNG.choice(open_sales)
        left = sale["amount"] - sale["refunded"]
        amount = left if RNG.random() < 0.5 else max(1, left // 2)
        answer = self.post(
            f"/v1/purchases/{sale['id']}/refunds",
            {"amount": amount, "reason": "load test return"},
            "/v1/purchases/{id}/refunds",
            201,
        )
        if answer is not None:
            sale["refunded"] = int(answer["refunded_amount"])
            Shared.available[sale["member"]] = int(answer["balance"]["available"])
