"""Erasure of a member's personal data (Federal Law 152-FZ, GDPR art. 17): asked for by the
member in the app (confirmed with a fresh one-time code) or by staff on a written request.

What identifies the person is destroyed: the phone, the card number, the birth date and the
home zone are replaced or cleared on the member row (random values that match no phone and
no card a till can send, so a look-up or a sale by the old ones finds nobody, and a new login
with the same phone enrols a new member), the push devices and notification settings are
deleted, the sessions, unused QR tokens and one-time-code state in Redis are removed. What
the business must keep stays whole and keeps balancing by id: the ledger, purchases,
accounting documents, event streams and consent history (a withdrawal is appended). The
points left are forfeited with a ledger entry and an accounting document that releases the
liability.

Resumable: the first transaction writes the ``member_erasure`` row together with the new
member row, the withdrawal and the forfeiture, so an erasure either has not begun or has
removed every identifying value in PostgreSQL. What follows (Redis, points a sale in flight
added after it) is idempotent and repeated until ``completed_at`` is set: by asking again,
or by the periodic job (``ErasureCleanup.finish_erasures``).
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime

from asyncpg.exceptions import UniqueViolationError

from backend.accounting.documents import program_day, record_document
from backend.audit.trail import record
from backend.auth.callers import StaffCaller
from backend.auth.otp import OtpService
from backend.auth.sessions import SessionStore
from backend.auth.tokens import MEMBER
from backend.errors import MemberNotFound
from backend.loyalty.book import AccountChange, Cause
from backend.loyalty.ledger import lock_account
from backend.members.consents import current_consents
from backend.members.qr import QrTokens
from backend.members.rights_schemas import ErasureResult
from db import sql
from db.ids import new_id
from db.pool import engine

_ATTEMPTS = 5
# Letters: never a phone a member can type (E.164 is "+" and digits) nor a card number a
# till can send (16 digits), and never issued (numbers are all digits).
_ERASED_PHONE = "erased-"
_ERASED_CARD = "ERASED"

_STATE = """
SELECT m.phone, e.id AS erasure_id, e.completed_at
FROM member m LEFT JOIN member_erasure e ON e.member = m.id
WHERE m.id = {member_id}
"""
_BEGIN = """
INSERT INTO member_erasure (id, member, source, requested_by, requested_at, points_forfeited,
                            completed_at)
VALUES ({id}, {member_id}, {source}, {staff_id}, {now}, 0, NULL)
ON CONFLICT (member) DO NOTHING
RETURNING id
"""
_REPLACE_PERSONAL_DATA = """
UPDATE member SET phone = {phone}, card_number = {card_number}, birth_date = NULL,
                  time_zone = NULL, audit_salt = NULL
WHERE id = {member_id}
"""
_WITHDRAW = """
INSERT INTO marketing_consent (id, member, channel, given, source, staff_id, at)
VALUES ({id}, {member_id}, {channel}, false, 'erasure', {staff_id}, {at})
"""
_ERASURE = """
SELECT id, source, requested_at, points_forfeited, completed_at FROM member_erasure
WHERE member = {member_id} FOR UPDATE
"""
_FINISHED = """
UPDATE member_erasure
SET points_forfeited = points_forfeited + {points},
    completed_at = COALESCE(completed_at, {now})
WHERE id = {erasure_id}
RETURNING id, source, requested_at, points_forfeited, completed_at
"""
# Unfinished erasures, and finished ones whose account received points afterwards (a void of
# a hold opened before the erasure gives points back).
_TO_FINISH = """
SELECT e.member FROM member_erasure e JOIN account a ON a.member = e.member
WHERE e.completed_at IS NULL OR a.available > 0 OR a.pending > 0
ORDER BY e.member LIMIT {limit}
"""


class ErasureCleanup:
    """What an erasure leaves to do after its first transaction, each step safe to repeat:
    end the sessions, void the QR tokens, forfeit points that arrived since, mark it done."""

    def __init__(self, *, sessions: SessionStore, qr_tokens: QrTokens) -> None:
        self.sessions = sessions
        self._qr_tokens = qr_tokens

    async def finish(self, member_id: uuid.UUID) -> ErasureResult:
        for session in await self.sessions.list(subject=member_id, kind=MEMBER):
            await self.sessions.revoke(session.session_id)
        await self._qr_tokens.forget_member(member_id)
        now = datetime.now(UTC)
        async with engine().transaction():
            change = AccountChange(await lock_account(member_id), now=now)
            rows = await sql.fetch(_ERASURE, member_id=member_id)
            if not rows:
                raise MemberNotFound(f"member {member_id} has not been erased")
            points = await _forfeit(change, member_id, rows[0]["id"])
            done = await sql.fetch(_FINISHED, points=points, now=now, erasure_id=rows[0]["id"])
        return _result(member_id, done[0])

    async def finish_erasures(self, *, limit: int = 100) -> int:
        """The periodic job: finish erasures a crash interrupted, and forfeit points that
        reached an erased account after its erasure. Return how many it finished."""
        members = await sql.fetch(_TO_FINISH, limit=limit)
        for row in members:
            await self.finish(row["member"])
        return len(members)


class MemberErasure:
    """Erases members: the code that confirms a member's own erasure, the first transaction,
    and then the cleanup."""

    def __init__(self, *, otp: OtpService, sessions: SessionStore, qr_tokens: QrTokens) -> None:
        self._otp = otp
        self.cleanup = ErasureCleanup(sessions=sessions, qr_tokens=qr_tokens)

    @property
    def sessions(self) -> SessionStore:
        return self.cleanup.sessions

    @property
    def code_ttl_s(self) -> int:
        return self._otp.ttl_s

    async def send_code(self, member_id: uuid.UUID) -> None:
        """Text the member a code that confirms an erasure (and nothing else)."""
        await self._otp.request_code(await _phone_of(member_id), purpose="erasure")

    async def erase_own(self, member_id: uuid.UUID, code: str) -> ErasureResult:
        """The member's own erasure; the code is consumed, so a replay is refused."""
        await self._otp.verify(await _phone_of(member_id), code, purpose="erasure")
        return await self.erase(member_id, staff=None, reason=None)

    async def erase(
        self, member_id: uuid.UUID, *, staff: StaffCaller | None, reason: str | None
    ) -> ErasureResult:
        """Erase the member, or finish an erasure already begun (idempotent)."""
        rows = await sql.fetch(_STATE, member_id=member_id)
        if not rows:
            raise MemberNotFound(f"member {member_id} does not exist")
        if rows[0]["erasure_id"] is None:
            # Before the phone is gone: afterwards nothing says which keys were theirs.
            await self._otp.forget_phone(rows[0]["phone"])
            await _begin(member_id, staff=staff, reason=reason)
        return await self.cleanup.finish(member_id)

    async def finish_erasures(self, *, limit: int = 100) -> int:
        return await self.cleanup.finish_erasures(limit=limit)


