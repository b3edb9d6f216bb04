"""The pieces of the fault tests (``test_faults.py``): app processes on private servers, data
seeded straight into a fresh database, tills and phones that retry like real ones, members
watching their stream, and the audit that every scenario ends with.

Only ever talks to 127.0.0.1. Every loop is bounded in count and time.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import signal
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx

from devkit import processes
from devkit import seed as devkit_seed
from devkit.processes import AppProcess
from devkit.seed import Seeded, SeededMember
from realtime.client import MemberStreamClient

PROBLEM_JSON = "application/problem+json"
# A request with no answer after this long counts as hanging (fail-fast bounds are tighter).
REQUEST_TIMEOUT_S = 15.0


def app_env(database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    """The environment of our ``astrocoffee`` processes: this test's servers, nothing of the
    run's own settings, limits lifted (the load comes from one address)."""
    settings = {
        "ASTROCOFFEE_ENVIRONMENT": "test",
        "ASTROCOFFEE_REDIS_PREFIX": f"faults-{secrets.token_hex(3)}:",
        "ASTROCOFFEE_SECRET_KEY": secrets.token_urlsafe(40),
        "ASTROCOFFEE_LOG_LEVEL": "WARNING",
        "ASTROCOFFEE_AUTH_RATE_LIMIT_PER_MINUTE": "10000000",
        "ASTROCOFFEE_POS_RATE_LIMIT_PER_MINUTE": "10000000",
        "ASTROCOFFEE_MAINTENANCE_INTERVAL_S": "0",
        "ASTROCOFFEE_WORKER_METRICS_PORT": "0",
    }
    return processes.app_env(database_url, redis_url, **(settings | extra))


def astrocoffee(*args: str, env: dict[str, str], timeout_s: float = 120) -> str:
    """Run a CLI command to completion; its output, or AssertionError with it if it failed."""
    done = processes.astrocoffee(*args, env=env, timeout_s=timeout_s)
    assert done.returncode == 0, f"astrocoffee {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


# --- data ---------------------------------------------------------------------------------


async def seed(
    database_url: str, redis_url: str, env: dict[str, str], *, tills: int, members: int
) -> Seeded:
    """One store with ``tills`` terminals and ``members`` members with a login session each,
    written straight into the fresh database (and the sessions into Redis: ``devkit.seed``)."""
    return await devkit_seed.seed(
        database_url,
        redis_url,
        redis_prefix=env["ASTROCOFFEE_REDIS_PREFIX"],
        secret_key=env["ASTROCOFFEE_SECRET_KEY"],
        members=members,
        tills_per_store=tills,
        store_name="Fault store",
        device="fault test",
    )


# --- clients that retry -------------------------------------------------------------------


@dataclass
class Attempt:
    started: float  # time.monotonic()
    seconds: float
    status: int | None  # None: no HTTP answer (refused, reset, timed out)
    code: str | None  # the problem's code, or the transport error's class name
    problem_json: bool


@dataclass
class Call:
    """One logical request (one Idempotency-Key) and every attempt at it."""

    key: str
    path: str
    body: dict[str, Any]
    attempts: list[Attempt] = field(default_factory=list)
    result: dict[str, Any] | None = None  # the body of the answer that settled it
    final_status: int | None = None


RETRYABLE_CONFLICT = "idempotent_request_in_progress"


