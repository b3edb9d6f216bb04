"""Delivering partner webhooks: at least once, in order per member and endpoint, signed.

A batch of due deliveries is locked with ``FOR UPDATE SKIP LOCKED`` in a transaction that
stays open while they are sent (as the accounting outbox does, ``backend.accounting.outbox``):
a worker killed mid-batch leaves them pending, and one sent but not yet marked is sent again
with the same ``webhook-id``, which is how the partner recognises it. Only the head of each
(endpoint, member) queue is due: a failing event of member A holds A's later events for that
endpoint, not B's, nor A's for another endpoint.

A failure is retried with exponential backoff and jitter, or after the endpoint's
``Retry-After`` when it gives one. An endpoint failing for ``disable_after`` without one
success, or answering 410 Gone, is disabled, with an entry on the audit trail and its reason
on the endpoint; its deliveries wait there (nothing is dropped) until an admin enables it.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import msgspec

from backend.audit.trail import record
from backend.deliveries.batch import deliver_batch
from backend.deliveries.policy import Backoff, retry_after
from backend.errors import ValidationFailed
from backend.partners import metrics
from backend.partners.addresses import AddressPolicy
from backend.partners.signing import headers
from backend.streams.stream import json_text
from db import sql
from db.tables import Member, PartnerDelivery, PartnerEndpoint

log = logging.getLogger(__name__)

_DUE = """
SELECT d.id, d.endpoint, d.member, d.type, d.payload::text AS payload, d.attempts,
       d.occurred_at
FROM partner_delivery d JOIN partner_endpoint e ON e.id = d.endpoint
WHERE d.status = 'pending' AND d.next_attempt_at <= {now} AND e.enabled
  AND NOT EXISTS (
      SELECT 1 FROM partner_delivery x
      WHERE x.endpoint = d.endpoint AND x.member = d.member AND x.status = 'pending'
        AND x.seq <= d.seq AND (x.seq < d.seq OR x.occurred_at < d.occurred_at))
ORDER BY d.next_attempt_at LIMIT {batch} FOR UPDATE OF d SKIP LOCKED
"""
_ENDPOINTS = """
SELECT id, url, secret, previous_secret, previous_secret_until, personal_data_allowed,
       failing_since
FROM partner_endpoint WHERE id = ANY({ids}::uuid[]) FOR NO KEY UPDATE
"""
_FIGURES = """
SELECT MIN(d.occurred_at) AS oldest, COUNT(*) AS pending
FROM partner_delivery d JOIN partner_endpoint e ON e.id = d.endpoint
WHERE d.status = 'pending' AND e.enabled
"""
_DISABLED = (
    "SELECT COUNT(*) AS n FROM partner_endpoint WHERE NOT enabled AND disabled_reason IS NOT NULL"
)
# The personal data an endpoint allowed it receives (docs/security.md names these columns).
PERSONAL = (Member.phone, Member.card_number, Member.birth_date, Member.time_zone)


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    backoff: Backoff = field(
        default_factory=lambda: Backoff(backoff_base_s=5.0, backoff_cap_s=3600.0)
    )
    retry_after_cap: timedelta = timedelta(hours=24)
    disable_after: timedelta = timedelta(days=5)


@dataclass(frozen=True, slots=True)
class Answer:
    """What one attempt came to: an HTTP status, or None when no answer came."""

    status: int | None
    error: str | None = None
    retry_after: timedelta | None = None

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class PartnerClient:
    """Posts signed deliveries; redirects are not followed (they could lead anywhere)."""

    def __init__(self, *, addresses: AddressPolicy, timeout_s: float = 10.0) -> None:
        self._addresses = addresses
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(timeout_s), follow_redirects=False)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def post(self, url: str, body: bytes, signed: dict[str, str], now: datetime) -> Answer:
        try:
            await self._addresses.check(url)  # again: the name may point elsewhere by now
        except ValidationFailed as refused:
            metrics.FAILED.labels("address").inc()
            return Answer(status=None, error=refused.detail)
        try:
            response = await self._http.post(
                url, content=body, headers={**signed, "content-type": "application/json"}
            )
        except httpx.HTTPError as exc:
            metrics.FAILED.labels("network").inc()
            return Answer(status=None, error=f"{type(exc).__name__}: {exc}"[:500])
        if 200 <= response.status_code < 300:
            metrics.SENT.inc()
            return Answer(status=response.status_code)
        metrics.FAILED.labels("status").inc()
        return Answer(
            status=response.status_code,
            error=f"HTTP {response.status_code}: {response.text[:200]}",
            retry_after=retry_after(response.headers.get("retry-after"), now),
        )


def webhook_id(delivery_id: uuid.UUID) -> str:
    return f"msg_{delivery_id.hex}"


async def deliver_due(
    client: PartnerClient,
    policy: DeliveryPolicy,
    *,
    now: datetime | None = None,
    batch_size: int = 50,
) -> int:
    """Send one batch of due deliveries; return how many were attempted."""
    return await deliver_batch(_DUE, _Webhooks(client, policy), batch_size=batch_size, now=now)


class _Webhooks:
    """Partner webhooks as a ``Carrier``: signed posts, then each endpoint judged."""

    def __init__(self, client: PartnerClient, policy: DeliveryPolicy) -> None:
        self._client = client
        self._policy = policy
        self._endpoints: dict[Any, sql.Row] = {}

    async def send(self, rows: Sequence[sql.Row], now: datetime) -> Sequence[Answer]:
        ids = list({r["endpoint"] for r in rows})
        self._endpoints = {row["id"]: row for row in await sql.fetch(_ENDPOINTS, ids=ids)}
        people = await _personal_data(rows, self._endpoints)
        return await asyncio.gather(
            *(
                _send(self._client, row, self._endpoints[row["endpoint"]], people, now)
                for row in rows
            )
        )

    async def record(
        self, rows: Sequence[sql.Row], outcomes: Sequence[Answer], now: datetime
    ) -> None:
        for row, answer in zip(rows, outcomes, strict=True):
            await _record(row, answer, self._policy, now)
        for endpoint in self._endpoints.values():
            await _judge_endpoint(endpoint, rows, outcomes, self._policy, now)


async def _personal_data(
    rows: Sequence[sql.Row], endpoints: dict[Any, sql.Row]
) -> dict[Any, dict[str, Any]]:
    """The members' personal data, read only for the endpoints allowed it."""
    members = {r["member"] for r in rows if endpoints[r["endpoint"]]["personal_data_allowed"]}
    if not members:
        return {}
    found = await Member.select(Member.id, *PERSONAL).where(Member.id.is_in(list(members)))
    return {
        row.pop("id"): {
            **row,
            "birth_date": None if row["birth_date"] is None else row["birth_date"].isoformat(),
        }
        for row in found
    }


