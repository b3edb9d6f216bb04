"""Everything kept about one member, as one document: the member downloads it from the app,
staff produce it for a written request (audited: it is all of a person's data at once).

Rows are read as they are kept; what is only the platform's (request hashes, idempotency
keys, payment ids) is left out, and sessions and push devices are listed without their
tokens.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import msgspec

from backend.audit.trail import record
from backend.auth.sessions import SessionStore
from backend.auth.tokens import MEMBER
from backend.errors import MemberNotFound
from backend.loyalty.schemas import Balance
from backend.members.consents import current_consents
from backend.members.rights_schemas import (
    ExportedConsents,
    ExportedProfile,
    ExportedSession,
    MemberExport,
)
from backend.members.schemas import ConsentChange
from db import sql

_PROFILE = """
SELECT m.id AS member_id, m.phone, m.card_number, m.tier, m.birth_date, m.time_zone,
       m.created_at AS enrolled_at,
       a.id AS account_id, a.available, a.pending, a.held, a.lifetime_earned
FROM member m JOIN account a ON a.member = m.id
WHERE m.id = {member_id}
  AND NOT EXISTS (SELECT 1 FROM member_erasure e WHERE e.member = m.id)
"""
_BLOCKED = "SELECT card_number FROM blocked_card WHERE member = {member_id} ORDER BY blocked_at"
_CONSENT_HISTORY = """
SELECT channel, given, at, source, staff_id FROM marketing_consent
WHERE member = {member_id} ORDER BY at DESC, id DESC
"""
_LEDGER = """
SELECT id, kind, available_delta, pending_delta, held_delta, cause_type, cause_id, note,
       created_at
FROM ledger_entry WHERE account = {account_id} ORDER BY id
"""
_LOTS = """
SELECT id, source, purchase, points, remaining, status, available_at, expires_at, created_at
FROM point_lot WHERE account = {account_id} ORDER BY id
"""
_PURCHASES = """
SELECT p.id, p.store, s.name AS store_name, p.external_id, p.amount, p.paid_amount, p.currency,
       p.points_earned, p.points_redeemed, p.refunded_amount, p.lines, p.created_at
FROM purchase p JOIN store s ON s.id = p.store
WHERE p.member = {member_id} ORDER BY p.created_at, p.id
"""
_REFUNDS = """
SELECT r.id, r.purchase, r.amount, r.points_reversed, r.points_returned, r.reason, r.lines,
       r.created_at
FROM refund r JOIN purchase p ON p.id = r.purchase
WHERE p.member = {member_id} ORDER BY r.created_at, r.id
"""
_CHECKOUTS = """
SELECT id, store, external_id, amount, currency, items, status, hold_points, purchase,
       created_at
FROM checkout WHERE member = {member_id} ORDER BY created_at, id
"""
_ORDERS = """
SELECT id, store, amount, currency, items, status, hold_points, purchase, created_at
FROM customer_order WHERE member = {member_id} ORDER BY created_at, id
"""
_OFFERS = """
SELECT o.id, o.campaign, c.name AS campaign_name, o.status, o.uses, o.coupon_code,
       o.valid_until, o.created_at
FROM member_offer o JOIN campaign c ON c.id = o.campaign
WHERE o.member = {member_id} ORDER BY o.created_at, o.id
"""
_STATS = """
SELECT visits, last_visit_at, category_counts, stamps FROM member_stats
WHERE member = {member_id}
"""
# Devices registered for push: which provider and when, not the token (docs/security.md).
_PUSH_DEVICES = """
SELECT id, provider, created_at, updated_at FROM member_device
WHERE member = {member_id} ORDER BY created_at, id
"""
_NOTIFICATION_SETTINGS = """
SELECT kinds_off, language, updated_at FROM notification_settings WHERE member = {member_id}
"""
_JSON_COLUMNS = frozenset({"items", "lines", "category_counts", "stamps"})


def _rows(rows: Any) -> list[dict[str, Any]]:
    return [
        {
            name: sql.loaded_json(value) if name in _JSON_COLUMNS else value
            for name, value in row.items()
        }
        for row in rows
    ]


async def export_member(
    member_id: uuid.UUID, *, sessions: SessionStore, staff_request: str | None = None
) -> MemberExport:
    """The member's document; ``staff_request`` (the written request's reference) when staff
    produce it, which puts the export on the audit trail."""
    found = await sql.fetch(_PROFILE, member_id=member_id)
    if not found:
        raise MemberNotFound(f"member {member_id} does not exist")
    member = found[0]
    account_id = member["account_id"]
    # The profile's fields are the row's columns, and the balance and blocked cards.
    balance = Balance(available=member["available"], pending=member["pending"], held=member["held"])
    blocked = [r["card_number"] for r in await sql.fetch(_BLOCKED, member_id=member_id)]
    profile = msgspec.convert(
        dict(member) | {"balance": balance, "blocked_card_numbers": blocked}, ExportedProfile
    )
    consents = ExportedConsents(
        channels=await current_consents(member_id),
        history=[
            ConsentChange(**dict(r)) for r in await sql.fetch(_CONSENT_HISTORY, member_id=member_id)
        ],
    )
    signed_in = [
        ExportedSession(**asdict(s)) for s in await sessions.list(subject=member_id, kind=MEMBER)
    ]
    stats = _rows(await sql.fetch(_STATS, member_id=member_id))
    notifications = _rows(await sql.fetch(_NOTIFICATION_SETTINGS, member_id=member_id))
    document = MemberExport(
        exported_at=datetime.now(UTC),
        profile=profile,
        consents=consents,
        sessions=signed_in,
        ledger=_rows(await sql.fetch(_LEDGER, account_id=account_id)),
        point_lots=_rows(await sql.fetch(_LOTS, account_id=account_id)),
        purchases=_rows(await sql.fetch(_PURCHASES, member_id=member_id)),
        refunds=_rows(await sql.fetch(_REFUNDS, member_id=member_id)),
        checkouts=_rows(await sql.fetch(_CHECKOUTS, member_id=member_id)),
        orders=_rows(await sql.fetch(_ORDERS, member_id=member_id)),
        offers=_rows(await sql.fetch(_OFFERS, member_id=member_id)),
        stats=stats[0] if stats else None,
        push_devices=_rows(await sql.fetch(_PUSH_DEVICES, member_id=member_id)),
        notification_settings=notifications[0] if notifications else None,
    )
    if staff_request is not None:
        await record(
            "member.exported",
            target_type="member",
            target_id=member_id,
            after={"reason": staff_request},
        )
    return document
