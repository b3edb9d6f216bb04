"""App orders paid through the payment provider (a real HTTP fake): nothing lost, one capture."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from backend.orders.service import OrderService
from db.tables import LedgerEntry, MemberEvent, Order, Purchase
from tests.conftest import Shop
from tests.factories import LoggedInMember, grant, log_in, open_till


async def _member_with_points(shop: Shop, points: int) -> LoggedInMember:
    member = await log_in(shop.client, shop.sms)
    if points:
        await grant(member.member_id, points)
    return member


async def _order(
    shop: Shop, member: LoggedInMember, store_id: uuid.UUID, *, redeem: int = 0, key: str = ""
) -> httpx.Response:
    return await shop.client.post(
        "/v1/orders",
        json={
            "store_id": str(store_id),
            "amount": 35000,
            "currency": "RUB",
            "redeem_points": redeem,
        },
        headers={**member.headers, "Idempotency-Key": key or uuid.uuid4().hex},
    )


async def _balance(shop: Shop, member: LoggedInMember) -> dict[str, Any]:
    me = await shop.client.get("/v1/me", headers=member.headers)
    balance: dict[str, Any] = me.json()["balance"]
    return balance


async def _captures(order_id: str) -> int:
    return await LedgerEntry.count().where(
        (LedgerEntry.kind == "capture") & (LedgerEntry.cause_id == uuid.UUID(order_id))
    )


async def test_a_paid_order_captures_the_held_points_and_earns(shop: Shop) -> None:
    till = await open_till()
    member = await _member_with_points(shop, 100)
    placed = await _order(shop, member, till.store_id, redeem=40)
    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert order["status"] == "awaiting_payment"
    assert order["payable_amount"] == 35000 - 4000  # 40 points = 40.00 RUB off
    assert (await _balance(shop, member))["held"] == 40
    assert shop.provider.payments[order["payment_id"]].amount == 31000

    await shop.provider.settle(order["payment_id"], "succeeded")  # the signed webhook

    paid = (await shop.client.get(f"/v1/orders/{order['order_id']}", headers=member.headers)).json()
    assert paid["status"] == "paid"
    balance = await _balance(shop, member)
    assert (balance["available"], balance["held"]) == (60 + 15, 0)  # 5 % of 310.00 earned
    assert await _captures(order["order_id"]) == 1
    events = await MemberEvent.select(MemberEvent.type).where(
        MemberEvent.member == uuid.UUID(member.member_id)
    )
    statuses = [e["type"] for e in events].count("order.updated")
    assert statuses == 2  # awaiting_payment, then paid: pushed to the phone


async def test_provider_down_fails_the_order_cleanly_and_gives_the_points_back(
    shop: Shop,
) -> None:
    till = await open_till()
    member = await _member_with_points(shop, 100)
    shop.provider.down = True
    placed = await _order(shop, member, till.store_id, redeem=50)
    assert placed.status_code == 503
    problem = placed.json()
    assert placed.headers["content-type"].startswith("application/problem+json")
    assert problem["code"] == "payment_provider_unavailable"
    failed = (
        await Order.objects().where(Order.id == uuid.UUID(problem["extra"]["order_id"])).first()
    )
    assert failed is not None and failed.status == "failed"
    balance = await _balance(shop, member)
    assert (balance["available"], balance["held"]) == (100, 0)
    assert await Purchase.count() == 0


async def test_duplicated_and_reordered_webhooks_capture_exactly_once(shop: Shop) -> None:
    till = await open_till()
    member = await _member_with_points(shop, 100)
    order = (await _order(shop, member, till.store_id, redeem=20)).json()
    shop.provider.duplicate_webhooks = True
    shop.provider.reorder_webhooks = True  # then a stale payment.failed after succeeded
    deliveries = await shop.provider.settle(order["payment_id"], "succeeded")
    assert len(deliveries) >= 3 and all(status == 200 for status, _ in deliveries)

    stored = await Order.objects().where(Order.id == uuid.UUID(order["order_id"])).first()
    assert stored is not None and stored.status == "paid"
    assert await _captures(order["order_id"]) == 1
    assert await Purchase.count().where(Purchase.external_id == f"order:{order['order_id']}") == 1
    assert (await _balance(shop, member))["held"] == 0


async def test_a_missed_webhook_is_recovered_by_the_poller(shop: Shop) -> None:
    till = await open_till()
    member = await _member_with_points(shop, 0)
    order = (await _order(shop, member, till.store_id)).json()
    shop.provider.drop_webhooks = True
    await shop.provider.settle(order["payment_id"], "failed")
    assert (
        await Order.objects().where(Order.id == uuid.UUID(order["order_id"])).first()
    ).status == ("awaiting_payment")
    orders: OrderService = shop.app.state.orders
    changed = await orders.poll(now=datetime.now(UTC) + timedelta(minutes=1))
    assert changed == 1
    stored = await Order.objects().where(Order.id == uuid.UUID(order["order_id"])).first()
    assert stored is not None and stored.status == "failed"


async def test_a_retried_order_is_the_same_order_and_one_payment(shop: Shop) -> None:
    till = await open_till()
    member = await _member_with_points(shop, 0)
    first = await _order(shop, member, till.store_id, key="order-key-1")
    again = await _order(shop, member, till.store_id, key="order-key-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.headers["idempotent-replayed"] == "true"
    assert first.json()["order_id"] == again.json()["order_id"]
    assert shop.provider.creates == 1
    other = await shop.client.post(
        "/v1/orders",
        json={"store_id": str(till.store_id), "amount": 100, "currency": "RUB"},
        headers={**member.headers, "Idempotency-Key": "order-key-1"},
    )
    assert other.status_code == 422


async def test_a_lost_create_answer_is_retried_into_the_same_payment(shop: Shop) -> None:
    till = await open_till()
    member = await _member_with_points(shop, 0)
    shop.provider.create_then_fail_next = 1  # created there, but we get a 500
    placed = await _order(shop, member, till.store_id)
    assert placed.status_code == 201, placed.text
    assert shop.provider.creates == 2 and len(shop.provider.payments) == 1


async def test_the_circuit_opens_after_repeated_failures(shop: Shop) -> None:
    till = await open_till()
    member = await _member_with_points(shop, 0)
    shop.provider.down = True
    for _ in range(5):
        assert (await _order(shop, member, till.store_id)).status_code == 503
    attempts = shop.provider.creates
    refused = await _order(shop, member, till.store_id)
    assert refused.status_code == 503
    assert shop.provider.creates == attempts  # not called: failed at once
    assert await Order.count().where(Order.status == "failed") == 6
