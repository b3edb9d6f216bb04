"""A staff account is locked after repeated wrong passwords, whatever address they come
from; an admin unlocks it; every attempt is in the audit trail."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import time_machine

from backend.errors import AccountLocked, Unauthorized
from backend.staff.logins import LoginLockout, check_login
from db.tables import StaffUser
from tests.backend.audit.support import entries
from tests.factories import STAFF_PASSWORD, SignedInStaff, assert_problem, hire

WRONG = "not the password at all"
START = datetime(2025, 6, 2, 9, tzinfo=UTC)


async def log_in(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/v1/staff/token", json={"email": email, "password": password})


async def test_five_wrong_passwords_lock_the_account_until_an_admin_unlocks_it(
    client: httpx.AsyncClient, admin: SignedInStaff
) -> None:
    barista = await hire(client, "admin")
    for _ in range(5):
        assert_problem(await log_in(client, barista.email, WRONG), 401, "unauthorized")
    locked = await log_in(client, barista.email, STAFF_PASSWORD)
    assert_problem(locked, 429, "account_locked")
    assert "admin" in locked.json()["detail"]

    failed = await entries("staff.login_failed")
    assert [entry["after"]["failed_logins"] for entry in failed] == [1, 2, 3, 4, 5]
    assert all(str(entry["staff_id"]) == barista.staff_id for entry in failed)
    assert [entry["after"]["locked_until"] is not None for entry in failed] == [
        False,
        False,
        False,
        False,
        True,
    ]
    (refused,) = await entries("staff.login_refused")
    assert refused["after"]["reason"] == "locked"
    shown = await client.get(f"/v1/admin/staff/{barista.staff_id}", headers=admin.headers)
    assert shown.json()["locked_until"] is not None

    unlocked = await client.post(
        f"/v1/admin/staff/{barista.staff_id}/unlock", headers=admin.headers
    )
    assert unlocked.status_code == 200, unlocked.text
    assert unlocked.json()["locked_until"] is None
    (entry,) = await entries("staff.unlocked")
    assert str(entry["staff_id"]) == admin.staff_id
    assert entry["target_id"] == barista.staff_id
    assert entry["before"]["failed_logins"] == 5

    back = await log_in(client, barista.email, STAFF_PASSWORD)
    assert back.status_code == 200, back.text


async def test_an_unknown_email_is_audited_and_locks_nothing(client: httpx.AsyncClient) -> None:
    assert_problem(await log_in(client, "Nobody@astrocoffee.test", WRONG), 401, "unauthorized")
    (entry,) = await entries("staff.login_failed")
    assert entry["staff_id"] is None
    assert entry["after"] == {"email": "nobody@astrocoffee.test", "reason": "unknown email"}
    assert entry["client_address"] == "127.0.0.1"


async def test_failures_count_within_the_window_and_the_lock_ends_by_itself(
    client: httpx.AsyncClient,
) -> None:
    staff = await hire(client, "admin")
    rule = LoginLockout(max_failures=2, window_s=60, lockout_s=300)

    async def attempt(at: datetime, password: str) -> None:
        with time_machine.travel(at, tick=False):
            await check_login(staff.email, password, lockout=rule)

    with pytest.raises(Unauthorized):
        await attempt(START, WRONG)
    with pytest.raises(Unauthorized):  # a new window: the first failure is forgotten
        await attempt(START + timedelta(seconds=61), WRONG)
    with pytest.raises(Unauthorized):  # the second in this window: locked from now
        await attempt(START + timedelta(seconds=62), WRONG)
    with pytest.raises(AccountLocked):
        await attempt(START + timedelta(seconds=300), STAFF_PASSWORD)
    await attempt(START + timedelta(seconds=363), STAFF_PASSWORD)  # the lock is over
    row = await StaffUser.select(StaffUser.failed_logins, StaffUser.locked_until).first()
    assert row == {"failed_logins": 0, "locked_until": None}


async def test_parallel_wrong_passwords_are_each_counted(client: httpx.AsyncClient) -> None:
    staff = await hire(client, "admin")
    rule = LoginLockout(max_failures=100, window_s=60, lockout_s=300)
    tries = await asyncio.gather(
        *(check_login(staff.email, WRONG, lockout=rule) for _ in range(10)),
        return_exceptions=True,
    )
    assert all(isinstance(result, Unauthorized) for result in tries)
    row = await StaffUser.select(StaffUser.failed_logins).first()
    assert row == {"failed_logins": 10}
