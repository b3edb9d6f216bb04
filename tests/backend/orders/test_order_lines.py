"""An app order's items become its purchase's lines once it is paid."""

from __future__ import annotations

import uuid

from db import sql
from db.tables import Order, Purchase
from tests.backend.campaigns.helpers import line
from tests.conftest import Shop
from tests.factories import grant, log_in, open_till


async def test_a_paid_order_keeps_its_lines_with_the_points_each_earned(shop: Shop) -> None:
    till = await open_till()
    member = await log_in(shop.client, shop.sms)
    await grant(member.member_id, 100)
    items = [line("CRO-1", "bakery", 15000), line("LAT-M", "coffee", 20000)]
    placed = await shop.client.post(
        "/v1/orders",
        json={
            "store_id": str(till.store_id),
            "amount": 35000,
            "currency": "RUB",
            "items": items,
            "redeem_points": 40,
        },
        headers={**member.headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert placed.status_code == 201, placed.text
    await shop.provider.settle(placed.json()["payment_id"], "succeeded")

    order = await Order.select(Order.purchase).where(
        Order.id == uuid.UUID(placed.json()["order_id"])
    )
    purchase = await Purchase.select(Purchase.points_earned, Purchase.lines).where(
        Purchase.id == order[0]["purchase"]
    )
    # 310.00 paid of 350.00 earns 15: by money 6.43 and 8.57, the point left to the larger
    # remainder.
    assert purchase[0]["points_earned"] == 15
    lines = sql.loaded_json(purchase[0]["lines"])
    assert [(x["sku"], x["points_earned"]) for x in lines] == [("CRO-1", 6), ("LAT-M", 9)]