async def call_with_retries(
    http: httpx.AsyncClient,
    call: Call,
    *,
    endpoints: list[str],
    headers: dict[str, str],
    deadline: float,
    final: Callable[[httpx.Response], bool] = lambda r: r.status_code in (200, 201),
    on_transport_error: Callable[[], None] = lambda: None,
) -> None:
    """Send ``call`` until it settles, as a till or phone would: the same key and body after
    no answer, a 503 or "still in progress"; ``endpoints[0]`` is where to send it, and a
    transport error lets the caller rotate it. Anything else settles it too (and is judged
    by the test)."""
    while time.monotonic() < deadline:
        started = time.monotonic()
        try:
            response = await http.post(
                endpoints[0] + call.path,
                json=call.body,
                headers={**headers, "Idempotency-Key": call.key},
                timeout=REQUEST_TIMEOUT_S,
            )
        except httpx.TransportError as exc:
            call.attempts.append(
                Attempt(started, time.monotonic() - started, None, type(exc).__name__, False)
            )
            on_transport_error()
            await asyncio.sleep(0.05)
            continue
        problem_json = response.headers.get("content-type", "").startswith(PROBLEM_JSON)
        code = response.json().get("code") if problem_json else None
        call.attempts.append(
            Attempt(started, time.monotonic() - started, response.status_code, code, problem_json)
        )
        retry = (response.status_code == 503 and code == "service_unavailable") or (
            response.status_code == 409 and code == RETRYABLE_CONFLICT
        )
        if retry and not final(response):
            await asyncio.sleep(random.uniform(0.05, 0.25))
            continue
        call.final_status = response.status_code
        call.result = response.json()
        return


class Tills:
    """``len(keys)`` tills selling ``count`` purchases between them, each till one at a time,
    to members picked at random (never a retired one). Each purchase retries with its key
    until it is answered; ``endpoints`` is shared, a till that gets no answer moves on to the
    next address in it."""

    def __init__(
        self,
        endpoints: list[str],
        seeded: Seeded,
        count: int,
        *,
        deadline_s: float,
        seed: int = 20261126,
        pause_s: float = 0.0,
    ) -> None:
        self.endpoints = endpoints
        self.seeded = seeded
        self.count = count
        self.deadline = time.monotonic() + deadline_s
        self.random = random.Random(seed)
        self.pause_s = pause_s
        self.retired: set[str] = set()
        self.calls: list[Call] = []
        self.started = 0
        self.settled = 0
        self._changed = asyncio.Event()

    def _next_body(self, till: int) -> dict[str, Any]:
        choices = [m for m in self.seeded.members if m.member_id not in self.retired]
        member = self.random.choice(choices or self.seeded.members)
        return {
            "customer": {"card_number": member.card_number},
            "external_id": f"receipt-{till}-{uuid.uuid4().hex[:12]}",
            "amount": self.random.randrange(5000, 90000, 100),
            "currency": "RUB",
        }

    async def run(self) -> None:
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=100)) as http:
            await asyncio.gather(
                *(self._till(http, i, key) for i, key in enumerate(self.seeded.till_keys))
            )

    async def _till(self, http: httpx.AsyncClient, till: int, api_key: str) -> None:
        endpoints = list(self.endpoints)

        def rotate() -> None:
            endpoints.append(endpoints.pop(0))

        while self.started < self.count and time.monotonic() < self.deadline:
            self.started += 1
            call = Call(uuid.uuid4().hex, "/v1/purchases", self._next_body(till))
            self.calls.append(call)
            await call_with_retries(
                http,
                call,
                endpoints=endpoints,
                headers={"X-Api-Key": api_key},
                deadline=self.deadline,
                on_transport_error=rotate,
            )
            self.settled += 1
            self._changed.set()
            if self.pause_s:
                await asyncio.sleep(self.pause_s)

    async def reached(self, fraction: float) -> None:
        """Wait until that share of the purchases is settled."""
        while self.settled < fraction * self.count and time.monotonic() < self.deadline:
            self._changed.clear()
            await asyncio.wait_for(
                self._changed.wait(), timeout=max(self.deadline - time.monotonic(), 0.01)
            )


