"""A store's maximum for one sale: an absurd amount is refused (422) before anything is
written, at the till, on a checkout and in the app."""

from __future__ import annotations

import uuid

import httpx

from backend.settings import Settings
from db.tables import Checkout, IdempotencyRecord, LedgerEntry, Order, Purchase
from tests.conftest import Shop
from tests.factories import (
    LoggedInMember,
    SignedInStaff,
    Till,
    add_terminal,
    assert_problem,
    log_in,
    open_store,
    open_till,
    post_as,
    purchase_body,
    sell,
)

PROGRAM_CAP = Settings().max_sale_amount


async def nothing_written() -> None:
    for table in (Purchase, LedgerEntry, Checkout, Order, IdempotencyRecord):
        assert await table.count() == 0, table._meta.tablename


async def test_the_program_maximum_refuses_an_absurd_sale_and_writes_nothing(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember
) -> None:
    absurd = await sell(client, till, member, amount=10**12)
    assert_problem(absurd, 422, "sale_amount_too_large")
    assert absurd.json()["extra"]["max_sale_amount"] == PROGRAM_CAP
    just_over = await sell(client, till, member, amount=PROGRAM_CAP + 1)
    assert_problem(just_over, 422, "sale_amount_too_large")
    await nothing_written()

    at_the_cap = await sell(client, till, member, amount=PROGRAM_CAP)
    assert at_the_cap.status_code == 201, at_the_cap.text


async def test_an_admin_sets_a_stores_own_maximum_that_checkouts_obey(
    client: httpx.AsyncClient, admin: SignedInStaff, member: LoggedInMember
) -> None:
    opened = await open_store(
        client,
        admin,
        code="KIOSK-1",
        name="Kiosk",
        time_zone="Europe/Moscow",
        max_sale_amount=50_000,
    )
    assert opened.status_code == 201, opened.text
    assert opened.json()["max_sale_amount"] == 50_000
    store_id = uuid.UUID(opened.json()["id"])
    terminal = await add_terminal(client, admin, store_id, "till")
    till = Till(store_id=store_id, key=terminal.json()["api_key"])

    body = purchase_body(member.card_number, amount=50_001)
    assert_problem(await post_as(client, till, "/v1/checkouts", body), 422, "sale_amount_too_large")
    assert_problem(await post_as(client, till, "/v1/purchases", body), 422, "sale_amount_too_large")
    await nothing_written()
    fits = purchase_body(member.card_number, amount=50_000)
    assert (await post_as(client, till, "/v1/checkouts", fits)).status_code == 201

    raised = await client.patch(
        f"/v1/admin/stores/{store_id}", headers=admin.headers, json={"max_sale_amount": 60_000}
    )
    assert raised.json()["max_sale_amount"] == 60_000
    assert (await post_as(client, till, "/v1/purchases", body)).status_code == 201

    renamed = await client.patch(
        f"/v1/admin/stores/{store_id}", headers=admin.headers, json={"name": "Kiosk 2"}
    )
    assert renamed.json()["max_sale_amount"] == 60_000  # absent: unchanged
    back = await client.patch(
        f"/v1/admin/stores/{store_id}", headers=admin.headers, json={"max_sale_amount": None}
    )
    assert back.json()["max_sale_amount"] is None  # the program's again
    for bad in (0, -1, "100"):
        refused = await client.patch(
            f"/v1/admin/stores/{store_id}", headers=admin.headers, json={"max_sale_amount": bad}
        )
        assert refused.status_code == 400, bad


async def test_an_app_order_above_the_maximum_is_refused(shop: Shop) -> None:
    till = await open_till()
    member = await log_in(shop.client, shop.sms)
    refused = await shop.client.post(
        "/v1/orders",
        json={"store_id": str(till.store_id), "amount": 10**12, "currency": "RUB"},
        headers={**member.headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert_problem(refused, 422, "sale_amount_too_large")
    await nothing_written()
