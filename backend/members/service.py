"""Enrolment, the member's profile and history, and staff lookup."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec
from asyncpg.exceptions import UniqueViolationError
from piccolo.columns import Column

from backend.audit.personal import record_personal_change
from backend.audit.trail import record
from backend.auth.callers import Role, StaffCaller
from backend.campaigns.offers import welcome
from backend.errors import Conflict, Forbidden, MemberNotFound, ValidationFailed
from backend.local_time import zone_named
from backend.loyalty.book import AccountChange
from backend.loyalty.ledger import lock_account
from backend.loyalty.rules import current_rules
from backend.loyalty.schemas import Balance
from backend.loyalty.tiers import next_tier, qualifying_spend
from backend.members.cards import refuse_if_blocked, unused_card_number
from backend.members.consents import current_consents
from backend.members.qr import QrTokens
from backend.members.schemas import (
    ExpiringPoints,
    MemberSummary,
    MeResponse,
    ProfileUpdate,
    TierProgress,
    Transaction,
    TransactionPage,
)
from db import sql
from db.pool import engine
from db.replica import read_lagging
from db.tables import Account, LedgerEntry, Member

_CARD_NUMBER_ATTEMPTS = 5
EXPIRING_SOON_DAYS = 30
PAGE_MAX = 100


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
        # Never a number blocked as lost (backend.members.cards).
        member = Member(phone=phone, card_number=await unused_card_number())
        await member.save()
        await Account(member=member.id).save()
        # The welcome bonus, if a campaign offers one; its events wait in member_event for
        # the first connection (a member who is enrolling has none open yet).
        change = AccountChange(await lock_account(member.id), now=datetime.now(UTC))
        for name in await welcome(change):
            change.event("offer.available", {"name": name, "kind": "welcome"})
        await change.finish(context={"reason": "welcome"})
    return uuid.UUID(str(member.id))


def _check_birth_date(birth_date: date | None) -> None:
    # Tomorrow somewhere on Earth is today here: the newest possible date is UTC+14's.
    latest = (datetime.now(UTC) + timedelta(hours=14)).date()
    if birth_date is not None and not date(1900, 1, 1) <= birth_date <= latest:
        raise ValidationFailed("birth_date must be a real date in the past", field="birth_date")


async def update_profile(member_id: uuid.UUID, update: ProfileUpdate) -> None:
    """The member's own change: a zone at any time, a birth date only while none is set."""
    values: dict[Column | str, Any] = {}
    if not isinstance(update.time_zone, msgspec.UnsetType):
        zone_named(update.time_zone, field="time_zone")
        values[Member.time_zone] = update.time_zone
    if not isinstance(update.birth_date, msgspec.UnsetType):
        _check_birth_date(update.birth_date)
        values[Member.birth_date] = update.birth_date
    if not values:
        return
    async with engine().transaction():
        rows = await sql.fetch(
            "SELECT birth_date FROM member WHERE id = {member_id} FOR UPDATE", member_id=member_id
        )
        if not rows:
            raise MemberNotFound(f"member {member_id} does not exist")
        known = rows[0]["birth_date"]
        if Member.birth_date in values and known is not None and known != update.birth_date:
            raise Conflict("birth_date is already set; ask staff to correct it", field="birth_date")
        await Member.update(values).where(Member.id == member_id)


async def correct_birth_date(member_id: uuid.UUID, birth_date: date | None) -> None:
    """Staff's correction (a member's mistake, or a document shown at the counter),
    audited with the date before and after."""
    _check_birth_date(birth_date)
    async with engine().transaction():
        rows = await sql.fetch(
            "SELECT birth_date FROM member WHERE id = {member_id} FOR UPDATE", member_id=member_id
        )
        if not rows:
            raise MemberNotFound(f"member {member_id} does not exist")
        await Member.update({Member.birth_date: birth_date}).where(Member.id == member_id)
        await record_personal_change(
            "member.birth_date_corrected",
            member_id,
            "birth_date",
            rows[0]["birth_date"],
            birth_date,
        )


# What a member summary and the member's own profile both show: the balance and who it is.
_SUMMARY_COLUMNS = (
    Account.available,
    Account.pending,
    Account.held,
    Account.member.id,
    Account.member.phone,
    Account.member.card_number,
    Account.member.tier,
)


async def get_profile(member_id: uuid.UUID, *, program_time_zone: str) -> MeResponse:
    row = (
        await Account.select(
            *_SUMMARY_COLUMNS,
            Account.id,
            Account.last_event_seq,
            Account.member.birth_date,
            Account.member.time_zone,
            Account.member.created_at,
        )
        .where(Account.member == member_id)
        .first()
        .output(nested=True)
    )
    if row is None:
        raise MemberNotFound(f"member {member_id} does not exist")
    member = row["member"]
    now = datetime.now(UTC)
    rules = (await current_rules()).rules
    spend = await qualifying_spend(member_id, rules, now=now)
    tier, missing = next_tier(spend, rules)
    return MeResponse(
        **_who_and_balance(row),
        progress=TierProgress(qualifying_spend=spend, next_tier=tier, spend_to_next_tier=missing),
        expiring_soon=await _expiring_soon(row["id"], now),
        last_event_seq=row["last_event_seq"],
        enrolled_at=member["created_at"],
        birth_date=member["birth_date"],
        time_zone=member["time_zone"] or program_time_zone,
    )


