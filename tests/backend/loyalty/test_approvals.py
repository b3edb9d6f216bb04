"""Limits on one employee's adjustments: a manager adjusts only members who bought in one of
their stores, and alone only within the per-adjustment and per-day limits; above them the
adjustment waits until a second staff member (never the requester) approves it onto the
ledger, once, or rejects it. Refusals are audited."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import time_machine
from redis.asyncio import Redis

from backend.loyalty.adjustments import AdjustmentLimits, AdjustmentRequest, adjust_points
from backend.settings import Settings
from db.tables import AdjustmentApproval
from realtime.publisher import EventPublisher
from tests.backend.audit.support import entries, only
from tests.backend.loyalty.support import adjust, staff_entries
from tests.conftest import LiveServer
from tests.factories import (
    LoggedInMember,
    SignedInStaff,
    Till,
    assert_problem,
    hire,
    hired_caller,
    open_till,
    sell,
)

LIMIT = Settings().adjustment_max_points
DAILY = Settings().adjustment_daily_points


async def adjust_by(
    client: httpx.AsyncClient,
    staff: SignedInStaff,
    member: LoggedInMember,
    points: int,
    key: str | None = None,
) -> httpx.Response:
    """An adjustment of ``points`` for a lost stamp card."""
    return await adjust(
        client, staff, member.member_id, {"points": points, "reason": "a lost stamp card"}, key
    )


async def decide(
    client: httpx.AsyncClient, staff: SignedInStaff, approval_id: str, decision: str
) -> httpx.Response:
    return await client.post(
        f"/v1/admin/adjustment-approvals/{approval_id}/{decision}", headers=staff.headers
    )


async def pending_for(client: httpx.AsyncClient, staff: SignedInStaff) -> list[str]:
    listed = await client.get("/v1/admin/adjustment-approvals", headers=staff.headers)
    assert listed.status_code == 200, listed.text
    return [item["id"] for item in listed.json()["items"]]


async def available(client: httpx.AsyncClient, member: LoggedInMember) -> int:
    me = await client.get("/v1/me", headers=member.headers)
    return int(me.json()["balance"]["available"])


@pytest.fixture
async def bought_here(client: httpx.AsyncClient, till: Till, member: LoggedInMember) -> None:
    """The member has bought once at ``till``: a manager of its store may adjust them."""
    assert (await sell(client, till, member)).status_code == 201


@pytest.fixture
async def manager(client: httpx.AsyncClient, till: Till) -> SignedInStaff:
    """A manager of ``till``'s store."""
    return await hire(client, "manager", [till.store_id])


async def test_a_manager_adjusts_only_members_of_their_stores(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember, admin: SignedInStaff
) -> None:
    elsewhere = await open_till()
    assert (await sell(client, elsewhere, member)).status_code == 201
    manager = await hire(client, "manager", [till.store_id])

    refused = await adjust_by(client, manager, member, 10)
    assert_problem(refused, 403, "forbidden")
    assert await staff_entries() == []
    entry = await only("points.adjustment_refused")
    assert str(entry["staff_id"]) == manager.staff_id
    assert entry["target_id"] == member.member_id
    assert entry["after"] == {"why": "member_not_of_your_stores"}
    nobody = await adjust(
        client, manager, str(uuid.uuid4()), {"points": 10, "reason": "a lost stamp card"}
    )
    assert_problem(nobody, 404, "member_not_found")

    # Admins work chain-wide; a manager once the member has bought in their store.
    assert (await adjust_by(client, admin, member, 10)).status_code == 201
    assert (await sell(client, till, member)).status_code == 201
    posted = await adjust_by(client, manager, member, 10)
    assert posted.status_code == 201, posted.text
    assert posted.json()["status"] == "posted"
    adjusted = await entries("points.adjusted")
    assert [e["store_ids"] for e in adjusted] == [[], [till.store_id]]


@pytest.mark.usefixtures("bought_here")
async def test_above_the_limit_an_adjustment_waits_for_a_second_staff_member(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember, admin: SignedInStaff
) -> None:
    before = await available(client, member)
    requester = await hire(client, "manager", [till.store_id])
    colleague = await hire(client, "manager", [till.store_id])
    stranger = await hire(client, "manager", [(await open_till()).store_id])

    asked = await adjust_by(client, requester, member, LIMIT + 1, key="big-one")
    assert asked.status_code == 201, asked.text
    assert asked.json()["status"] == "pending_approval"
    assert asked.json()["balance"]["available"] == before
    approval_id = asked.json()["approval_id"]
    replay = await adjust_by(client, requester, member, LIMIT + 1, key="big-one")
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["approval_id"] == approval_id
    assert await AdjustmentApproval.count() == 1
    assert await staff_entries() == []
    assert await available(client, member) == before
    requested = await only("adjustment.requested")
    assert requested["after"]["exceeded"] == "per_adjustment"
    assert requested["store_ids"] == [till.store_id]

    assert await pending_for(client, colleague) == [approval_id]
    assert await pending_for(client, admin) == [approval_id]
    assert await pending_for(client, stranger) == []

    own = await decide(client, requester, approval_id, "approve")
    assert_problem(own, 403, "approver_is_requester")
    assert_problem(
        await decide(client, requester, approval_id, "reject"), 403, "approver_is_requester"
    )
    assert_problem(await decide(client, stranger, approval_id, "approve"), 403, "forbidden")
    refusals = await entries("adjustment.decision_refused")
    assert [(str(e["staff_id"]), e["after"]["why"]) for e in refusals] == [
        (requester.staff_id, "own_request"),
        (requester.staff_id, "own_request"),
        (stranger.staff_id, "not_of_your_stores"),
    ]
    assert await staff_entries() == []

    approved = await decide(client, colleague, approval_id, "approve")
    assert approved.status_code == 200, approved.text
    assert approved.json()["approval"]["status"] == "approved"
    assert approved.json()["approval"]["decided_by"] == colleague.staff_id
    assert approved.json()["balance"]["available"] == before + LIMIT + 1
    # The ledger names who asked; the trail who approved.
    assert await staff_entries() == [
        {"available_delta": LIMIT + 1, "cause_id": uuid.UUID(requester.staff_id)}
    ]
    entry = await only("adjustment.approved")
    assert str(entry["staff_id"]) == colleague.staff_id
    assert entry["after"]["requested_by"] == requester.staff_id

    again = await decide(client, admin, approval_id, "approve")
    assert again.status_code == 200
    assert again.json()["approval"]["decided_by"] == colleague.staff_id
    assert_problem(await decide(client, admin, approval_id, "reject"), 409, "approval_decided")
    assert len(await staff_entries()) == 1
    assert await available(client, member) == before + LIMIT + 1
    assert await pending_for(client, admin) == []
    assert_problem(await decide(client, admin, str(uuid.uuid4()), "approve"), 404, "not_found")