def body_of(row: sql.Row, personal: dict[str, Any] | None) -> bytes:
    """The Standard Webhooks payload: ``type``, ``timestamp`` (when it happened), ``data``."""
    data = msgspec.json.decode(row["payload"])
    if personal is not None:
        data["member"] = personal
    return json_text(
        {"type": row["type"], "timestamp": row["occurred_at"].isoformat(), "data": data}
    ).encode()


async def _send(
    client: PartnerClient,
    row: sql.Row,
    endpoint: sql.Row,
    people: dict[Any, dict[str, Any]],
    now: datetime,
) -> Answer:
    personal = people.get(row["member"]) if endpoint["personal_data_allowed"] else None
    body = body_of(row, personal)
    keys = [endpoint["secret"]]
    until = endpoint["previous_secret_until"]
    if endpoint["previous_secret"] and until is not None and until > now:
        keys.append(endpoint["previous_secret"])
    signed = headers(keys, webhook_id(row["id"]), int(now.timestamp()), body)
    return await client.post(endpoint["url"], body, signed, now)


async def _record(row: sql.Row, answer: Answer, policy: DeliveryPolicy, now: datetime) -> None:
    attempts = row["attempts"] + 1
    if answer.delivered:
        values: dict[Any, Any] = {
            PartnerDelivery.status: "delivered",
            PartnerDelivery.delivered_at: now,
            PartnerDelivery.last_error: None,
        }
    else:
        wait = policy.backoff.wait(attempts, answer.retry_after, policy.retry_after_cap)
        values = {
            PartnerDelivery.next_attempt_at: now + wait,
            PartnerDelivery.last_error: answer.error,
        }
        log.warning(
            "partner delivery %s failed (attempt %d): %s", row["id"], attempts, answer.error
        )
    values[PartnerDelivery.attempts] = attempts
    values[PartnerDelivery.last_status] = answer.status
    await PartnerDelivery.update(values).where(PartnerDelivery.id == row["id"])


async def _judge_endpoint(
    endpoint: sql.Row,
    rows: Sequence[sql.Row],
    answers: Sequence[Answer],
    policy: DeliveryPolicy,
    now: datetime,
) -> None:
    """A success ends the endpoint's failure run; a 410, or a run past ``disable_after``,
    disables it."""
    endpoint_id = endpoint["id"]
    mine = [a for r, a in zip(rows, answers, strict=True) if r["endpoint"] == endpoint_id]
    if any(answer.delivered for answer in mine):
        if endpoint["failing_since"] is not None:
            await PartnerEndpoint.update({PartnerEndpoint.failing_since: None}).where(
                PartnerEndpoint.id == endpoint_id
            )
        return
    since = endpoint["failing_since"] or now
    reason = None
    if any(answer.status == 410 for answer in mine):
        reason = "the endpoint answered 410 Gone"
    elif now - since >= policy.disable_after:
        reason = f"every delivery failed since {since.isoformat()}"
    values: dict[Any, Any] = {PartnerEndpoint.failing_since: since}
    if reason is not None:
        values |= {PartnerEndpoint.enabled: False, PartnerEndpoint.disabled_reason: reason}
    await PartnerEndpoint.update(values).where(PartnerEndpoint.id == endpoint_id)
    if reason is not None:
        log.error("partner endpoint %s disabled: %s", endpoint_id, reason)
        await record(
            "partner_endpoint.disabled",
            target_type="partner_endpoint",
            target_id=endpoint_id,
            before={"enabled": True, "failing_since": since.isoformat()},
            after={"enabled": False, "disabled_reason": reason},
        )


async def sample_partner_figures(*, now: datetime | None = None) -> None:
    figures = (await sql.fetch(_FIGURES))[0]
    oldest = figures["oldest"]
    current = now or datetime.now(UTC)
    metrics.LAG.set((current - oldest).total_seconds() if oldest else 0.0)
    metrics.PENDING.set(figures["pending"])
    metrics.DISABLED.set((await sql.fetch(_DISABLED))[0]["n"])
