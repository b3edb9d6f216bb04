"""A campaign's total limit is exact under concurrency without a chain-wide hot row: its uses
are taken from SHARES rows (backend.campaigns.total_limit), a sale skipping the shares that
other sales in flight hold, and waiting for one only when no other has a use left."""

from __future__ import annotations

import asyncio
import uuid
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from backend.campaigns import total_limit
from backend.campaigns.total_limit import SHARES, quotas, take_one
from db import sql
from db.pool import engine
from tests.backend.campaigns.helpers import LATTE, create, launch
from tests.conftest import LiveServer
from tests.factories import SignedInStaff, Till, buy, log_in, purchase_body

BONUS = {"type": "bonus", "points": 5, "min_amount": 100}


async def _shares(campaign_id: str) -> list[tuple[int, int, int]]:
    rows = await sql.fetch(
        "SELECT share, taken, quota FROM campaign_limit_share WHERE campaign = {id} ORDER BY share",
        id=uuid.UUID(campaign_id),
    )
    return [(r["share"], r["taken"], r["quota"]) for r in rows]


async def _uses(client: httpx.AsyncClient, admin: SignedInStaff, campaign_id: str) -> int:
    response = await client.get(f"/v1/admin/campaigns/{campaign_id}", headers=admin.headers)
    assert response.status_code == 200, response.text
    uses: int = response.json()["uses"]
    return uses


async def _take(campaign_id: str, member_id: uuid.UUID | None = None) -> bool:
    async with engine().transaction():
        return await take_one(uuid.UUID(campaign_id), member_id or uuid.uuid4())


def test_quotas_split_what_the_limit_leaves_over_the_shares() -> None:
    assert SHARES == 16
    assert quotas([0] * 16, 25) == [2] * 9 + [1] * 7
    assert quotas([0] * 16, 3) == [1, 1, 1] + [0] * 13
    taken = [3, 0, 1] + [0] * 13
    assert quotas(taken, 6) == [4, 1, 1] + [0] * 13  # 2 left: one more for the first two
    assert quotas(taken, None) == taken  # no limit: nothing left to take, the counts kept
    assert sum(quotas(taken, 1000)) == 1000


async def test_concurrent_sales_award_exactly_the_limit(
    client: httpx.AsyncClient, live_server: LiveServer, admin: SignedInStaff, till: Till
) -> None:
    capped = await launch(client, admin, name="Capped", rule=BONUS, total_limit=25)
    roomy = await launch(client, admin, name="Roomy", rule=BONUS, total_limit=100)
    members = [await log_in(client, live_server.sms) for _ in range(40)]

    async def sale(card_number: str) -> list[str]:
        body = purchase_body(card_number, amount=20000, items=[LATTE])
        response = await buy(client, till, body)
        assert response.status_code == 201, response.text
        return [o["name"] for o in response.json()["offers_applied"]]

    applied = await asyncio.gather(*(sale(m.card_number) for m in members))
    assert sum("Capped" in names for names in applied) == 25
    assert sum("Roomy" in names for names in applied) == 40  # a limit above the sales: all
    assert await _uses(client, admin, capped["id"]) == 25
    assert await _uses(client, admin, roomy["id"]) == 40
    assert all(taken <= quota for _, taken, quota in await _shares(capped["id"]))
    assert sum(quota for _, _, quota in await _shares(capped["id"])) == 25
    # The report counts the same uses (from the ledger).
    report = await client.get(f"/v1/admin/campaigns/{capped['id']}/report", headers=admin.headers)
    assert report.status_code == 200, report.text
    assert report.json()["uses"] == 25
    # Ran out: the next sale gets only the roomy one.
    assert await sale(members[0].card_number) == ["Roomy"]


async def test_concurrent_takes_never_pass_the_limit_and_give_back_on_rollback(
    client: httpx.AsyncClient, admin: SignedInStaff
) -> None:
    campaign = await launch(client, admin, name="Capped", rule=BONUS, total_limit=25)

    class Undone(Exception):
        pass

    async def take(rolled_back: bool) -> bool:
        try:
            async with engine().transaction():
                taken = await take_one(uuid.UUID(campaign["id"]), uuid.uuid4())
                await asyncio.sleep(0.05)  # held a while, as a sale holds it to its commit
                if rolled_back:
                    raise Undone
                return taken
        except Undone:
            return False

    # 10 of the 40 roll back what they took: those uses go to the others, who wait for them
    # rather than give up, so 25 of the 30 that commit get one.
    taken = await asyncio.gather(*(take(rolled_back=i % 4 == 0) for i in range(40)))
    assert sum(taken) == 25
    assert await _uses(client, admin, campaign["id"]) == 25
    assert not await _take(campaign["id"])


