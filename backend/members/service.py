"""Enrolment and the member's profile."""

from __future__ import annotations

import uuid

from asyncpg.exceptions import UniqueViolationError

from backend.errors import MemberNotFound
from backend.loyalty.tiers import progress_for
from backend.members.card_numbers import new_card_number
from backend.members.schemas import Balance, MeResponse, TierProgress
from db.tables import Account, Member

_CARD_NUMBER_ATTEMPTS = 5


async def enrol_or_get_member(phone: str) -> uuid.UUID:
    """Return the member with this phone, enrolling them (member + account + card) if new."""
    existing = await Member.select(Member.id).where(Member.phone == phone).first()
    if existing is not None:
        return uuid.UUID(str(existing["id"]))
    for _ in range(_CARD_NUMBER_ATTEMPTS):
        try:
            return await _enrol(phone)
        except UniqueViolationError as exc:
            if "phone" in str(exc.constraint_name):
                # Enrolled by a concurrent first login with the same phone.
                row = await Member.select(Member.id).where(Member.phone == phone).first()
                if row is not None:
                    return uuid.UUID(str(row["id"]))
            # Otherwise the random card number collided: draw another.
    raise RuntimeError("could not allocate a unique card number")


async def _enrol(phone: str) -> uuid.UUID:
    async with Member._meta.db.transaction():
        member = Member(phone=phone, card_number=new_card_number())
        await member.save()
        await Account(member=member.id).save()
    return uuid.UUID(str(member.id))


async def get_profile(member_id: uuid.UUID) -> MeResponse:
    row = (
        await Account.select(
            Account.available,
            Account.pending,
            Account.held,
            Account.lifetime_earned,
            Account.last_event_seq,
            Account.member.id,
            Account.member.phone,
            Account.member.card_number,
            Account.member.tier,
            Account.member.created_at,
        )
        .where(Account.member == member_id)
        .first()
        .output(nested=True)
    )
    if row is None:
        raise MemberNotFound(f"member {member_id} does not exist")
    member = row["member"]
    next_tier, missing = progress_for(row["lifetime_earned"])
    return MeResponse(
        member_id=member["id"],
        phone=member["phone"],
        card_number=member["card_number"],
        tier=member["tier"],
        balance=Balance(available=row["available"], pending=row["pending"], held=row["held"]),
        progress=TierProgress(next_tier=next_tier, points_to_next_tier=missing),
        last_event_seq=row["last_event_seq"],
        enrolled_at=member["created_at"],
    )
