"""The event types partners subscribe to, read from the member streams' own events (and
``member.enrolled``, from the member table: ``backend.partners.enrolments``).

A stream event becomes at most one partner event (``partner_event``); the payload is the
stream event's data less the staff's free text, and never holds personal data: that is added
when it is sent, to endpoints allowed it (``backend.partners.delivery``).
"""

from __future__ import annotations

from typing import Any

SALE = "sale.completed"
REFUND = "refund.completed"
POINTS_EARNED = "points.earned"
POINTS_REDEEMED = "points.redeemed"
POINTS_EXPIRED = "points.expired"
TIER_CHANGED = "tier.changed"
OFFER_ACTIVATED = "offer.activated"
MEMBER_ENROLLED = "member.enrolled"
MEMBER_ERASED = "member.erased"
POINTS_EXPIRING = "points.expiring"

# What an endpoint may subscribe to, and the member-stream event each comes from.
EVENT_TYPES: dict[str, str] = {
    SALE: "balance.updated of a sale (purchase_id without refund_id)",
    REFUND: "balance.updated of a refund (refund_id)",
    POINTS_EARNED: "transaction.created of kind earn or bonus",
    POINTS_REDEEMED: "transaction.created of kind redeem",
    POINTS_EXPIRED: "transaction.created of kind expiry",
    TIER_CHANGED: "tier.changed",
    OFFER_ACTIVATED: "offer.available (an offer made live for the member)",
    MEMBER_ERASED: "member.erased (written with the erasure)",
    # Not a stream event: read from the member table (backend.partners.enrolments).
    MEMBER_ENROLLED: "the member's enrolment (the member row it committed; seq 0)",
    # Not a stream event: the daily run on the member's local morning (backend.partners.expiring).
    POINTS_EXPIRING: "points of the member's lots expiring within the notice's days, per date",
}
# Event types asked for but not yet available (none now; the admin API lists them).
NOT_IN_STREAM: tuple[str, ...] = ()

# Staff's free text (an adjustment's reason) may name people: never sent.
_WITHHELD = ("note",)
_KINDS = {"earn": POINTS_EARNED, "bonus": POINTS_EARNED, "redeem": POINTS_REDEEMED}
_KINDS["expiry"] = POINTS_EXPIRED


def partner_event(stream_type: str, data: dict[str, Any]) -> str | None:
    """The partner event type a member-stream event is, None when it is none."""
    if stream_type == "transaction.created":
        return _KINDS.get(str(data.get("kind")))
    if stream_type == "balance.updated":
        if data.get("refund_id"):
            return REFUND
        return SALE if data.get("purchase_id") else None
    if stream_type == "tier.changed":
        return TIER_CHANGED
    if stream_type == "offer.available":
        return OFFER_ACTIVATED
    if stream_type == "member.erased":
        return MEMBER_ERASED
    return None


def payload_data(data: dict[str, Any]) -> dict[str, Any]:
    """What of the stream event's data goes out (ids, amounts, points)."""
    return {key: value for key, value in data.items() if key not in _WITHHELD}
