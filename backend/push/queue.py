"""The push queue: committed stream events become deliveries, one per device, and a worker
sends them at least once.

**Feed** (``feed_push``, run by the worker each round, about every second, and by the
scheduler's round): reads the member events committed since its last run past each member's
position (``backend.deliveries.feed``: once each, a late-committing one included), so the
sale's own transaction writes nothing for push. A sale's points (its ``earn`` and campaign
``bonus`` entries) become one "points earned" notification in the member's language, unless
the member turned the kind off, queued for each of their devices, due at once or, in the
member's quiet hours (their local time), when those end. A delivery is unique per
(device, collapse key): reading an event again queues nothing twice. Runs take the mark's
row lock in turn.

**Delivery** (``deliver_push_due``, on the pipeline's ``backend.deliveries.batch``): a batch
of due deliveries locked ``FOR UPDATE SKIP LOCKED`` in a transaction held while they are
sent (a worker killed mid-batch leaves them pending: at least once; the collapse key makes a
repeat replace, not double, on the device). By outcome: delivered; the device gone (it is
deleted, its deliveries with it); ``Retry-After`` honoured (capped); an outage retried with
backoff and jitter; a refusal, or ``max_attempts`` reached, is a dead letter (``status =
'dead'``, the reason kept). A provider whose circuit is open (``backend.push.breakers``) is
not called: its deliveries are put off until its trial call, their attempts untouched.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from backend.deliveries.batch import deliver_batch
from backend.deliveries.feed import FeedRun, StreamFeed, read_streams
from backend.deliveries.policy import Backoff
from backend.push import metrics
from backend.push.breakers import CircuitOpen, ProviderBreakers
from backend.push.daily_cap import (
    DAILY_CAP,
    already_queued,
    due_within_cap,
    replace_undelivered_sale_updates,
)
from backend.push.devices import device_of, devices_of
from backend.push.live_sockets import LiveDevices
from backend.push.preferences import member_zone, notification_settings, quiet_hours_of
from backend.push.providers import (
    Delivered,
    Failed,
    InvalidToken,
    Notification,
    Outcome,
    PushProvider,
    RetryAfter,
)
from backend.push.schemas import NotificationSettingsView
from backend.push.stream_kinds import TYPES as STREAM_TYPES
from backend.push.stream_kinds import allowed, notification_of
from backend.push.texts import points_earned, points_key
from db import sql
from db.ids import new_id

FEED = StreamFeed(
    name="push_feed",
    marks="push_feed_mark",
    positions="push_feed_position",
    audience="SELECT member FROM member_device",  # nothing is pushed to a member without one
)
MAX_EVENTS = 5000
# A sale's points: its earn and campaign bonus entries (``transaction.created``).
_POINTS_KINDS = ("earn", "bonus")
_QUEUE = """
INSERT INTO push_delivery (id, device, member, collapse_key, notification, next_attempt_at,
                           created_at, source_seq)
VALUES ({id}, {device}, {member}, {collapse_key}, {notification}::jsonb, {due}, {now},
        {source_seq})
ON CONFLICT ON CONSTRAINT one_per_device_and_key DO NOTHING RETURNING id
"""
_DUE = """
SELECT d.id, d.attempts, d.created_at, d.notification::text AS notification, v.id AS device,
       v.member, d.source_seq,
       v.provider, v.token, v.p256dh, v.auth
FROM push_delivery d JOIN member_device v ON v.id = d.device
WHERE d.status = 'pending' AND d.next_attempt_at <= {now}
ORDER BY d.next_attempt_at LIMIT {batch} FOR UPDATE OF d SKIP LOCKED
"""
_DELIVERED = (
    "UPDATE push_delivery SET status = 'delivered', attempts = attempts + 1, "
    "delivered_at = {now}, last_error = NULL WHERE id = {id}"
)
_LATER = (
    "UPDATE push_delivery SET attempts = attempts + 1, next_attempt_at = {at}, "
    "last_error = {error} WHERE id = {id}"
)
_DEAD = (
    "UPDATE push_delivery SET status = 'dead', attempts = attempts + 1, last_error = {error} "
    "WHERE id = {id}"
)
_PUT_OFF = "UPDATE push_delivery SET next_attempt_at = {at} WHERE id = {id}"
_GONE = "DELETE FROM member_device WHERE id = {id}"


@dataclass(frozen=True, slots=True)
class PushPolicy:
    backoff: Backoff = field(
        default_factory=lambda: Backoff(max_attempts=12, backoff_base_s=5.0, backoff_cap_s=1800.0)
    )
    retry_after_cap: timedelta = timedelta(hours=1)


class Paused(msgspec.Struct, frozen=True):
    """Not sent: the provider's circuit is open for ``seconds`` more."""

    seconds: float


# Deliveries held back while another one is the half-open trial wait at least this long.
MIN_PAUSE_S = 1.0