async def _phone_of(member_id: uuid.UUID) -> str:
    rows = await sql.fetch(_STATE, member_id=member_id)
    if not rows or rows[0]["erasure_id"] is not None:
        raise MemberNotFound(f"member {member_id} does not exist")
    return str(rows[0]["phone"])


async def _begin(member_id: uuid.UUID, *, staff: StaffCaller | None, reason: str | None) -> None:
    for _ in range(_ATTEMPTS):
        try:
            await _replace_personal_data(member_id, staff=staff, reason=reason)
            return
        except UniqueViolationError:
            continue  # a random replacement collided (one in 2^40): draw again
    raise RuntimeError("could not draw unused replacement values")


async def _replace_personal_data(
    member_id: uuid.UUID, *, staff: StaffCaller | None, reason: str | None
) -> None:
    now = datetime.now(UTC)
    staff_id = staff.staff_id if staff is not None else None
    async with engine().transaction():
        # The account first, as every change of points does: a sale in flight for this member
        # waits here (or this waits for it), never both for each other.
        change = AccountChange(await lock_account(member_id), now=now)
        begun = await sql.fetch(
            _BEGIN,
            id=new_id(),
            member_id=member_id,
            source="member" if staff is None else "staff",
            staff_id=staff_id,
            now=now,
        )
        if not begun:
            return  # a concurrent request began it first
        await sql.fetch(
            _REPLACE_PERSONAL_DATA,
            phone=_ERASED_PHONE + secrets.token_hex(6),
            card_number=_ERASED_CARD + secrets.token_hex(5),
            member_id=member_id,
        )
        given = [s.channel for s in await current_consents(member_id) if s.given]
        for channel in given:
            await sql.fetch(
                _WITHDRAW,
                id=new_id(),
                member_id=member_id,
                channel=channel,
                staff_id=staff_id,
                at=now,
            )
        await sql.fetch("DELETE FROM member_stats WHERE member = {member_id}", member_id=member_id)
        # Push: the device tokens point at the person's phones; their settings go with them.
        await sql.fetch("DELETE FROM member_device WHERE member = {member_id}", member_id=member_id)
        await sql.fetch(
            "DELETE FROM notification_settings WHERE member = {member_id}", member_id=member_id
        )
        # In the member's stream, committed with the erasure: partners that subscribe to
        # member.erased learn of it from there (backend.partners). Ids only.
        change.event("member.erased", {"erasure_id": str(begun[0]["id"])})
        points = await _forfeit(change, member_id, begun[0]["id"])
        await sql.fetch(
            "UPDATE member_erasure SET points_forfeited = {points} WHERE id = {erasure_id}",
            points=points,
            erasure_id=begun[0]["id"],
        )
        await record(
            "member.erased",
            target_type="member",
            target_id=member_id,
            after={
                "source": "member" if staff is None else "staff",
                "reason": reason,
                "points_forfeited": points,
                "consents_withdrawn": given,
            },
        )


async def _forfeit(change: AccountChange, member_id: uuid.UUID, erasure_id: uuid.UUID) -> int:
    """Forfeit what the locked account still holds for the member, with its document."""
    points = await change.forfeit(Cause("erasure", erasure_id, "personal data erased"))
    if points:
        await record_document(
            type="points_forfeiture",
            reference=member_id,
            occurred_at=change.now,
            business_date=program_day(change.now),  # no store made it
            points_liability_delta=-points,
        )
    await change.finish(context={"reason": "erasure"})
    return points


def _result(member_id: uuid.UUID, row: object) -> ErasureResult:
    values = dict(row)  # type: ignore[call-overload]
    return ErasureResult(
        member_id=member_id,
        source=values["source"],
        requested_at=values["requested_at"],
        points_forfeited=values["points_forfeited"],
        completed_at=values["completed_at"],
    )
