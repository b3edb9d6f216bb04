"""An endpoint's deliveries as admins see them, and a replay: the event sent again, with its
own ``webhook-id`` (a partner that already has it recognises it), behind nothing and before
the member's later pending events (it takes its place in the member's queue by seq)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from backend.audit.trail import record
from backend.errors import NotFound, ValidationFailed
from backend.partners.delivery import webhook_id
from backend.partners.endpoints import get_endpoint
from backend.partners.schemas import DeliveryOut, DeliveryPage
from db.pool import engine
from db.tables import PartnerDelivery

STATUSES = ("pending", "delivered")
_COLUMNS = (
    PartnerDelivery.id,
    PartnerDelivery.type,
    PartnerDelivery.member,
    PartnerDelivery.seq,
    PartnerDelivery.status,
    PartnerDelivery.attempts,
    PartnerDelivery.next_attempt_at,
    PartnerDelivery.last_status,
    PartnerDelivery.last_error,
    PartnerDelivery.occurred_at,
    PartnerDelivery.created_at,
    PartnerDelivery.delivered_at,
)


def _out(row: dict[str, Any]) -> DeliveryOut:
    member = row.pop("member")
    return DeliveryOut(webhook_id=webhook_id(row["id"]), member_id=member, **row)


async def list_deliveries(
    endpoint_id: uuid.UUID, *, status: str | None, limit: int, cursor: str | None
) -> DeliveryPage:
    """Newest first."""
    await get_endpoint(endpoint_id)  # NotFound
    where: Any = PartnerDelivery.endpoint == endpoint_id
    if status is not None:
        where &= PartnerDelivery.status == status
    if cursor is not None:
        try:
            where &= PartnerDelivery.id < uuid.UUID(cursor)
        except ValueError as exc:
            raise ValidationFailed("cursor is not valid", field="cursor") from exc
    rows = (
        await PartnerDelivery.select(*_COLUMNS)
        .where(where)
        .order_by(PartnerDelivery.id, ascending=False)
        .limit(limit + 1)
    )
    items = [_out(row) for row in rows[:limit]]
    return DeliveryPage(items=items, next_cursor=str(items[-1].id) if len(rows) > limit else None)


async def replay_delivery(endpoint_id: uuid.UUID, delivery_id: uuid.UUID) -> DeliveryOut:
    """Put a delivery back in line, due now, with a fresh attempt count."""
    where = (PartnerDelivery.id == delivery_id) & (PartnerDelivery.endpoint == endpoint_id)
    async with engine().transaction():
        before = await PartnerDelivery.select(*_COLUMNS).where(where).lock_rows("UPDATE").first()
        if before is None:
            raise NotFound(f"delivery {delivery_id} of endpoint {endpoint_id} does not exist")
        await PartnerDelivery.update(
            {
                PartnerDelivery.status: "pending",
                PartnerDelivery.attempts: 0,
                PartnerDelivery.next_attempt_at: datetime.now(UTC),
                PartnerDelivery.delivered_at: None,
            }
        ).where(where)
        await record(
            "partner_delivery.replayed",
            target_type="partner_endpoint",
            target_id=endpoint_id,
            before={"delivery": str(delivery_id), "status": before["status"]},
            after={"delivery": str(delivery_id), "status": "pending"},
        )
        after = await PartnerDelivery.select(*_COLUMNS).where(where).first()
    assert after is not None
    return _out(after)
