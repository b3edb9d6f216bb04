"""Refunds by lines: a receipt's items are kept with the points each earned, and a refund of
some units takes back exactly what those units earned, campaigns included (docs/ledger.md).

The receipt: two croissants (bakery, doubled by a campaign), a latte, and a mug (merch, a
category the rules exclude). 1,000.00 RUB, 500.00 of it eligible: 25 base points (5 %), 15 to
the croissants and 10 to the latte by their money; the campaign's extra (x2 on the bakery
share of the base: 25 * 300/1000 = 7) goes to the croissants only: 22, 10 and 0.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from backend.loyalty.rules import ProgramRules, publish_rules
from backend.loyalty.verify import find_mismatches
from db import sql
from db.tables import AuditEntry, Purchase, Refund
from tests.backend.campaigns.helpers import launch, line
from tests.factories import (
    LoggedInMember,
    SignedInStaff,
    Till,
    assert_problem,
    buy,
    figures_folded,
    hire,
    on_checkout,
    open_till,
    post_as,
    purchase_body,
)

CROISSANTS = line("CRO-1", "bakery", 15000, quantity=2)
LATTE = line("LAT-M", "coffee", 20000)
MUG = line("MUG-1", "merch", 50000)


@pytest.fixture
async def sale(
    client: httpx.AsyncClient, admin: SignedInStaff, till: Till, member: LoggedInMember
) -> dict[str, Any]:
    """The receipt above, bought with the rules excluding merch and the campaign launched."""
    await publish_rules(ProgramRules(excluded_categories=["merch"]), staff_id=uuid.uuid4())
    double = {"type": "multiplier", "factor": 2, "categories": ["bakery"]}
    await launch(client, admin, name="Double croissants", rule=double)
    body = purchase_body(member.card_number, amount=100000, items=[CROISSANTS, LATTE, MUG])
    response = await buy(client, till, body)
    assert response.status_code == 201, response.text
    bought: dict[str, Any] = response.json()
    return bought


@pytest.fixture
def purchase_id(sale: dict[str, Any]) -> str:
    """The receipt's purchase."""
    return str(sale["purchase_id"])


def by_lines(*lines: tuple[str, int], **extra: Any) -> dict[str, Any]:
    return {"lines": [{"sku": sku, "quantity": quantity} for sku, quantity in lines], **extra}


async def refund(
    client: httpx.AsyncClient, till: Till, purchase_id: str, body: dict[str, Any]
) -> httpx.Response:
    return await post_as(client, till, f"/v1/purchases/{purchase_id}/refunds", body)


async def test_the_lines_are_kept_with_the_points_each_earned(
    client: httpx.AsyncClient, till: Till, sale: dict[str, Any]
) -> None:
    assert sale["points_earned"] == 25 + 7
    purchase = await Purchase.select(Purchase.lines).where(Purchase.id == sale["purchase_id"])
    stored = sql.loaded_json(purchase[0]["lines"])
    assert [(x["sku"], x["quantity"], x["points_earned"]) for x in stored] == [
        ("CRO-1", 2, 22),
        ("LAT-M", 1, 10),
        ("MUG-1", 1, 0),
    ]
    assert sum(x["points_earned"] for x in stored) == sale["points_earned"]
    manager = await hire(client, "manager", [till.store_id])
    view = await client.get(f"/v1/admin/purchases/{sale['purchase_id']}", headers=manager.headers)
    assert view.status_code == 200, view.text
    assert view.json()["lines"][0] == {**CROISSANTS, "points_earned": 22, "refunded_quantity": 0}


async def test_one_croissant_takes_back_its_points_with_the_campaign_and_the_mug_none(
    client: httpx.AsyncClient, till: Till, purchase_id: str
) -> None:

    one = await refund(client, till, purchase_id, by_lines(("CRO-1", 1)))
    assert one.status_code == 201, one.text
    body = one.json()
    assert (body["amount"], body["points_reversed"]) == (15000, 11)  # half of 22
    assert body["lines"] == [
        {
            "sku": "CRO-1",
            "name": "CRO-1",
            "category": "bakery",
            "quantity": 1,
            "amount": 15000,
            "points_reversed": 11,
        }
    ]
    mug = (await refund(client, till, purchase_id, by_lines(("MUG-1", 1)))).json()
    assert (mug["amount"], mug["points_reversed"]) == (50000, 0)
    other = (await refund(client, till, purchase_id, by_lines(("CRO-1", 1)))).json()
    assert other["points_reversed"] == 11
    too_many = await refund(client, till, purchase_id, by_lines(("CRO-1", 1)))
    assert_problem(too_many, 422, "refund_exceeds_lines")
    assert too_many.json()["extra"] == {"sku": "CRO-1", "refundable_quantity": 0}
    latte = (await refund(client, till, purchase_id, by_lines(("LAT-M", 1)))).json()
    assert latte["points_reversed"] == 10
    assert latte["fully_refunded"] is True
    assert latte["balance"] == {"available": 0, "pending": 0, "held": 0}
    assert await Refund.count() == 4
    await figures_folded()
    assert await find_mismatches() == []