class OrderPlacer:
    """A phone placing app orders one after another, the members in turn, each spending 5
    points; retried with the same key as the app does. Runs until ``stop_after`` is met."""

    def __init__(self, api: httpx.AsyncClient, seeded: Seeded, *, pause_s: float = 0.1) -> None:
        self.api = api
        self.seeded = seeded
        self.pause_s = pause_s
        self.calls: list[Call] = []
        self._since: float | None = None
        self._after = 0
        self.deadline = time.monotonic() + 300

    def stop_after(self, since: float, *, orders_after: int) -> None:
        """Stop once that many orders placed after ``since`` are answered."""
        self._since, self._after = since, orders_after

    def _done(self) -> bool:
        if self._since is None:
            return False
        since = self._since
        answered = [c for c in self.calls if c.attempts and c.attempts[0].started > since]
        return sum(1 for c in answered if c.final_status is not None) >= self._after

    async def refused_since(self, since: float, timeout_s: float = 30) -> None:
        """Wait until an order placed after ``since`` was refused (503)."""
        deadline = time.monotonic() + timeout_s
        while not any(c.final_status == 503 and c.attempts[0].started >= since for c in self.calls):
            assert time.monotonic() < deadline, "no order was refused"
            await asyncio.sleep(0.05)

    async def run(self) -> None:
        turn = 0
        while not self._done() and time.monotonic() < self.deadline:
            member = self.seeded.members[turn % len(self.seeded.members)]
            turn += 1
            call = Call(
                uuid.uuid4().hex,
                "/v1/orders",
                {
                    "store_id": self.seeded.store_id,
                    "amount": 35000,
                    "currency": "RUB",
                    "redeem_points": 5,
                },
            )
            self.calls.append(call)
            await call_with_retries(
                self.api,
                call,
                endpoints=[str(self.api.base_url).rstrip("/")],
                headers={"Authorization": f"Bearer {member.token}"},
                deadline=self.deadline,
            )
            await asyncio.sleep(self.pause_s)


class ProviderDesk:
    """The payment provider's own work: it completes each new payment (every fifth one
    declined) and sends the webhooks, except while it is down or hanging. ``gate`` is held
    meanwhile, so that a test switching the provider off never does it in the middle of a
    webhook's confirmation (a real provider retries those; the fake does not)."""

    def __init__(self, provider: Any) -> None:
        self.provider = provider
        self.gate = asyncio.Lock()
        self.completed = 0

    async def run(self) -> None:
        while True:
            await self.settle_all()
            await asyncio.sleep(0.1)

    async def settle_all(self) -> None:
        async with self.gate:
            if self.provider.down or self.provider.hang:
                return
            for payment in list(self.provider.payments.values()):
                if payment.status == "pending":
                    self.completed += 1
                    outcome = "failed" if self.completed % 5 == 0 else "succeeded"
                    await self.provider.settle(payment.payment_id, outcome)


# --- members watching their stream ---------------------------------------------------------


class Watchers:
    """A connected phone per member: every seq each one was handed, in order received."""

    def __init__(self, ws_url: str, members: list[SeededMember]) -> None:
        self.clients = {
            m.member_id: MemberStreamClient(ws_url, m.token, last_seq=0) for m in members
        }
        self.seqs: dict[str, list[int]] = {m: [] for m in self.clients}
        self.resyncs = 0
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._follow(m)) for m in self.clients]
        deadline = time.monotonic() + 30
        while any(c.connections == 0 for c in self.clients.values()):
            assert time.monotonic() < deadline, "the phones could not connect"
            await asyncio.sleep(0.05)

    async def _follow(self, member_id: str) -> None:
        stream = self.clients[member_id].events()
        try:
            async for frame in stream:
                if frame["type"] == "resync":
                    self.resyncs += 1
                elif frame.get("stream") != "broadcast":
                    self.seqs[member_id].append(int(frame["seq"]))
        finally:
            await stream.aclose()

    @property
    def reconnects(self) -> int:
        """Connections opened beyond each phone's first."""
        return sum(client.connections - 1 for client in self.clients.values())

    def missing(self, last_seqs: dict[str, int]) -> dict[str, list[int]]:
        """Per member whose phone was not handed exactly 1..its last seq, in order: the seqs
        it never got."""
        return {
            m: sorted(set(range(1, last + 1)) - set(self.seqs[m]))
            for m, last in last_seqs.items()
            if self.seqs[m] != list(range(1, last + 1))
        }

    async def received(self, expected: dict[str, int], timeout_s: float) -> bool:
        """Wait until each member's phone has reached its expected last seq."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if all((self.seqs[m] or [0])[-1] >= seq for m, seq in expected.items()):
                return True
            await asyncio.sleep(0.1)
        return False

    async def got_every_event(self, last_seqs: dict[str, int], timeout_s: float = 30) -> None:
        """Each phone is handed 1..its member's last seq, in order, within ``timeout_s``,
        without a resync or a reconnect."""
        delivered = await self.received(last_seqs, timeout_s=timeout_s)
        missing = self.missing(last_seqs)
        assert delivered and missing == {}, f"phones missed events: {missing}"
        assert self.resyncs == 0
        assert self.reconnects == 0, "phones caught up without reconnecting"

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def _unpublished(publisher: Any, committed: dict[str, int]) -> dict[str, range]:
    """Each member's seqs committed and not (yet) published, as Redis remembers them."""
    published = await publisher.published_seqs(list(committed))
    return {
        m: range((published[m] or 0) + 1, seq + 1)
        for m, seq in committed.items()
        if seq > (published[m] or 0)
    }


