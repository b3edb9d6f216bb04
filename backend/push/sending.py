"""Telling a member's devices: a sale's points from the member's committed stream, sent to
each device through its provider; a device its provider calls gone is pruned.

What the delivery queue's worker calls (not built yet: docs/notifications.md "Push"); a
``RetryAfter`` or retryable ``Failed`` outcome is the queue's to wait on.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from backend.push.devices import devices_of, prune_device
from backend.push.preferences import notification_settings
from backend.push.providers import Device, InvalidToken, Notification, Outcome, PushProvider
from backend.push.texts import points_earned
from db import sql

# The sale's entries that give points (the earn, campaigns' bonuses), from its own stream.
_SALE_POINTS = """
SELECT COALESCE(SUM((data->>'points')::bigint), 0) AS points FROM member_event
WHERE member = {member_id} AND type = 'transaction.created'
  AND data->>'purchase_id' = {purchase_id} AND data->>'kind' IN ('earn', 'bonus')
"""


async def sale_notification(member_id: uuid.UUID, purchase_id: uuid.UUID) -> Notification | None:
    """The sale's "points earned", collapsed over its entries; None when it earned nothing
    or the member turned the kind off."""
    settings = await notification_settings(member_id)
    if not settings.kinds["points_earned"]:
        return None
    (row,) = await sql.fetch(_SALE_POINTS, member_id=member_id, purchase_id=str(purchase_id))
    points = int(row["points"])
    if points <= 0:
        return None
    return points_earned(purchase_id=str(purchase_id), points=points, language=settings.language)


async def send_to_member(
    member_id: uuid.UUID,
    notification: Notification,
    providers: Mapping[str, PushProvider],
) -> list[tuple[Device, Outcome]]:
    """One push per device whose provider is configured; gone devices pruned."""
    sent: list[tuple[Device, Outcome]] = []
    for device in await devices_of(member_id):
        provider = providers.get(device.provider)
        if provider is None:
            continue  # that provider is off (its credentials unset)
        outcome = await provider.send(device, notification)
        if isinstance(outcome, InvalidToken):
            await prune_device(device)
        sent.append((device, outcome))
    return sent
