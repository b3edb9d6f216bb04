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
