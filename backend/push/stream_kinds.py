"""The notifications of member-stream events other than a sale's points: a tier reached
upward (``tier.changed``), a stamp card completed (``offer.available`` with the coupon it
earned) and an offer made for the member going live (``offer.available``, marketing: only
with the member's push consent)."""

from __future__ import annotations

import uuid
from typing import Any

from backend.loyalty.rules import TIER_ORDER
from backend.members.consents import may_send_marketing
from backend.push.providers import Notification
from backend.push.schemas import Language, NotificationKind
from backend.push.texts import offer_live, reward_earned, tier_up

# The member-stream event types these notifications are made from (the feed reads the
# streams past its positions, ``backend.push.queue``).
TYPES = frozenset({"tier.changed", "offer.available"})
# Kinds that are marketing (docs/notifications.md): sent only with the push consent.
MARKETING: frozenset[NotificationKind] = frozenset({"offer_live", "birthday"})


def notification_of(
    event_id: uuid.UUID, type: str, data: dict[str, Any], language: Language
) -> Notification | None:
    """What the event tells the member, or None (a tier going down tells nothing)."""
    if type == "tier.changed":
        before, after = data.get("from"), data.get("to")
        if before not in TIER_ORDER or after not in TIER_ORDER:
            return None
        if TIER_ORDER.index(after) <= TIER_ORDER.index(before):
            return None
        return tier_up(event_id=str(event_id), tier=str(after), language=language)
    if type == "offer.available" and data.get("coupon_code"):  # a stamp card completed
        return reward_earned(
            coupon_code=str(data["coupon_code"]), name=str(data.get("name", "")), language=language
        )
    if type == "offer.available":
        subject = str(data.get("campaign_id") or data.get("name") or event_id)
        return offer_live(subject=subject, name=str(data.get("name", "")), language=language)
    return None


async def allowed(member_id: uuid.UUID, notification: Notification) -> bool:
    """A marketing kind needs the member's marketing consent for push."""
    if notification.kind not in MARKETING:
        return True
    return await may_send_marketing(member_id, "push")
