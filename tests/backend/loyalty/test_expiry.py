from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx

from backend.loyalty.expiry import expire_points, release_pending
from backend.loyalty.rules import ProgramRules, publish_rules
from db.tables import LedgerEntry, PointLot
from realtime.publisher import EventPublisher
from tests.factories import LoggedInMember, Till, buy, purchase_body


async def balance(client: httpx.AsyncClient, member: LoggedInMember) -> dict[str, int]:
    return dict((await client.get("/v1/me", headers=member.headers)).json()["balance"])


async def age_lots(days: int) -> None:
    """Make every lot look ``days`` older (as if the purchases happened back then)."""
    await PointLot.update(
        {
            PointLot.created_at: PointLot.created_at - timedelta(days=days),
            PointLot.available_at: PointLot.available_at - timedelta(days=days),
            PointLot.expires_at: PointLot.expires_at - timedelta(days=days),
        },
        force=True,
    )


async def test_points_expire_oldest_first_and_only_once(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember, publisher: EventPublisher
) -> None:
    await publish_rules(ProgramRules(points_expire_after_days=30), staff_id=uuid.uuid4())
    await buy(client, till, purchase_body(member.card_number, amount=40000))  # 20 points
    await age_lots(20)
    await buy(client, till, purchase_body(member.card_number, amount=20000))  # 10 points
    # Spending takes the oldest points first: 15 of the first 20 (and earns 14 on 285.00).
    await buy(client, till, purchase_body(member.card_number, amount=30000, redeem_points=15))
    assert await balance(client, member) == {"available": 29, "pending": 0, "held": 0}

    me = (await client.get("/v1/me", headers=member.headers)).json()
    assert me["expiring_soon"]["points"] == 29  # everything is within 30 days

    in_15_days = datetime.now(UTC) + timedelta(days=15)
    assert await expire_points(publisher, now=in_15_days) == 5  # what is left of the first lot
    assert await expire_points(publisher, now=in_15_days) == 0  # re-running expires nothing
    assert await balance(client, member) == {"available": 24, "pending": 0, "held": 0}
    expiry = await LedgerEntry.select(LedgerEntry.available_delta).where(
        LedgerEntry.kind == "expiry"
    )
    assert expiry == [{"available_delta": -5}]


async def test_pending_points_become_available_after_the_return_window(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember, publisher: EventPublisher
) -> None:
    await publish_rules(ProgramRules(return_window_days=14), staff_id=uuid.uuid4())
    await buy(client, till, purchase_body(member.card_number, amount=40000))
    assert await balance(client, member) == {"available": 0, "pending": 20, "held": 0}
    refused = await buy(
        client, till, purchase_body(member.card_number, amount=40000, redeem_points=1)
    )
    assert refused.json()["code"] == "insufficient_points"

    assert await release_pending(publisher, now=datetime.now(UTC) + timedelta(days=13)) == 0
    later = datetime.now(UTC) + timedelta(days=15)
    assert await release_pending(publisher, now=later) == 20
    assert await release_pending(publisher, now=later) == 0
    assert await balance(client, member) == {"available": 20, "pending": 0, "held": 0}


async def test_the_cli_expires_points(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember, servers: object
) -> None:
    from tests.cli import astrocoffee, run_env

    await buy(client, till, purchase_body(member.card_number, amount=40000))
    await age_lots(400)
    result = astrocoffee("expire-points", env=run_env(servers))  # type: ignore[arg-type]
    assert result.returncode == 0, result.stderr
    assert "expired 20 points" in result.stdout
    assert await balance(client, member) == {"available": 0, "pending": 0, "held": 0}


async def test_a_run_stops_at_its_time_budget_and_the_next_goes_on(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember, publisher: EventPublisher
) -> None:
    await publish_rules(ProgramRules(points_expire_after_days=30), staff_id=uuid.uuid4())
    await buy(client, till, purchase_body(member.card_number, amount=40000))  # 20 points
    later = datetime.now(UTC) + timedelta(days=31)
    assert await expire_points(publisher, now=later, budget_s=0) == 0  # out of time at once
    assert await expire_points(publisher, now=later) == 20  # a backlog waits for the next run
