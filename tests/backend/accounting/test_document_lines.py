"""Sale and refund documents carry their lines to the accounting system: a sale its items
with the points each earned, a refund the units it took back with the points reversed; a
sale or refund by amount only carries none."""

from __future__ import annotations

from typing import Any

from backend.accounting.client import AccountingClient
from backend.accounting.outbox import DeliveryPolicy, deliver_due
from tests.backend.campaigns.helpers import line
from tests.conftest import Shop
from tests.factories import buy, log_in, open_till, post_as, purchase_body

QUICK = DeliveryPolicy(max_attempts=4, backoff_base_s=0, backoff_cap_s=0)


def booked(shop: Shop, reference: str) -> dict[str, Any]:
    [body] = [body for _, body in shop.accounting.booked if body["reference"] == reference]
    return body


async def test_the_books_get_the_lines_of_a_sale_and_of_its_refund(
    shop: Shop, accounting: AccountingClient
) -> None:
    till = await open_till()
    member = await log_in(shop.client, shop.sms)
    items = [line("CRO-1", "bakery", 15000, quantity=2), line("LAT-M", "coffee", 20000)]
    body = purchase_body(member.card_number, amount=50000, items=items)
    sale = (await buy(shop.client, till, body)).json()
    plain = (await buy(shop.client, till, purchase_body(member.card_number))).json()
    path = f"/v1/purchases/{sale['purchase_id']}/refunds"
    refund = await post_as(shop.client, till, path, {"lines": [{"sku": "CRO-1", "quantity": 1}]})
    assert refund.status_code == 201, refund.text
    while await deliver_due(accounting, QUICK):
        pass

    sold = booked(shop, sale["purchase_id"])
    assert sold["lines"] == [
        {
            "sku": "CRO-1",
            "name": "CRO-1",
            "category": "bakery",
            "quantity": 2,
            "amount": 30000,
            "points": 15,
        },
        {
            "sku": "LAT-M",
            "name": "LAT-M",
            "category": "coffee",
            "quantity": 1,
            "amount": 20000,
            "points": 10,
        },
    ]
    assert sum(x["points"] for x in sold["lines"]) == sold["points_issued"] == 25
    returned = booked(shop, refund.json()["refund_id"])
    assert returned["gross_amount"] == 15000
    assert [(x["sku"], x["quantity"], x["amount"], x["points"]) for x in returned["lines"]] == [
        ("CRO-1", 1, 15000, -7)
    ]
    assert returned["points_issued"] == -7
    assert "lines" not in booked(shop, plain["purchase_id"])
