"""The campaign lifecycle through the admin API, and the refusal of contradictory rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from db.tables import Campaign
from tests.backend.campaigns.helpers import create
from tests.factories import hire

BONUS = {"type": "bonus", "points": 10, "min_amount": 100}
SOON = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
LATER = (datetime.now(UTC) + timedelta(hours=2)).isoformat()


async def _post(client: httpx.AsyncClient, headers: dict[str, str], path: str) -> httpx.Response:
    return await client.post(f"/v1/admin/campaigns{path}", headers=headers)


async def test_draft_schedule_publish_pause_end(client: httpx.AsyncClient) -> None:
    admin = await hire(client, "admin")
    campaign = await create(
        client, admin, name="Mondays", rule=BONUS, starts_at=SOON, ends_at=LATER
    )
    assert campaign["status"] == "draft"
    edited = await client.put(
        f"/v1/admin/campaigns/{campaign['id']}",
        json={"name": "Mondays, edited", "rule": BONUS, "starts_at": SOON, "ends_at": LATER},
        headers=admin.headers,
    )
    assert edited.json()["name"] == "Mondays, edited"
    cid = campaign["id"]
    assert (await _post(client, admin.headers, f"/{cid}/schedule")).json()["status"] == "scheduled"
    locked = await client.put(
        f"/v1/admin/campaigns/{cid}", json={"name": "x", "rule": BONUS}, headers=admin.headers
    )
    assert locked.status_code == 409  # only drafts are edited
    published = (await _post(client, admin.headers, f"/{cid}/publish")).json()
    assert published["status"] == "active"
    assert datetime.fromisoformat(published["starts_at"]) <= datetime.now(UTC)
    assert (await _post(client, admin.headers, f"/{cid}/pause")).json()["status"] == "paused"
    assert (await _post(client, admin.headers, f"/{cid}/publish")).json()["status"] == "active"
    ended = (await _post(client, admin.headers, f"/{cid}/end")).json()
    assert ended["status"] == "ended"
    again = await _post(client, admin.headers, f"/{cid}/publish")
    assert again.status_code == 409
    assert again.json()["code"] == "conflict"
    listed = (await client.get("/v1/admin/campaigns", headers=admin.headers)).json()["items"]
    assert [c["status"] for c in listed] == ["ended"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"rule": {"type": "bonus", "points": 10}}, "needs a sku, a category or a min_amount"),
        ({"rule": BONUS, "starts_at": LATER, "ends_at": SOON}, "ends_at must be after starts_at"),
        ({"rule": BONUS, "ends_at": "2020-01-01T00:00:00Z"}, "ends_at is in the past"),
        ({"rule": BONUS, "per_member_limit": 5, "total_limit": 2}, "per_member_limit is more"),
        (
            {"rule": {"type": "welcome", "points": 5}, "requires_activation": True},
            "welcome bonus is for every new member",
        ),
        (
            {
                "rule": {"type": "reward", "cost_points": 5, "category": "c", "max_value": 1},
                "targeting": {"days_of_week": [0]},
            },
            "not used at a till",
        ),
        (
            {"rule": BONUS, "targeting": {"segment": {"min_visits": 5, "max_visits": 2}}},
            "min_visits is more than max_visits",
        ),
        (
            {"rule": BONUS, "targeting": {"hours": {"from": "07:00", "to": "07:00"}}},
            "from and to are the same",
        ),
        ({"rule": {"type": "multiplier", "factor": 0.5}}, "Expected `float` >"),
        ({"rule": {"type": "lottery"}}, "Invalid value 'lottery'"),
        ({"rule": BONUS, "surprise": True}, "unknown field"),
    ],
)
async def test_contradictory_or_invalid_campaigns_are_refused_and_nothing_stored(
    client: httpx.AsyncClient, body: dict[str, Any], reason: str
) -> None:
    admin = await hire(client, "admin")
    refused = await client.post(
        "/v1/admin/campaigns", json={"name": "Bad", **body}, headers=admin.headers
    )
    assert refused.status_code == 400, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert reason in problem["detail"] + json.dumps(problem.get("errors")), problem
    assert await Campaign.count() == 0


async def test_scheduling_needs_a_future_start(client: httpx.AsyncClient) -> None:
    admin = await hire(client, "admin")
    campaign = await create(client, admin, name="Now", rule=BONUS)
    refused = await _post(client, admin.headers, f"/{campaign['id']}/schedule")
    assert refused.status_code == 400
    assert "publish instead" in refused.json()["detail"]