async def kill_between_commit_and_publish(
    app: AppProcess, database_url: str, redis_url: str, prefix: str, *, tries: int = 60
) -> dict[str, range]:
    """SIGKILL ``app`` at a moment when it has committed member events it has not published
    yet, if one comes within ``tries``: freeze it (SIGSTOP), compare each member's newest
    committed seq with the newest one published (what the relay compares too), and kill it
    there, or let it run a moment more (SIGCONT) and look again. Return the members caught
    that way with the seqs committed and not published; the process is dead either way."""
    from redis.asyncio import Redis

    from realtime.publisher import EventPublisher

    redis = Redis.from_url(redis_url)
    publisher = EventPublisher(redis=redis, prefix=prefix)
    connection = await asyncpg.connect(database_url)
    caught: dict[str, range] = {}
    try:
        for _ in range(tries):
            app.signal(signal.SIGSTOP)
            await asyncio.sleep(0.05)  # what it had already sent reaches PostgreSQL and Redis
            committed = {
                str(r["member"]): int(r["last_event_seq"])
                for r in await connection.fetch(
                    "SELECT member, last_event_seq FROM account WHERE last_event_seq > 0"
                )
            }
            caught = await _unpublished(publisher, committed)
            if caught:
                # Looked at again a moment later, still frozen: a pipeline the process wrote
                # just before the freeze may reach Redis after the first look (a loaded
                # machine), publishing what looked unpublished; only what is still missing
                # then was really caught between commit and publish.
                await asyncio.sleep(0.2)
                caught = await _unpublished(publisher, {m: committed[m] for m in caught})
            if caught:
                break
            app.signal(signal.SIGCONT)
            await asyncio.sleep(random.uniform(0.005, 0.05))
    finally:
        app.kill()
        await connection.close()
        await redis.aclose()
    return caught


# --- the audit ------------------------------------------------------------------------------


@dataclass
class Books:
    purchases: int
    ledger_entries: int
    member_events: int
    outbox_messages: int
    points_owed: int  # available + pending + held, over every account
    last_seqs: dict[str, int]


