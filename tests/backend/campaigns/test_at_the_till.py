"""Campaigns applied to real sales through the API: itemised, on the ledger, reversible."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from db.tables import LedgerEntry, MemberOffer, MemberStats
from tests.backend.campaigns.helpers import CROISSANT, LATTE, launch, line
from tests.clock import at, utc
from tests.conftest import LiveServer
from tests.factories import (
    LoggedInMember,
    SignedInStaff,
    Till,
    buy,
    log_in,
    on_checkout,
    open_till,
    post_as,
    purchase_body,
)


async def _sale(
    client: httpx.AsyncClient,
    till: Till,
    member: LoggedInMember,
    items: list[dict[str, Any]],
    **extra: Any,
) -> dict[str, Any]:
    amount = sum(i["unit_price"] * i["quantity"] for i in items)
    response = await buy(
        client, till, purchase_body(member.card_number, amount=amount, items=items, **extra)
    )
    assert response.status_code == 201, response.text
    sale: dict[str, Any] = response.json()
    return sale


async def _me(client: httpx.AsyncClient, member: LoggedInMember, path: str = "") -> Any:
    """GET /v1/me or one of its parts, as the member."""
    return (await client.get(f"/v1/me{path}", headers=member.headers)).json()


async def test_stacked_campaigns_are_itemised_and_each_on_its_own_ledger_entry(
    client: httpx.AsyncClient, admin: SignedInStaff, till: Till, member: LoggedInMember
) -> None:
    double = await launch(
        client, admin, name="Double points", rule={"type": "multiplier", "factor": 2}, priority=10
    )
    pastry_bonus = {"type": "bonus", "points": 25, "category": "bakery"}
    pastry = await launch(client, admin, name="Pastry bonus", rule=pastry_bonus)
    sale = await _sale(client, till, member, [LATTE, CROISSANT])
    # 350.00 RUB at 5 % = 17 base points; x2 adds 17; the pastry adds 25.
    assert sale["points_earned"] == 17 + 17 + 25
    assert [(o["name"], o["points"]) for o in sale["offers_applied"]] == [
        ("Double points", 17),
        ("Pastry bonus", 25),
    ]
    entries = await LedgerEntry.select(
        LedgerEntry.cause_type,
        LedgerEntry.cause_id,
        LedgerEntry.pending_delta,
        LedgerEntry.available_delta,
    ).where(LedgerEntry.kind == "earn")
    by_cause = {(e["cause_type"], str(e["cause_id"])): e for e in entries}
    assert ("purchase", sale["purchase_id"]) in by_cause
    assert ("campaign", double["id"]) in by_cause
    assert ("campaign", pastry["id"]) in by_cause


async def test_a_refund_takes_back_campaign_points_in_proportion(
    client: httpx.AsyncClient, admin: SignedInStaff, till: Till, member: LoggedInMember
) -> None:
    await launch(client, admin, name="Triple", rule={"type": "multiplier", "factor": 3})
    sale = await _sale(client, till, member, [LATTE, LATTE])  # 400.00: 20 base, +40
    assert sale["points_earned"] == 60
    refunds = f"/v1/purchases/{sale['purchase_id']}/refunds"
    refund = await post_as(client, till, refunds, {"amount": 20000, "reason": "one latte spilled"})
    assert refund.status_code == 201, refund.text
    assert refund.json()["points_reversed"] == 30
    full = await post_as(client, till, refunds, {"amount": 20000, "reason": "the other one too"})
    assert full.json()["balance"]["pending"] + full.json()["balance"]["available"] == 0


async def test_exclusive_priority_and_targeting_decide_deterministically(
    client: httpx.AsyncClient, admin: SignedInStaff, till: Till, member: LoggedInMember
) -> None:
    elsewhere = await open_till()
    for name, points, settings in [
        ("Store only", 5, {"targeting": {"store_ids": [str(elsewhere.store_id)]}, "priority": 50}),
        ("Gold only", 7, {"targeting": {"tiers": ["gold"]}, "priority": 40}),
        ("Big exclusive", 100, {"exclusive": True, "priority": 30}),
        ("Ordinary", 3, {}),
    ]:
        rule = {"type": "bonus", "points": points, "min_amount": 100}
        await launch(client, admin, name=name, rule=rule, **settings)
    sale = await _sale(client, till, member, [LATTE])
    assert [o["name"] for o in sale["offers_applied"]] == ["Big exclusive"]
    other = await _sale(client, elsewhere, member, [LATTE])
    # At the other store the store bonus comes first, so the exclusive one is skipped.
    assert [o["name"] for o in other["offers_applied"]] == ["Store only", "Ordinary"]


async def test_limits_per_member_and_in_total(
    client: httpx.AsyncClient, live_server: LiveServer, admin: SignedInStaff, till: Till
) -> None:
    first = await log_in(client, live_server.sms)
    second = await log_in(client, live_server.sms)
    coffee_bonus = {"type": "bonus", "points": 10, "category": "coffee"}
    campaign = await launch(
        client,
        admin,
        name="First two coffees",
        rule=coffee_bonus,
        per_member_limit=2,
        total_limit=3,
    )
    earned = [len((await _sale(client, till, first, [LATTE]))["offers_applied"]) for _ in range(3)]
    assert earned == [1, 1, 0]  # the member's limit
    earned = [len((await _sale(client, till, second, [LATTE]))["offers_applied"]) for _ in range(2)]
    assert earned == [1, 0]  # the total limit
    shown = await client.get(f"/v1/admin/campaigns/{campaign['id']}", headers=admin.headers)
    assert shown.json()["uses"] == 3  # counted over the limit's shares


async def test_an_offer_that_must_be_activated_applies_only_after_activation(
    client: httpx.AsyncClient, admin: SignedInStaff, till: Till, member: LoggedInMember
) -> None:
    opt_in = {"type": "bonus", "points": 30, "min_amount": 1000}
    campaign = await launch(
        client, admin, name="Opt-in bonus", rule=opt_in, requires_activation=True
    )
    assert (await _sale(client, till, member, [LATTE]))["offers_applied"] == []
    offers = (await _me(client, member, "/offers"))["items"]
    assert [(o["name"], o["status"]) for o in offers] == [("Opt-in bonus", "available")]
    activated = await client.post(
        f"/v1/me/offers/{campaign['id']}/activate", headers=member.headers
    )
    assert activated.json()["status"] == "activated"
    sale = await _sale(client, till, member, [LATTE])
    assert [o["points"] for o in sale["offers_applied"]] == [30]


async def test_stamp_card_gives_a_coupon_that_takes_a_drink_off(
    client: httpx.AsyncClient, admin: SignedInStaff, till: Till, member: LoggedInMember
) -> None:
    stamps = {"category": "coffee", "stamps_needed": 3}
    card = await launch(
        client,
        admin,
        name="Sixth coffee free",
        rule={"type": "stamp_card", **stamps, "reward_max_value": 25000},
    )
    await _sale(client, till, member, [line("latte", "coffee", 20000, quantity=2)])
    assert (await _me(client, member))["stamp_cards"] == [
        {
            "campaign_id": card["id"],
            "name": "Sixth coffee free",
            "category": "coffee",
            "stamps": 2,
            "stamps_needed": 3,
        }
    ]
    await _sale(client, till, member, [LATTE, CROISSANT])  # the third stamp: a coupon
    offers = (await _me(client, member, "/offers"))["items"]
    coupon = next(o for o in offers if o["status"] == "coupon")
    assert (await _me(client, member))["stamp_cards"][0]["stamps"] == 0

    sale = await _sale(client, till, member, [LATTE, CROISSANT], coupons=[coupon["coupon_code"]])
    assert sale["paid_amount"] == 35000 - 20000
    assert {"kind": "coupon", "discount": 20000}.items() <= sale["offers_applied"][0].items()
    again = await buy(
        client,
        till,
        purchase_body(
            member.card_number, amount=20000, items=[LATTE], coupons=[coupon["coupon_code"]]
        ),
    )
    assert again.status_code == 400  # used
    assert await MemberOffer.count().where(MemberOffer.status == "used") == 1


async def test_a_reward_bought_with_points_becomes_a_one_time_coupon(
    client: httpx.AsyncClient, admin: SignedInStaff, till: Till, member: LoggedInMember
) -> None:
    from tests.factories import grant

    await grant(member.member_id, 200)
    croissant = {"type": "reward", "cost_points": 150, "category": "bakery", "max_value": 16000}
    reward = await launch(client, admin, name="Free croissant", rule=croissant)
    redeem = f"/v1/me/offers/{reward['id']}/redeem"
    key = {"Idempotency-Key": "reward-1"}
    bought = await client.post(redeem, headers={**member.headers, **key})
    assert bought.status_code == 201, bought.text
    again = await client.post(redeem, headers={**member.headers, **key})
    assert again.json() == bought.json()  # one coupon, paid once
    assert (await _me(client, member))["balance"]["available"] == 50
    broke = await client.post(redeem, headers={**member.headers, "Idempotency-Key": "reward-2"})
    assert broke.status_code == 422
    code = bought.json()["offer"]["coupon_code"]
    sale = await _sale(client, till, member, [LATTE, CROISSANT], coupons=[code])
    assert sale["paid_amount"] == 35000 - 15000


async def test_welcome_birthday_and_win_back(
    client: httpx.AsyncClient, live_server: LiveServer, till: Till
) -> None:
    from datetime import UTC, datetime, timedelta

    from tests.factories import hire

    # The clock is set: a birthday is a date, and today must not decide the test.
    with at(utc(2027, 5, 17, 9, 0)):
        admin = await hire(client, "admin")
        await launch(client, admin, name="Welcome", rule={"type": "welcome", "points": 50})
        member = await log_in(client, live_server.sms)
        assert (await _me(client, member))["balance"]["available"] == 50

        await launch(client, admin, name="Happy birthday", rule={"type": "birthday", "points": 40})
        win_back = {"type": "win_back", "inactive_days": 30, "points": 60}
        await launch(client, admin, name="Come back", rule=win_back)
        updated = await client.patch(
            "/v1/me", json={"birth_date": "1990-05-17"}, headers=member.headers
        )
        assert updated.status_code == 200, updated.text
        first = await _sale(client, till, member, [LATTE])
        assert [o["name"] for o in first["offers_applied"]] == ["Happy birthday"]
        second = await _sale(client, till, member, [LATTE])
        assert second["offers_applied"] == []  # once per birthday
        await MemberStats.update(
            {MemberStats.last_visit_at: datetime.now(UTC) - timedelta(days=45)}
        ).where(MemberStats.member == uuid.UUID(member.member_id))
        back = await _sale(client, till, member, [LATTE])
        assert [o["name"] for o in back["offers_applied"]] == ["Come back"]


async def test_checkouts_quote_the_offers_and_apply_them_on_completion(
    client: httpx.AsyncClient, admin: SignedInStaff, till: Till, member: LoggedInMember
) -> None:
    bakery_bonus = {"type": "bonus", "points": 12, "category": "bakery"}
    await launch(client, admin, name="Bakery bonus", rule=bakery_bonus)
    basket = purchase_body(member.card_number, amount=35000, items=[LATTE, CROISSANT])
    opened = await post_as(client, till, "/v1/checkouts", basket)
    assert opened.status_code == 201, opened.text
    quote = opened.json()
    assert [(o["name"], o["points"]) for o in quote["offers"]] == [("Bakery bonus", 12)]
    assert quote["points_to_earn"] == 17 + 12
    paid = {"payment_ref": "card-1", "paid_amount": 35000}
    done = await on_checkout(client, till, quote, "complete", paid)
    assert done.status_code == 200, done.text
    assert done.json()["purchase"]["points_earned"] == 29