async def test_a_take_left_open_does_not_hold_up_another(
    client: httpx.AsyncClient, admin: SignedInStaff, till: Till, live_server: LiveServer
) -> None:
    campaign = await launch(client, admin, name="Capped", rule=BONUS, total_limit=100)
    member = uuid.uuid4()  # the same member's share, even: the second take moves on
    took = asyncio.Event()
    finish = asyncio.Event()

    async def left_open() -> bool:
        async with engine().transaction():
            taken = await take_one(uuid.UUID(campaign["id"]), member)
            took.set()
            await finish.wait()
            return taken

    holder = asyncio.create_task(left_open())
    await took.wait()
    statements: list[str] = []

    async def counted(template: str, /, **params: Any) -> Any:
        statements.append(template)
        return await sql.fetch(template, **params)

    async with engine().transaction():
        # A wait for a row lock would fail here instead of hanging.
        await sql.fetch("SET LOCAL lock_timeout = '1s'")
        with pytest.MonkeyPatch.context() as patch:
            # Only the takes' own statements: the module's ``sql`` seen through a counter.
            patch.setattr(total_limit, "sql", SimpleNamespace(fetch=counted))
            assert await take_one(uuid.UUID(campaign["id"]), member)
    assert statements == [total_limit._TAKE_ONE]  # one statement: no pause, no second try
    assert await _uses(client, admin, campaign["id"]) == 1  # the open one not yet counted
    # A sale through the API applying the campaign goes through as well (it used to wait
    # for the campaign row until the open transaction ended).
    buyer = await log_in(client, live_server.sms)
    body = purchase_body(buyer.card_number, amount=20000, items=[LATTE])
    response = await client.post(
        "/v1/purchases",
        json=body,
        headers={**till.headers, "Idempotency-Key": uuid.uuid4().hex},
        timeout=5,
    )
    assert response.status_code == 201, response.text
    assert [o["name"] for o in response.json()["offers_applied"]] == ["Capped"]
    assert await _uses(client, admin, campaign["id"]) == 2
    finish.set()
    assert await holder
    assert await _uses(client, admin, campaign["id"]) == 3
    # The three uses are counted in the shares (no campaign row is counted on). Which shares
    # they landed on depends on the members' ids: two members may share a share.
    assert sum(taken for _, taken, _ in await _shares(campaign["id"])) == 3


async def test_the_last_use_held_by_a_sale_in_flight_is_waited_for_not_refused(
    client: httpx.AsyncClient, admin: SignedInStaff
) -> None:
    campaign = await launch(client, admin, name="Last one", rule=BONUS, total_limit=1)
    took = asyncio.Event()
    finish = asyncio.Event()

    class Undone(Exception):
        pass

    async def rolled_back() -> None:
        try:
            async with engine().transaction():
                assert await take_one(uuid.UUID(campaign["id"]), uuid.uuid4())
                took.set()
                await finish.wait()
                raise Undone
        except Undone:
            pass

    holder = asyncio.create_task(rolled_back())
    await took.wait()
    waiting = asyncio.create_task(_take(campaign["id"]))
    await asyncio.sleep(0.3)
    assert not waiting.done()  # it waits for the use in flight, and does not say 'ran out'
    finish.set()
    await holder
    assert await waiting  # given back by the rollback: taken
    assert not await _take(campaign["id"])  # now it has run out
    assert await _uses(client, admin, campaign["id"]) == 1


async def test_a_limit_change_keeps_the_uses_counted(
    client: httpx.AsyncClient, admin: SignedInStaff
) -> None:
    body: dict[str, Any] = {"name": "Draft", "rule": BONUS, "total_limit": 10}
    draft = await create(client, admin, **body)
    assert sum(quota for _, _, quota in await _shares(draft["id"])) == 10
    for _ in range(3):  # uses counted (as tests may, whatever the draft's status)
        assert await _take(draft["id"])

    async def limit(total_limit: int | None) -> httpx.Response:
        return await client.put(
            f"/v1/admin/campaigns/{draft['id']}",
            json={**body, "total_limit": total_limit},
            headers=admin.headers,
        )

    changed = await limit(5)
    assert changed.status_code == 200, changed.text
    assert changed.json()["uses"] == 3
    assert [await _take(draft["id"]) for _ in range(3)] == [True, True, False]
    assert await _uses(client, admin, draft["id"]) == 5

    below = await limit(4)
    assert below.status_code == 400, below.text
    assert below.json()["extra"] == {"field": "total_limit"}
    assert await _uses(client, admin, draft["id"]) == 5

    unlimited = await limit(None)
    assert unlimited.status_code == 200, unlimited.text
    assert unlimited.json()["uses"] == 5  # kept
    again = await limit(8)
    assert again.json()["uses"] == 5
    assert [await _take(draft["id"]) for _ in range(4)] == [True, True, True, False]
    assert await _uses(client, admin, draft["id"]) == 8


async def test_an_unlimited_campaign_has_no_shares_and_locks_nothing(
    client: httpx.AsyncClient, admin: SignedInStaff, till: Till, live_server: LiveServer
) -> None:
    campaign = await launch(client, admin, name="Open", rule=BONUS)
    member = await log_in(client, live_server.sms)
    body = purchase_body(member.card_number, amount=20000, items=[LATTE])
    response = await buy(client, till, body)
    assert response.status_code == 201, response.text
    assert [o["name"] for o in response.json()["offers_applied"]] == ["Open"]
    assert await _shares(campaign["id"]) == []
    assert await _uses(client, admin, campaign["id"]) == 0


async def test_welcome_and_rewards_count_against_their_limits_too(
    client: httpx.AsyncClient, admin: SignedInStaff, live_server: LiveServer
) -> None:
    welcome = await launch(
        client, admin, name="First two", rule={"type": "welcome", "points": 50}, total_limit=2
    )
    members = [await log_in(client, live_server.sms) for _ in range(3)]
    balances = [
        (await client.get("/v1/me", headers=m.headers)).json()["balance"]["available"]
        for m in members
    ]
    assert balances == [50, 50, 0]
    assert await _uses(client, admin, welcome["id"]) == 2

    rule = {"type": "reward", "cost_points": 10, "category": "coffee", "max_value": 20000}
    reward = await launch(client, admin, name="One latte", rule=rule, total_limit=1)

    async def redeem(member: Any) -> int:
        response = await client.post(
            f"/v1/me/offers/{reward['id']}/redeem",
            headers={**member.headers, "Idempotency-Key": uuid.uuid4().hex},
        )
        return response.status_code

    assert sorted(await asyncio.gather(*(redeem(m) for m in members[:2]))) == [201, 409]
    assert await _uses(client, admin, reward["id"]) == 1
