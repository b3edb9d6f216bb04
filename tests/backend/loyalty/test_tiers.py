from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from backend.loyalty.rules import ProgramRules, publish_rules
from backend.loyalty.tiers import evaluate_tiers
from db.tables import MemberEvent, Purchase
from realtime.publisher import EventPublisher
from tests.conftest import LiveServer
from tests.factories import LoggedInMember, Till, post_as, sell

RULES = ProgramRules(tier_thresholds={"gold": 100000, "platinum": 500000})


@pytest.fixture(autouse=True)
async def tiered() -> None:
    """The program's tiers at RULES' thresholds."""
    await publish_rules(RULES, staff_id=uuid.uuid4())


async def test_upgrades_are_immediate_downgrades_wait_for_evaluation(
    client: httpx.AsyncClient, live_server: LiveServer, till: Till, member: LoggedInMember
) -> None:
    first = (await sell(client, till, member, 60000)).json()
    second = (await sell(client, till, member, 60000)).json()
    assert first["points_earned"] == 30  # green: 5 %
    me = (await client.get("/v1/me", headers=member.headers)).json()
    assert me["tier"] == "gold"
    assert me["progress"]["next_tier"] == "platinum"
    assert me["progress"]["spend_to_next_tier"] == 500000 - 120000
    third = (await sell(client, till, member, 60000)).json()
    assert third["points_earned"] == 42  # gold: 7 %
    events = (
        await MemberEvent.select(MemberEvent.type, MemberEvent.data)
        .where(MemberEvent.type == "tier.changed")
        .output(load_json=True)
    )
    assert [e["data"] for e in events] == [{"from": "green", "to": "gold"}]

    # Refunds bring the spend under the threshold: no demotion mid-day...
    for sale in (second, third):
        await post_as(
            client, till, f"/v1/purchases/{sale['purchase_id']}/refunds", {"amount": 60000}
        )
    assert (await client.get("/v1/me", headers=member.headers)).json()["tier"] == "gold"
    # ...but at the evaluation.
    state = live_server.app.state
    publisher = EventPublisher(redis=state.redis, prefix=state.settings.redis_prefix)
    assert await evaluate_tiers(publisher, RULES, now=datetime.now(UTC)) == 1
    assert await evaluate_tiers(publisher, RULES, now=datetime.now(UTC)) == 0
    assert (await client.get("/v1/me", headers=member.headers)).json()["tier"] == "green"


async def test_spend_outside_the_window_does_not_count(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember
) -> None:
    await sell(client, till, member, 90000)
    await Purchase.update(
        {Purchase.created_at: Purchase.created_at - timedelta(days=400)}, force=True
    )
    await sell(client, till, member, 20000)
    assert (await client.get("/v1/me", headers=member.headers)).json()["tier"] == "green"