async def feed_push(
    *, now: datetime | None = None, daily_cap: int = DAILY_CAP, limit: int = MAX_EVENTS
) -> int:
    """Queue the notifications of the events committed since the last run; how many. Run by
    the worker each round and by the scheduler's round; runs take the mark's lock in turn."""
    now = now or datetime.now(UTC)
    return (await _feed(now, daily_cap, limit)).queued


async def feed_push_caught_up(
    *,
    now: datetime | None = None,
    daily_cap: int = DAILY_CAP,
    limit: int = MAX_EVENTS,
    most_runs: int = 20,
) -> int:
    """``feed_push`` again while a run stopped at ``limit`` (at most ``most_runs`` runs): for
    the scheduler's round, 30 s apart, which finds as many events as a chain commits in that
    time. One run a round fell behind for good at ~400 events a second: the window it reads
    from only grew, and its read with it (``make loadtest``'s latency climbed, issue #24)."""
    now = now or datetime.now(UTC)
    queued = 0
    for _ in range(most_runs):
        run = await _feed(now, daily_cap, limit)
        queued += run.queued
        if not run.full:
            break
    return queued


async def _feed(now: datetime, daily_cap: int, limit: int) -> FeedRun:
    async def queue(rows: Sequence[sql.Row]) -> int:
        return await _queue_events(rows, now, daily_cap)

    return await read_streams(FEED, queue, now=now, limit=limit)


async def _queue_events(rows: Sequence[sql.Row], now: datetime, daily_cap: int) -> int:
    """The sales first (each one notification of its points), oldest first, then the other
    events. The feed reads only members with a device (``FEED``'s audience): each event of
    a member without one would cost its half-dozen reads (their settings, zone, daily cap,
    what is queued already) for nothing; with a run every 30 s in a serving process, a chain
    selling 100 times a second had ~3,000 sales to go through, ~9 s of the process's CPU in
    one burst, which held up every request meanwhile (issue #24)."""
    sales: dict[tuple[uuid.UUID, str], dict[str, Any]] = {}
    others: list[sql.Row] = []
    for row in rows:
        if row["type"] in STREAM_TYPES:
            others.append(row)
            continue
        if row["type"] != "transaction.created":
            continue
        data = msgspec.json.decode(row["data"])
        if data.get("kind") not in _POINTS_KINDS or data.get("purchase_id") is None:
            continue
        key = (row["member"], str(data["purchase_id"]))
        sale = sales.setdefault(
            key, {"member": key[0], "purchase_id": key[1], "points": 0, "at": row["created_at"]}
        )
        sale["points"] += int(data.get("points") or 0)
        sale["at"] = max(sale["at"], row["created_at"])
        sale["seq"] = row["seq"]  # the member's events come in seq order
    queued = 0
    for sale in sorted(sales.values(), key=lambda sale: sale["at"]):
        queued += await _queue_points(sale, now, daily_cap)
    for event in sorted(others, key=lambda event: event["created_at"]):
        queued += await _queue_event(event, now, daily_cap)
    return queued


async def _queue_event(event: sql.Row, now: datetime, daily_cap: int) -> int:
    member_id: uuid.UUID = event["member"]
    settings = await notification_settings(member_id)
    data = msgspec.json.decode(event["data"])
    notification = notification_of(event["id"], event["type"], data, settings.language)
    if notification is None or not settings.kinds.get(notification.kind, True):  # type: ignore[call-overload]
        return 0
    if await already_queued(member_id, notification.collapse_key):
        return 0
    if not await allowed(member_id, notification):
        return 0
    due = await _due(member_id, settings, notification.collapse_key, now, daily_cap)
    return await queue_for_member(
        member_id, notification, now=now, due=due, source_seq=event["seq"]
    )


async def _due(
    member_id: uuid.UUID,
    settings: NotificationSettingsView,
    collapse_key: str,
    now: datetime,
    daily_cap: int,
) -> datetime:
    """Quiet hours and the daily cap defer, never drop: due when the member's quiet window
    ends, or on the next local day with room."""
    where, quiet = await member_zone(member_id), quiet_hours_of(settings)
    return await due_within_cap(
        member_id, collapse_key, quiet.due_at(now, where), where, quiet, daily_cap
    )


async def _queue_points(sale: Mapping[str, Any], now: datetime, daily_cap: int) -> int:
    member_id: uuid.UUID = sale["member"]
    points = int(sale["points"])
    settings = await notification_settings(member_id)
    if points <= 0 or not settings.kinds["points_earned"]:
        return 0
    key = points_key(sale["purchase_id"])
    if await already_queued(member_id, key):  # read again (a feed that crashed, a deploy)
        return 0
    waiting = await replace_undelivered_sale_updates(member_id, key)
    notification = points_earned(
        purchase_id=sale["purchase_id"],
        points=points + waiting,
        language=settings.language,
        purchases=2 if waiting else 1,
    )
    due = await _due(member_id, settings, key, now, daily_cap)
    return await queue_for_member(member_id, notification, now=now, due=due, source_seq=sale["seq"])