async def audit(database_url: str, env: dict[str, str], calls: list[Call]) -> Books:
    """What every scenario ends with: each settled purchase key is one purchase with its
    ledger entries, events and accounting document, and nothing else is; every member's
    events are seq 1..n without a gap; the ledger verifies (``astrocoffee ledger verify``)."""
    connection = await asyncpg.connect(database_url)
    try:
        purchases = await connection.fetch(
            "SELECT id, external_id, points_earned, points_redeemed, terminal FROM purchase"
        )
        by_cause = await connection.fetch(
            "SELECT cause_type, cause_id, count(*) AS n FROM ledger_entry"
            " GROUP BY cause_type, cause_id"
        )
        entries = await connection.fetchval("SELECT count(*) FROM ledger_entry")
        events = await connection.fetch(
            "SELECT e.member, array_agg(e.seq ORDER BY e.seq) AS seqs, a.last_event_seq"
            " FROM account a LEFT JOIN member_event e ON e.member = a.member"
            " GROUP BY e.member, a.member, a.last_event_seq"
        )
        event_count = await connection.fetchval("SELECT count(*) FROM member_event")
        purchase_events = {
            r["p"]
            for r in await connection.fetch(
                "SELECT DISTINCT data->>'purchase_id' AS p FROM member_event"
                " WHERE type = 'transaction.created' AND data->>'purchase_id' IS NOT NULL"
            )
        }
        documents = await connection.fetch("SELECT kind, reference FROM outbox_message")
        owed = await connection.fetchval(
            "SELECT coalesce(sum(available + pending + held), 0) FROM account"
        )
        records = await connection.fetchval(
            "SELECT (SELECT count(*) FROM idempotency_record WHERE scope LIKE 'terminal:%')"
            " + (SELECT count(*) FROM purchase WHERE idempotency_key IS NOT NULL)"
        )
    finally:
        await connection.close()

    pos = [c for c in calls if c.path == "/v1/purchases"]
    settled = [c for c in pos if c.final_status in (200, 201)]
    assert len(settled) == len(pos), "every till purchase must succeed in the end"
    by_id = {str(p["id"]): p for p in purchases}
    till_purchases = {k: p for k, p in by_id.items() if p["terminal"] is not None}
    answered = {c.result["purchase_id"] for c in settled if c.result is not None}
    assert len(answered) == len(settled), "two keys were answered with the same purchase"
    assert answered == set(till_purchases), "purchases differ from the keys that succeeded"
    assert {c.body["external_id"] for c in settled} == {
        p["external_id"] for p in till_purchases.values()
    }
    for call in settled:
        assert call.result is not None
        row = by_id[call.result["purchase_id"]]
        assert (row["points_earned"], row["points_redeemed"]) == (
            call.result["points_earned"],
            call.result["points_redeemed"],
        ), "a replayed answer differs from the purchase"
    causes = {(r["cause_type"], str(r["cause_id"])) for r in by_cause}
    purchase_causes = {cause_id for kind, cause_id in causes if kind == "purchase"}
    assert purchase_causes <= set(by_id), "ledger entries for a purchase that does not exist"
    assert {k for k, p in by_id.items() if p["points_earned"] > 0} <= purchase_causes
    assert purchase_events == set(by_id), "purchases and their transaction.created events differ"
    sales = [d["reference"] for d in documents if d["kind"] == "sale"]
    assert sorted(sales) == sorted(by_id), "sales and their accounting documents differ"
    assert records == len(pos), "idempotency records differ from the keys that succeeded"
    last_seqs = {}
    for row in events:
        seqs = [s for s in (row["seqs"] or []) if s is not None]
        assert seqs == list(range(1, row["last_event_seq"] + 1)), f"gap in {row['member']}"
        if row["member"] is not None:
            last_seqs[str(row["member"])] = int(row["last_event_seq"])
    verify = await asyncio.to_thread(astrocoffee, "ledger", "verify", env=env)
    assert " 0 mismatches" in verify, verify
    return Books(
        purchases=len(by_id),
        ledger_entries=int(entries),
        member_events=int(event_count),
        outbox_messages=len(documents),
        points_owed=int(owed),
        last_seqs=last_seqs,
    )


async def wait_until_none(database_url: str, rows: str, timeout_s: float = 60) -> None:
    """Wait until ``SELECT count(*) FROM <rows>`` is 0."""
    connection = await asyncpg.connect(database_url)
    try:
        deadline = time.monotonic() + timeout_s
        while (left := await connection.fetchval(f"SELECT count(*) FROM {rows}")) > 0:
            assert time.monotonic() < deadline, f"{left} rows still in {rows}"
            await asyncio.sleep(0.2)
    finally:
        await connection.close()


