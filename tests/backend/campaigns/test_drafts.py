"""A campaign being written is checked by the create's own validation and told its audience
now, and nothing is saved."""

from __future__ import annotations

import httpx

from db.tables import Campaign
from tests.conftest import LiveServer
from tests.factories import hire, log_in

BONUS = {"type": "bonus", "points": 10, "category": "bakery"}


async def test_a_draft_is_checked_and_counted_without_being_saved(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    admin = await hire(client, "admin")
    for _ in range(3):
        await log_in(client, live_server.sms)  # three green members
    before = await Campaign.count()

    everyone = await client.post(
        "/v1/admin/campaigns/check", json={"name": "All", "rule": BONUS}, headers=admin.headers
    )
    assert everyone.status_code == 200, everyone.text
    assert everyone.json() == {"audience": 3, "everyone": True}

    gold = await client.post(
        "/v1/admin/campaigns/check",
        json={"name": "Gold", "rule": BONUS, "targeting": {"tiers": ["gold"]}},
        headers=admin.headers,
    )
    assert gold.json() == {"audience": 0, "everyone": False}
    new_ones = await client.post(
        "/v1/admin/campaigns/check",
        json={"name": "New", "rule": BONUS, "targeting": {"segment": {"max_visits": 0}}},
        headers=admin.headers,
    )
    assert new_ones.json() == {"audience": 3, "everyone": False}

    # Contradictory targeting: the create's own message, and still nothing saved.
    empty_window = await client.post(
        "/v1/admin/campaigns/check",
        json={
            "name": "Never",
            "rule": BONUS,
            "targeting": {"hours": {"from": "07:00", "to": "07:00"}},
        },
        headers=admin.headers,
    )
    assert empty_window.status_code == 400
    assert "the window would be empty" in empty_window.json()["detail"]
    assert await Campaign.count() == before