async def queue_for_member(
    member_id: uuid.UUID,
    notification: Notification,
    *,
    now: datetime,
    due: datetime,
    source_seq: int | None = None,
) -> int:
    """One delivery per device of the member (none twice for one collapse key), first
    tried at ``due``. ``source_seq``: the member event it was made from, if any (a device
    whose open socket showed that event is not pushed, ``backend.push.live_sockets``)."""
    encoded = msgspec.json.encode(notification).decode()
    queued = 0
    for device in await devices_of(member_id):
        queued += len(
            await sql.fetch(
                _QUEUE,
                id=new_id(),
                device=device.id,
                member=member_id,
                collapse_key=notification.collapse_key,
                notification=encoded,
                now=now,
                due=due,
                source_seq=source_seq,
            )
        )
    return queued


async def deliver_push_due(
    providers: Mapping[str, PushProvider],
    policy: PushPolicy,
    *,
    batch_size: int = 50,
    breakers: ProviderBreakers | None = None,
    live: LiveDevices | None = None,
) -> int:
    """Send one batch of due deliveries; how many were taken (sent, put off or shown live).
    The worker passes its ``breakers``, kept from batch to batch, and ``live``, the devices'
    open sockets (a delivery whose device's socket showed its event is not sent)."""
    carrier = _Pushes(providers, policy, breakers or ProviderBreakers(), live)
    return await deliver_batch(_DUE, carrier, batch_size=batch_size)


class _Pushes:
    """Push as a ``Carrier``: each row to its device's provider (not one shown live, None,
    nor one whose provider's circuit is open, ``Paused``)."""

    def __init__(
        self,
        providers: Mapping[str, PushProvider],
        policy: PushPolicy,
        breakers: ProviderBreakers,
        live: LiveDevices | None,
    ) -> None:
        self._providers = providers
        self._policy = policy
        self._breakers = breakers
        self._live = live

    async def send(
        self, rows: Sequence[sql.Row], now: datetime
    ) -> Sequence[Outcome | Paused | None]:
        sending = list(rows) if self._live is None else await self._live.unshown(rows)
        outcomes = await asyncio.gather(
            *(_send(self._providers, row, self._breakers) for row in sending)
        )
        sent = {row["id"]: outcome for row, outcome in zip(sending, outcomes, strict=True)}
        return [sent.get(row["id"]) for row in rows]

    async def record(
        self, rows: Sequence[sql.Row], outcomes: Sequence[Outcome | Paused | None], now: datetime
    ) -> None:
        for row, outcome in zip(rows, outcomes, strict=True):
            if outcome is not None:  # None: shown live, marked so already
                await _record(row, outcome, self._policy, now)


async def _send(
    providers: Mapping[str, PushProvider], row: sql.Row, breakers: ProviderBreakers
) -> Outcome | Paused:
    name = row["provider"]
    provider = providers.get(name)
    if provider is None:
        return Failed(f"{name} is not configured", retryable=True)
    try:
        breakers.before_send(name)
    except CircuitOpen:
        return Paused(max(MIN_PAUSE_S, breakers.paused_for_s(name)))
    device = device_of(row, id_column="device")
    notification = msgspec.json.decode(row["notification"], type=Notification)
    outcome = await provider.send(device, notification)
    breakers.record(name, outcome)
    return outcome


async def _record(
    row: sql.Row, outcome: Outcome | Paused, policy: PushPolicy, now: datetime
) -> None:
    attempts = int(row["attempts"]) + 1
    if isinstance(outcome, Paused):
        await sql.fetch(_PUT_OFF, id=row["id"], at=now + timedelta(seconds=outcome.seconds))
        metrics.PAUSED.labels(provider=row["provider"]).inc()
        return
    if isinstance(outcome, Delivered):
        await sql.fetch(_DELIVERED, id=row["id"], now=now)
        metrics.QUEUED_FOR.observe(max(0.0, (now - row["created_at"]).total_seconds()))
        said = "delivered"
    elif isinstance(outcome, InvalidToken):
        await sql.fetch(_GONE, id=row["device"])  # its deliveries go with it
        said = "pruned"
    elif isinstance(outcome, RetryAfter):
        asked = timedelta(seconds=outcome.seconds)
        wait = policy.backoff.wait(attempts, asked, policy.retry_after_cap)
        await sql.fetch(_LATER, id=row["id"], at=now + wait, error=outcome.reason[:500])
        said = "retry_after"
    elif outcome.retryable and attempts < policy.backoff.max_attempts:
        at = now + policy.backoff.delay(attempts)
        await sql.fetch(_LATER, id=row["id"], at=at, error=outcome.reason[:500])
        said = "failed"
    else:
        await sql.fetch(_DEAD, id=row["id"], error=outcome.reason[:500])
        said = "dead"
    metrics.OUTCOMES.labels(provider=row["provider"], outcome=said).inc()
