"""Staff password logins: each attempt audited, an account locked after repeated failures.

The per-address rate limit (``backend.rate_limits``) slows one client; this stops many
clients guessing one account's password. Failures are counted on the account row in one
atomic UPDATE (concurrent wrong guesses each count), within a window that starts at the
first failure; reaching the limit locks the account for a while, which an admin may end
sooner (``unlock``). A success ends the count.

A locked account answers ``account_locked`` even to the right password, so staff know to
ask an admin; that tells a guesser the email exists, which the per-address limit and the
audit trail (every attempt, with its client address) make costly to use.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from backend.audit.trail import NOBODY, Actor, record
from backend.errors import AccountLocked, NotFound, Unauthorized
from backend.staff.passwords import verify_password
from db import sql
from db.pool import engine


@dataclass(frozen=True, slots=True)
class LoginLockout:
    max_failures: int = 5
    window_s: int = 900
    lockout_s: int = 900


_ACCOUNT = """
SELECT id, password_hash, active, role, store_ids, locked_until
FROM staff_user WHERE email = {email}
"""
# One more failure: a new window if the last one is over, a lock when this one reaches it.
_FAILED = """
UPDATE staff_user SET
    failed_logins = CASE WHEN failures_since IS NULL OR failures_since <= {window_start}
                         THEN 1 ELSE failed_logins + 1 END,
    failures_since = CASE WHEN failures_since IS NULL OR failures_since <= {window_start}
                          THEN {now} ELSE failures_since END,
    locked_until = CASE WHEN (CASE WHEN failures_since IS NULL OR failures_since <= {window_start}
                                   THEN 1 ELSE failed_logins + 1 END) >= {max_failures}
                        THEN {locked_until} ELSE locked_until END
WHERE id = {staff_id}
RETURNING failed_logins, locked_until
"""
_SUCCEEDED = """
UPDATE staff_user SET failed_logins = 0, failures_since = NULL, locked_until = NULL
WHERE id = {staff_id} AND (failed_logins <> 0 OR locked_until IS NOT NULL)
"""


async def check_login(
    email: str, password: str, *, lockout: LoginLockout = LoginLockout()
) -> uuid.UUID:
    """The staff user with this email and password, or ``Unauthorized`` (``AccountLocked``
    while locked). Every attempt leaves an audit entry."""
    now = datetime.now(UTC)
    rows = await sql.fetch(_ACCOUNT, email=email.lower())
    row = rows[0] if rows else None
    # Verified even for an unknown email, so both answers take the same time.
    right = await verify_password(row["password_hash"] if row is not None else None, password)
    if row is None:
        await record(
            "staff.login_failed",
            target_type="staff",
            target_id=None,
            after={"email": email.lower(), "reason": "unknown email"},
            actor=NOBODY,
        )
        raise Unauthorized("wrong email or password")
    staff_id = uuid.UUID(str(row["id"]))
    actor = Actor(staff_id, row["role"], frozenset(row["store_ids"]))
    locked_until = row["locked_until"]
    if locked_until is not None and locked_until > now:
        await record(
            "staff.login_refused",
            target_type="staff",
            target_id=staff_id,
            after={"reason": "locked", "locked_until": locked_until},
            actor=actor,
        )
        raise AccountLocked(
            f"this account is locked until {locked_until.isoformat()} after repeated "
            "failed logins; an admin can unlock it"
        )
    if not right or not row["active"]:
        async with engine().transaction():
            counted = await sql.fetch(
                _FAILED,
                staff_id=staff_id,
                now=now,
                window_start=now - timedelta(seconds=lockout.window_s),
                max_failures=lockout.max_failures,
                locked_until=now + timedelta(seconds=lockout.lockout_s),
            )
            await record(
                "staff.login_failed",
                target_type="staff",
                target_id=staff_id,
                after={
                    "reason": "wrong password" if not right else "inactive",
                    "failed_logins": counted[0]["failed_logins"],
                    "locked_until": counted[0]["locked_until"],
                },
                actor=actor,
            )
        raise Unauthorized("wrong email or password")
    async with engine().transaction():
        await sql.fetch(_SUCCEEDED, staff_id=staff_id)
        await record("staff.logged_in", target_type="staff", target_id=staff_id, actor=actor)
    return staff_id


async def unlock(staff_id: uuid.UUID) -> None:
    """An admin ends a lock (and the count of failures) before its time."""
    async with engine().transaction():
        rows = await sql.fetch(
            "SELECT locked_until, failed_logins, store_ids FROM staff_user"
            " WHERE id = {staff_id} FOR UPDATE",
            staff_id=staff_id,
        )
        if not rows:
            raise NotFound(f"staff user {staff_id} does not exist")
        await sql.fetch(
            "UPDATE staff_user SET failed_logins = 0, failures_since = NULL, locked_until = NULL"
            " WHERE id = {staff_id}",
            staff_id=staff_id,
        )
        await record(
            "staff.unlocked",
            target_type="staff",
            target_id=staff_id,
            before={
                "locked_until": rows[0]["locked_until"],
                "failed_logins": rows[0]["failed_logins"],
            },
            after={"locked_until": None, "failed_logins": 0},
            store_ids=rows[0]["store_ids"],
        )