async def _expiring_soon(account_id: uuid.UUID, now: datetime) -> ExpiringPoints:
    rows = await sql.fetch(
        "SELECT COALESCE(SUM(remaining), 0)::bigint AS points, MIN(expires_at) AS first "
        "FROM point_lot WHERE account = {account_id} AND status = 'available' "
        "AND remaining > 0 AND expires_at <= {until}",
        account_id=account_id,
        until=now + timedelta(days=EXPIRING_SOON_DAYS),
    )
    return ExpiringPoints(
        points=int(rows[0]["points"]),
        first_expires_at=rows[0]["first"],
        within_days=EXPIRING_SOON_DAYS,
    )


async def list_transactions(
    member_id: uuid.UUID, *, limit: int, cursor: str | None
) -> TransactionPage:
    """Ledger history, newest first; ids are time-ordered, so the cursor is the last id.

    Read from the replica while it serves lag-tolerant reads (``db.replica``): history may
    trail the live balance by up to the replica's lag bound, which the phone covers with the
    events it receives anyway (``/v1/me``, the balance, reads the primary).
    """
    try:
        after = None if cursor is None else uuid.UUID(cursor)
    except ValueError as exc:
        raise ValidationFailed("cursor is not valid") from exc

    async def read(node: str | None) -> list[dict[str, Any]]:
        account = (
            await Account.select(Account.id)
            .where(Account.member == member_id)
            .first()
            .run(node=node)
        )
        if account is None:
            raise MemberNotFound(f"member {member_id} does not exist")
        query = (
            LedgerEntry.select(
                LedgerEntry.id,
                LedgerEntry.kind,
                LedgerEntry.available_delta,
                LedgerEntry.pending_delta,
                LedgerEntry.held_delta,
                LedgerEntry.cause_type,
                LedgerEntry.cause_id,
                LedgerEntry.note,
                LedgerEntry.created_at,
            )
            .where(LedgerEntry.account == account["id"])
            .order_by(LedgerEntry.id, ascending=False)
            .limit(limit + 1)
        )
        if after is not None:
            query = query.where(LedgerEntry.id < after)
        return await query.run(node=node)

    rows = await read_lagging(read)
    items = [
        Transaction(points=r["available_delta"] + r["pending_delta"], **r) for r in rows[:limit]
    ]
    return TransactionPage(
        items=items, next_cursor=str(items[-1].id) if len(rows) > limit else None
    )


class LookUp(msgspec.Struct, frozen=True, kw_only=True):
    """How staff ask for a member: exactly one of these."""

    phone: str | None = None
    card_number: str | None = None
    qr_token: str | None = None  # the member's app code, scanned at the counter (single use)


async def find_member(
    *,
    caller: StaffCaller,
    by: LookUp,
    qr_tokens: QrTokens,
    barista_phone_lookup: bool = False,
) -> MemberSummary:
    """A member by card number or QR code (what is in front of a barista) or, for managers
    and admins, by phone: a barista who could search by phone could find anyone they know."""
    given = {k: v for k, v in msgspec.structs.asdict(by).items() if v is not None}
    if len(given) != 1:
        raise ValidationFailed("look up by exactly one of phone, card_number and qr_token")
    ((kind, value),) = given.items()
    if kind == "phone" and caller.role == Role.BARISTA and not barista_phone_lookup:
        # Audited without the number: the attempt is what matters, not whom it sought.
        await record(
            "member.look_up_refused", target_type="member", target_id=None, after={"by": "phone"}
        )
        raise Forbidden("baristas find members by card or QR code, not by phone")
    # Audited found or not: a run of misses is someone trying numbers.
    try:
        found = await _summary(await _condition(kind, value, qr_tokens))
    except MemberNotFound:
        await record(
            "member.looked_up",
            target_type="member",
            target_id=None,
            after={"by": kind, "found": False},
        )
        if kind == "card_number":
            await refuse_if_blocked(value)
        raise
    await record(
        "member.looked_up",
        target_type="member",
        target_id=found.member_id,
        after={"by": kind, "found": True},
    )
    return found


async def _condition(kind: str, value: str, qr_tokens: QrTokens) -> object:
    if kind == "phone":
        return Account.member.phone == value
    if kind == "card_number":
        return Account.member.card_number == value
    member_id = await qr_tokens.consume(value)
    if member_id is None:
        raise MemberNotFound("the QR code is unknown, used or expired")
    return Account.member == member_id


async def view_member(member_id: uuid.UUID) -> MemberSummary:
    """A member's page as staff open it (audited: it shows personal data)."""
    found = await member_summary(member_id)
    await record("member.viewed", target_type="member", target_id=member_id)
    return found


async def member_summary(member_id: uuid.UUID) -> MemberSummary:
    return await _summary(Account.member == member_id)


async def _summary(condition: object) -> MemberSummary:
    row = (
        await Account.select(*_SUMMARY_COLUMNS)
        .where(condition)  # type: ignore[arg-type]
        .first()
        .output(nested=True)
    )
    if row is None:
        raise MemberNotFound("no such member")
    return MemberSummary(
        **_who_and_balance(row), consents=await current_consents(row["member"]["id"])
    )


def _who_and_balance(row: dict[str, Any]) -> dict[str, Any]:
    """The fields a member summary and the member's own profile share, from a row of
    ``_SUMMARY_COLUMNS`` (read nested)."""
    member = row["member"]
    return {
        "member_id": member["id"],
        "phone": member["phone"],
        "card_number": member["card_number"],
        "tier": member["tier"],
        "balance": Balance(available=row["available"], pending=row["pending"], held=row["held"]),
    }