async def test_an_amount_agrees_with_the_lines_or_is_refused(
    client: httpx.AsyncClient, till: Till, purchase_id: str
) -> None:
    wrong = await refund(client, till, purchase_id, by_lines(("LAT-M", 1), amount=19999))
    assert_problem(wrong, 400, "refund_amount_mismatch")
    unknown = await refund(client, till, purchase_id, by_lines(("TEA-1", 1)))
    assert_problem(unknown, 422, "refund_line_unknown")
    assert await Refund.count() == 0
    right = await refund(client, till, purchase_id, by_lines(("LAT-M", 1), amount=20000))
    assert right.json()["points_reversed"] == 10


async def test_amount_and_line_refunds_together_never_take_back_more_than_was_earned(
    client: httpx.AsyncClient, till: Till, purchase_id: str
) -> None:
    line_refund = (await refund(client, till, purchase_id, by_lines(("CRO-1", 1)))).json()
    assert line_refund["points_reversed"] == 11
    # By money, 250.00 of 1,000.00 would have taken back 8 in all: 11 are back already.
    by_amount = (await refund(client, till, purchase_id, {"amount": 10000})).json()
    assert by_amount["points_reversed"] == 0
    rest = (await refund(client, till, purchase_id, {"amount": 75000})).json()
    assert rest["points_reversed"] == 32 - 11
    assert rest["fully_refunded"] is True
    assert await find_mismatches() == []


async def test_lines_on_a_sale_by_amount_only_are_refused(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember
) -> None:
    sale = (await buy(client, till, purchase_body(member.card_number, amount=30000))).json()
    stored = await Purchase.select(Purchase.lines).where(Purchase.id == sale["purchase_id"])
    assert sql.loaded_json(stored[0]["lines"]) == []
    refused = await refund(client, till, sale["purchase_id"], by_lines(("CRO-1", 1)))
    assert_problem(refused, 422, "purchase_has_no_lines")
    assert await Refund.count() == 0


async def test_a_checkout_keeps_its_lines_on_the_purchase(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember
) -> None:
    body = purchase_body(member.card_number, amount=50000, items=[CROISSANTS, LATTE])
    opened = await post_as(client, till, "/v1/checkouts", body)
    assert opened.status_code == 201, opened.text
    done = await on_checkout(
        client, till, opened.json(), "complete", {"payment_ref": "pos-1", "paid_amount": 50000}
    )
    assert done.status_code == 200, done.text
    purchase_id = done.json()["purchase"]["purchase_id"]
    view = await refund(client, till, purchase_id, by_lines(("LAT-M", 1)))
    assert view.json()["points_reversed"] == 10  # 25 earned: 15 to the croissants, 10 here


async def test_a_staff_refund_by_the_stores_manager_is_audited_and_replayed(
    client: httpx.AsyncClient, admin: SignedInStaff, till: Till, sale: dict[str, Any]
) -> None:
    path = f"/v1/admin/purchases/{sale['purchase_id']}/refunds"
    stranger = await hire(client, "manager", [(await open_till()).store_id])
    barista = await hire(client, "barista", [till.store_id])
    manager = await hire(client, "manager", [till.store_id])
    body = by_lines(("CRO-1", 1), reason="стал чёрствым")

    async def as_staff(staff: SignedInStaff, key: str) -> httpx.Response:
        return await client.post(path, json=body, headers={**staff.headers, "Idempotency-Key": key})

    assert_problem(await as_staff(stranger, "k-1"), 403, "forbidden")
    assert_problem(await as_staff(barista, "k-1"), 403, "forbidden")
    first = await as_staff(manager, "k-1")
    assert first.status_code == 201, first.text
    again = await as_staff(manager, "k-1")
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert first.json()["points_reversed"] == 11
    assert await Refund.count() == 1
    entries = await AuditEntry.select(AuditEntry.staff_id, AuditEntry.target_id).where(
        AuditEntry.action == "purchase.refunded"
    )
    assert entries == [{"staff_id": uuid.UUID(manager.staff_id), "target_id": sale["purchase_id"]}]

    view = await client.get(f"/v1/admin/purchases/{sale['purchase_id']}", headers=admin.headers)
    receipt = view.json()
    assert receipt["refunded_amount"] == 15000
    assert [x["refunded_quantity"] for x in receipt["lines"]] == [1, 0, 0]
    assert [(r["amount"], r["points_reversed"]) for r in receipt["refunds"]] == [(15000, 11)]
    assert receipt["refunds"][0]["lines"][0]["sku"] == "CRO-1"
    hidden = await client.get(
        f"/v1/admin/purchases/{sale['purchase_id']}", headers=stranger.headers
    )
    assert_problem(hidden, 403, "forbidden")
    await figures_folded()
    assert await find_mismatches() == []


async def test_lines_after_an_amount_take_back_only_what_is_left_of_the_points(
    client: httpx.AsyncClient, till: Till, purchase_id: str
) -> None:
    half = (await refund(client, till, purchase_id, {"amount": 50000})).json()
    assert half["points_reversed"] == 16  # 32 x 500/1000
    croissants = (await refund(client, till, purchase_id, by_lines(("CRO-1", 2)))).json()
    assert croissants["points_reversed"] == 16  # they earned 22: only 16 are left
    assert [x["points_reversed"] for x in croissants["lines"]] == [16]
    latte = (await refund(client, till, purchase_id, by_lines(("LAT-M", 1)))).json()
    assert (latte["points_reversed"], latte["fully_refunded"]) == (0, True)
    assert await find_mismatches() == []