@dataclass
class Orders:
    paid: int
    failed: int
    points: int  # earned less spent, over the paid orders' sales
    outbox_ids: list[str]
    business_days: list[str]


async def audit_orders(database_url: str, provider: Any, calls: list[Call]) -> Orders:
    """One order per key; a paid order has one succeeded payment of its amount at the
    provider and one capture of its points; a failed one has none of either and its hold
    given back; no points stay held."""
    connection = await asyncpg.connect(database_url)
    try:
        orders = {
            str(r["id"]): r
            for r in await connection.fetch(
                "SELECT id, status, hold_points, payable_amount, payment_id, purchase"
                " FROM customer_order"
            )
        }
        entries = await connection.fetch(
            "SELECT cause_id, kind, count(*) AS n FROM ledger_entry WHERE cause_type = 'order'"
            " GROUP BY cause_id, kind"
        )
        sales = {
            str(r["id"]): r["points_earned"] - r["points_redeemed"]
            for r in await connection.fetch(
                "SELECT id, points_earned, points_redeemed FROM purchase WHERE terminal IS NULL"
            )
        }
        held = await connection.fetchval("SELECT coalesce(sum(held), 0) FROM account")
        outbox = [str(r["id"]) for r in await connection.fetch("SELECT id FROM outbox_message")]
        days = [
            str(r["d"])
            for r in await connection.fetch(
                "SELECT DISTINCT business_date AS d FROM outbox_message ORDER BY d"
            )
        ]
    finally:
        await connection.close()
    answered = [
        c.result.get("order_id") or c.result["extra"]["order_id"]
        for c in calls
        if c.result is not None
    ]
    assert len(answered) == len(calls) and sorted(answered) == sorted(orders)
    for call in calls:
        assert call.result is not None
        if call.final_status == 503:
            assert orders[call.result["extra"]["order_id"]]["status"] == "failed"
    kinds: dict[tuple[str, str], int] = {(str(r["cause_id"]), r["kind"]): r["n"] for r in entries}
    payments: dict[str, list[Any]] = {}
    for payment in provider.payments.values():
        payments.setdefault(payment.reference, []).append(payment)
    paid = failed = points = 0
    for order_id, order in orders.items():
        theirs = payments.get(order_id, [])
        assert len(theirs) <= 1, f"order {order_id} was charged twice"
        assert kinds.get((order_id, "hold"), 0) == 1
        if order["status"] == "paid":
            paid += 1
            assert [p.status for p in theirs] == ["succeeded"]
            assert theirs[0].amount == order["payable_amount"]
            assert kinds.get((order_id, "capture"), 0) == 1
            assert kinds.get((order_id, "void"), 0) == 0
            points += sales.pop(str(order["purchase"]))
        else:
            assert order["status"] == "failed", f"order {order_id} is {order['status']}"
            failed += 1
            assert [p.status for p in theirs] in ([], ["failed"])
            assert kinds.get((order_id, "capture"), 0) == 0
            assert kinds.get((order_id, "void"), 0) == 1
            assert order["purchase"] is None
    assert sales == {}, "a sale without a paid order"
    assert held == 0, "points left held"
    return Orders(paid, failed, points, outbox, days)


def points_said(calls: list[Call]) -> int:
    """The points the answers of the settled till purchases add up to."""
    return sum(
        c.result["points_earned"] - c.result["points_redeemed"]
        for c in calls
        if c.path == "/v1/purchases" and c.result is not None and c.final_status in (200, 201)
    )


def attempts(calls: list[Call]) -> list[Attempt]:
    return [a for c in calls for a in c.attempts]


def report(scenario: str, **figures: Any) -> None:
    """One line of figures per scenario (shown by ``make faults``, which runs pytest -s)."""
    print(f"\nFAULTS {scenario}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))
