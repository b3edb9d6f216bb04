"""Lost cards: the number is blocked and a new one issued on the same account.

Points, tier, history and sessions belong to the member, not to the number, so they follow
by themselves. The blocked number is kept (``blocked_card``): it identifies nobody at the
till or in a staff look-up (no member row carries it any more), and it is never issued
again, to a new member or as another replacement.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from asyncpg.exceptions import UniqueViolationError

from backend.audit.personal import record_personal_change
from backend.errors import CardBlocked, Conflict, MemberNotFound
from backend.members.card_numbers import new_card_number
from backend.members.schemas import CardReplaced
from db import sql
from db.pool import engine

_ATTEMPTS = 5
_TAKEN = """
SELECT EXISTS (SELECT 1 FROM member WHERE card_number = {number})
    OR EXISTS (SELECT 1 FROM blocked_card WHERE card_number = {number}) AS taken
"""


async def refuse_if_blocked(card_number: str) -> None:
    """``CardBlocked`` when ``card_number`` was blocked as lost: for a caller that found
    nobody with it, a clearer answer than "no such member" (and still nobody's name)."""
    rows = await sql.fetch(
        "SELECT 1 FROM blocked_card WHERE card_number = {number}", number=card_number
    )
    if rows:
        raise CardBlocked("this card was blocked as lost; the member has been issued a new one")


async def unused_card_number() -> str:
    """A fresh number that no member holds and that was never blocked (the unique index on
    ``member.card_number`` still decides a race between two issuers)."""
    for _ in range(_ATTEMPTS):
        number = new_card_number()
        if not (await sql.fetch(_TAKEN, number=number))[0]["taken"]:
            return number
    raise RuntimeError("could not draw an unused card number")


async def replace_card(
    member_id: uuid.UUID, lost: str, *, staff_id: uuid.UUID | None = None
) -> CardReplaced:
    """Block ``lost`` (the member's current number) and issue a new one. Staff replacements
    are audited; a member's own is their business."""
    for _ in range(_ATTEMPTS):
        try:
            return await _replace(member_id, lost, staff_id)
        except UniqueViolationError as exc:
            if "blocked_card" in str(exc.table_name):
                raise  # a number blocked twice: cannot happen under the row lock
            # A new member took the drawn number between the check and the write: draw again.
    raise RuntimeError("could not issue an unused card number")


async def _replace(member_id: uuid.UUID, lost: str, staff_id: uuid.UUID | None) -> CardReplaced:
    now = datetime.now(UTC)
    async with engine().transaction():
        rows = await sql.fetch(
            "SELECT card_number FROM member WHERE id = {member_id} FOR UPDATE",
            member_id=member_id,
        )
        if not rows:
            raise MemberNotFound(f"member {member_id} does not exist")
        current = rows[0]["card_number"]
        if current != lost:
            raise Conflict(
                "card_number is not this member's card (already replaced?)", field="card_number"
            )
        fresh = await unused_card_number()
        await sql.fetch(
            "INSERT INTO blocked_card (card_number, member, blocked_at, blocked_by)"
            " VALUES ({number}, {member_id}, {now}, {staff_id})",
            number=current,
            member_id=member_id,
            now=now,
            staff_id=staff_id,
        )
        await sql.fetch(
            "UPDATE member SET card_number = {fresh} WHERE id = {member_id}",
            fresh=fresh,
            member_id=member_id,
        )
        if staff_id is not None:
            await record_personal_change("card.replaced", member_id, "card_number", current, fresh)
    return CardReplaced(
        member_id=member_id, card_number=fresh, blocked_card_number=current, replaced_at=now
    )
