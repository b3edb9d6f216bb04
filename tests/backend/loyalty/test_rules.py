from __future__ import annotations

import httpx

from db.tables import Purchase
from tests.conftest import LiveServer
from tests.factories import buy, hire, log_in, open_till, purchase_body

COFFEE = {"sku": "LAT", "name": "Latte", "category": "coffee", "quantity": 1, "unit_price": 30000}
BEANS = {
    "sku": "BEANS-1KG",
    "name": "Beans",
    "category": "retail",
    "quantity": 1,
    "unit_price": 70000,
}


async def test_admins_publish_versions_and_old_sales_keep_theirs(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    admin = await hire(client, "admin")
    till = await open_till()
    member = await log_in(client, live_server.sms)
    current = (await client.get("/v1/admin/rules", headers=admin.headers)).json()
    assert current["version"] == 0
    assert current["rules"]["tier_earn_percent"] == {"green": 5, "gold": 7, "platinum": 10}

    before = (await buy(client, till, purchase_body(member.card_number, amount=100000))).json()
    rules = {**current["rules"], "tier_earn_percent": {"green": 10, "gold": 12, "platinum": 15}}
    published = await client.post("/v1/admin/rules", headers=admin.headers, json=rules)
    assert published.status_code == 201, published.text
    assert published.json()["version"] == 1
    after = (await buy(client, till, purchase_body(member.card_number, amount=100000))).json()
    assert (before["points_earned"], after["points_earned"]) == (50, 100)
    versions = [
        p["rules_version"]
        for p in await Purchase.select(Purchase.rules_version).order_by(Purchase.created_at)
    ]
    assert versions == [0, 1]


async def test_contradictory_rules_are_refused(client: httpx.AsyncClient) -> None:
    admin = await hire(client, "admin")
    base = (await client.get("/v1/admin/rules", headers=admin.headers)).json()["rules"]
    for broken in (
        {**base, "tier_thresholds": {"gold": 500, "platinum": 100}},
        {**base, "tier_earn_percent": {"green": 5}},
        {**base, "max_redeem_share_percent": 150},
        {**base, "hold_ttl_s": 1},
        {**base, "surprise": True},
    ):
        response = await client.post("/v1/admin/rules", headers=admin.headers, json=broken)
        assert response.status_code == 400, broken
    assert (await client.get("/v1/admin/rules", headers=admin.headers)).json()["version"] == 0


async def test_only_admins_publish(client: httpx.AsyncClient) -> None:
    till = await open_till()
    manager = await hire(client, "manager", [till.store_id])
    rules = (await client.get("/v1/admin/rules", headers=manager.headers)).json()["rules"]
    assert (
        await client.post("/v1/admin/rules", headers=manager.headers, json=rules)
    ).status_code == 403


async def test_exclusions_and_minimum_order(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    admin = await hire(client, "admin")
    base = (await client.get("/v1/admin/rules", headers=admin.headers)).json()["rules"]
    await client.post(
        "/v1/admin/rules",
        headers=admin.headers,
        json={**base, "excluded_categories": ["retail"], "min_order_amount": 20000},
    )
    till = await open_till()
    member = await log_in(client, live_server.sms)
    mixed = await buy(
        client, till, purchase_body(member.card_number, amount=100000, items=[COFFEE, BEANS])
    )
    assert mixed.json()["points_earned"] == 15  # only the coffee earns: 5 % of 300.00
    small = await buy(client, till, purchase_body(member.card_number, amount=19999))
    assert small.json()["points_earned"] == 0


async def test_the_history_lists_every_version_with_who_published_it(
    client: httpx.AsyncClient,
) -> None:
    admin = await hire(client, "admin")
    base = (await client.get("/v1/admin/rules", headers=admin.headers)).json()["rules"]
    for days in (30, 60):
        changed = {**base, "points_expire_after_days": days}
        published = await client.post("/v1/admin/rules", headers=admin.headers, json=changed)
        assert published.status_code == 201, published.text

    history = await client.get("/v1/admin/rules/versions", headers=admin.headers)
    assert history.status_code == 200, history.text
    items = history.json()["items"]
    assert [item["version"] for item in items] == [2, 1, 0]
    assert [item["rules"]["points_expire_after_days"] for item in items] == [60, 30, 365]
    staff = (await client.get("/v1/staff/me", headers=admin.headers)).json()
    assert {(item["created_by"], item["created_by_name"]) for item in items[:2]} == {
        (staff["id"], staff["name"])
    }
    # Version 0 is the defaults in force before anyone published: nobody, no time.
    assert (items[2]["created_by"], items[2]["created_at"]) == (None, None)

    one = await client.get("/v1/admin/rules/versions?limit=1", headers=admin.headers)
    assert [item["version"] for item in one.json()["items"]] == [2]
    refused = await client.get("/v1/admin/rules/versions?limit=0", headers=admin.headers)
    assert refused.status_code == 400
    assert refused.headers["content-type"].startswith("application/problem+json")