@pytest.mark.usefixtures("bought_here")
async def test_a_rejected_adjustment_never_reaches_the_ledger(
    client: httpx.AsyncClient, member: LoggedInMember, admin: SignedInStaff, manager: SignedInStaff
) -> None:
    before = await available(client, member)
    asked = await adjust_by(client, manager, member, -(LIMIT + 1))
    approval_id = asked.json()["approval_id"]
    rejected = await decide(client, admin, approval_id, "reject")
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["approval"]["status"] == "rejected"
    assert rejected.json()["balance"] is None
    assert_problem(await decide(client, admin, approval_id, "approve"), 409, "approval_decided")
    assert await staff_entries() == []
    assert await available(client, member) == before
    assert str((await only("adjustment.rejected"))["staff_id"]) == admin.staff_id


@pytest.mark.usefixtures("bought_here")
async def test_two_approvers_at_once_post_it_once(
    client: httpx.AsyncClient,
    till: Till,
    member: LoggedInMember,
    admin: SignedInStaff,
    manager: SignedInStaff,
) -> None:
    before = await available(client, member)
    colleague = await hire(client, "manager", [till.store_id])
    for _ in range(3):
        asked = await adjust_by(client, manager, member, LIMIT + 1)
        approval_id = asked.json()["approval_id"]
        answers = await asyncio.gather(
            decide(client, colleague, approval_id, "approve"),
            decide(client, admin, approval_id, "approve"),
        )
        assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    assert len(await staff_entries()) == 3
    assert len(await entries("adjustment.approved")) == 3
    assert await available(client, member) == before + 3 * (LIMIT + 1)


@pytest.mark.usefixtures("bought_here")
async def test_the_daily_limit_counts_the_managers_day(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember
) -> None:
    caller = await hired_caller(client, "manager", [till.store_id])
    redis = Redis.from_url(os.environ["REDIS_URL"])
    publisher = EventPublisher(redis=redis, prefix=os.environ["ASTROCOFFEE_REDIS_PREFIX"])
    limits = AdjustmentLimits(max_points=100, daily_points=250)

    async def adjust_as_manager(points: int) -> str:
        response, _ = await adjust_points(
            staff=caller,
            member_id=uuid.UUID(member.member_id),
            request=AdjustmentRequest(points=points, reason="a lost stamp card"),
            key=uuid.uuid4().hex,
            publisher=publisher,
            limits=limits,
        )
        return response.status

    # 23:00 in Moscow (the program's zone) is 20:00 UTC; the day turns three hours later.
    evening = datetime(2026, 3, 2, 20, tzinfo=UTC)
    try:
        with time_machine.travel(evening, tick=False):
            assert [await adjust_as_manager(p) for p in (100, -100, 50)] == ["posted"] * 3
            assert await adjust_as_manager(1) == "pending_approval"  # 251 > 250
            assert await adjust_as_manager(101) == "pending_approval"  # > 100 at once
        with time_machine.travel(evening + timedelta(minutes=59), tick=False):
            assert await adjust_as_manager(1) == "pending_approval"  # still 23:59 there
        with time_machine.travel(evening + timedelta(hours=1), tick=False):
            assert await adjust_as_manager(100) == "posted"  # a new day
    finally:
        await redis.aclose()
    waiting = await AdjustmentApproval.select(AdjustmentApproval.exceeded).order_by(
        AdjustmentApproval.created_at
    )
    assert [w["exceeded"] for w in waiting] == ["per_day", "per_adjustment", "per_day"]
    assert [e["available_delta"] for e in await staff_entries()] == [100, -100, 50, 100]


@pytest.mark.usefixtures("bought_here")
async def test_an_approval_that_waited_past_an_erasure_posts_nothing(
    client: httpx.AsyncClient,
    live_server: LiveServer,
    member: LoggedInMember,
    admin: SignedInStaff,
    manager: SignedInStaff,
) -> None:
    first = (await adjust_by(client, manager, member, LIMIT + 1)).json()["approval_id"]
    second = (await adjust_by(client, manager, member, LIMIT + 2)).json()["approval_id"]
    erasure = live_server.app.dependencies["member_erasure"].dependency()
    await erasure.erase(uuid.UUID(member.member_id), staff=None, reason=None)
    before = await staff_entries()

    assert_problem(await decide(client, admin, first, "approve"), 404, "member_not_found")
    assert (await decide(client, admin, second, "reject")).status_code == 200
    assert await staff_entries() == before == []
    assert await pending_for(client, admin) == [first]  # still waiting: reject it
