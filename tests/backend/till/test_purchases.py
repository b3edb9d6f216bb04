from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from backend.loyalty.verify import find_mismatches
from db.tables import Account, IdempotencyRecord, LedgerEntry, MemberEvent, Purchase
from tests.factories import (
    LoggedInMember,
    Till,
    assert_problem,
    buy,
    open_till,
    purchase_body,
    sell,
)


async def available(member: LoggedInMember) -> int:
    row = (
        await Account.select(Account.available)
        .where(Account.member == uuid.UUID(member.member_id))
        .first()
    )
    assert row is not None
    return int(row["available"])


async def keys_kept() -> int:
    """Idempotency keys whose answers are kept: on their purchases, or as records."""
    carried = await Purchase.count().where(Purchase.idempotency_key.is_not_null())
    return carried + await IdempotencyRecord.count()


async def give_points(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember, n: int
) -> None:
    # 5 % of the paid amount at Green: 100 rubles (10000 minor units) earn 5 points.
    response = await sell(client, till, member, n * 2000)
    assert response.json()["points_earned"] == n


async def test_a_sale_earns_five_percent_rounded_down(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember
) -> None:
    response = await sell(client, till, member, 35099)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["points_earned"] == 17  # 5 % of 350.99 = 17.5 -> 17
    assert body["paid_amount"] == 35099
    assert body["balance"] == {"available": 17, "pending": 0, "held": 0}
    assert body["member_id"] == member.member_id
    assert "idempotent-replayed" not in response.headers

    purchase = await Purchase.objects().where(Purchase.id == uuid.UUID(body["purchase_id"])).first()
    assert purchase is not None
    assert purchase.points_earned == 17
    entries = await LedgerEntry.select(
        LedgerEntry.kind, LedgerEntry.available_delta, LedgerEntry.cause_id
    )
    assert entries == [{"kind": "earn", "available_delta": 17, "cause_id": purchase.id}]
    events = await MemberEvent.select(MemberEvent.seq, MemberEvent.type).order_by(MemberEvent.seq)
    assert [(e["seq"], e["type"]) for e in events] == [
        (1, "transaction.created"),
        (2, "balance.updated"),
    ]
    assert await find_mismatches() == []

    me = (await client.get("/v1/me", headers=member.headers)).json()
    assert me["balance"]["available"] == 17
    assert me["last_event_seq"] == 2


async def test_same_key_and_body_replays_the_stored_response(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember
) -> None:
    body = purchase_body(member.card_number)
    first = await buy(client, till, body, key="key-1")
    again = await buy(client, till, body, key="key-1")
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert await Purchase.count() == 1
    assert await available(member) == 17


async def test_same_key_with_another_body_is_refused(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember
) -> None:
    await buy(client, till, purchase_body(member.card_number, external_id="r-1"), key="key-1")
    other = await buy(
        client, till, purchase_body(member.card_number, external_id="r-2"), key="key-1"
    )
    assert_problem(other, 422, "idempotency_key_reused")
    assert await Purchase.count() == 1


async def test_keys_are_scoped_to_the_caller(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember
) -> None:
    other_till = await open_till()
    first = await buy(client, till, purchase_body(member.card_number), key="shared-key")
    second = await buy(client, other_till, purchase_body(member.card_number), key="shared-key")
    assert (first.status_code, second.status_code) == (201, 201)
    assert "idempotent-replayed" not in second.headers
    assert await Purchase.count() == 2


async def test_a_till_retrying_with_a_new_key_does_not_earn_twice(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember
) -> None:
    body = purchase_body(member.card_number, external_id="receipt-42")
    first = await buy(client, till, body, key="first-key")
    retry = await buy(client, till, body, key="second-key")
    assert retry.status_code == 201
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.json()["purchase_id"] == first.json()["purchase_id"]
    assert await available(member) == 17
    # Both keys now replay the same answer.
    assert await keys_kept() == 2


async def test_external_id_of_another_purchase_is_a_conflict(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember
) -> None:
    await sell(client, till, member, external_id="receipt-7")
    clash = await buy(
        client, till, purchase_body(member.card_number, external_id="receipt-7", amount=100)
    )
    assert_problem(clash, 409, "external_id_reused")
    assert await available(member) == 17


async def test_concurrent_requests_with_one_key_have_one_effect(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember
) -> None:
    body = purchase_body(member.card_number)
    responses = await asyncio.gather(*(buy(client, till, body, key="same") for _ in range(8)))
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}
    assert statuses.count(201) >= 1
    assert await Purchase.count() == 1
    assert await available(member) == 17
    conflict = next((r for r in responses if r.status_code == 409), None)
    if conflict is not None:
        assert conflict.json()["code"] == "idempotent_request_in_progress"


async def test_concurrent_sales_to_one_member_all_count(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember
) -> None:
    responses = await asyncio.gather(*(sell(client, till, member, 10000) for _ in range(10)))
    assert [r.status_code for r in responses] == [201] * 10
    assert await available(member) == 50
    seqs = [e["seq"] for e in await MemberEvent.select(MemberEvent.seq).order_by(MemberEvent.seq)]
    assert seqs == list(range(1, 21))
    assert await find_mismatches() == []


async def test_redeeming_points_discounts_the_check_and_earns_on_what_was_paid(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember
) -> None:
    await give_points(client, till, member, 100)
    response = await sell(client, till, member, 35000, redeem_points=50)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["points_redeemed"] == 50
    assert body["paid_amount"] == 30000
    assert body["points_earned"] == 15
    assert body["balance"]["available"] == 100 - 50 + 15
    kinds = await LedgerEntry.select(LedgerEntry.kind, LedgerEntry.available_delta).where(
        LedgerEntry.cause_id == uuid.UUID(body["purchase_id"])
    )
    assert sorted((k["kind"], k["available_delta"]) for k in kinds) == [
        ("earn", 15),
        ("redeem", -50),
    ]
    assert await find_mismatches() == []


async def test_redeeming_more_than_available_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember
) -> None:
    await give_points(client, till, member, 10)
    response = await sell(client, till, member, redeem_points=11)
    assert_problem(response, 422, "insufficient_points")
    assert await Purchase.count() == 1
    assert await available(member) == 10


async def test_points_pay_for_at_most_half_the_check(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember
) -> None:
    await give_points(client, till, member, 200)
    response = await sell(client, till, member, 10000, redeem_points=51)
    assert response.status_code == 422
    assert response.json()["extra"]["max_redeemable_points"] == 50


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"amount": 0}, 400, "validation_failed"),
        ({"amount": -5}, 400, "validation_failed"),
        ({"amount": 10**13}, 400, "validation_failed"),
        ({"amount": "350"}, 400, "validation_failed"),
        ({"currency": "rub"}, 400, "validation_failed"),
        ({"currency": "USD"}, 422, "currency_mismatch"),
        ({"redeem_points": -1}, 400, "validation_failed"),
        ({"external_id": ""}, 400, "validation_failed"),
        ({"external_id": "bad\u0000id"}, 400, "validation_failed"),
        ({"unexpected": 1}, 400, "validation_failed"),
        ({"customer": {}}, 400, "validation_failed"),
        (
            {"customer": {"card_number": "7700000000000000", "qr_token": "x"}},
            400,
            "validation_failed",
        ),
        ({"customer": {"card_number": "7700000000000001"}}, 400, "validation_failed"),
        ({"customer": {"card_number": "7700000000000008"}}, 404, "member_not_found"),
        (
            {
                "items": [
                    {
                        "sku": "A",
                        "name": "Latte",
                        "category": "coffee",
                        "quantity": 1,
                        "unit_price": 100,
                    }
                ]
            },
            400,
            "validation_failed",
        ),
    ],
)
async def test_bad_input_is_a_clear_4xx_and_writes_nothing(
    client: httpx.AsyncClient,
    till: Till,
    member: LoggedInMember,
    change: dict[str, object],
    status: int,
    code: str,
) -> None:
    body = {**purchase_body(member.card_number), **change}
    response = await buy(client, till, body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code
    assert await Purchase.count() == 0
    assert await LedgerEntry.count() == 0
    assert await IdempotencyRecord.count() == 0


async def test_items_that_add_up_are_accepted(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember
) -> None:
    items = [
        {
            "sku": "LAT-M",
            "name": "Latte M",
            "category": "coffee",
            "quantity": 2,
            "unit_price": 25000,
        },
        {
            "sku": "CRS",
            "name": "Croissant",
            "category": "bakery",
            "quantity": 1,
            "unit_price": 15000,
        },
    ]
    response = await sell(client, till, member, 65000, items=items)
    assert response.status_code == 201, response.text
    assert response.json()["points_earned"] == 32


async def test_malformed_json_and_missing_key_are_refused(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember
) -> None:
    broken = await client.post(
        "/v1/purchases",
        content=b'{"customer": ',
        headers={**till.headers, "Idempotency-Key": "k", "Content-Type": "application/json"},
    )
    assert broken.status_code == 400
    no_key = await client.post(
        "/v1/purchases", json=purchase_body(member.card_number), headers=till.headers
    )
    assert no_key.status_code == 400
    assert "Idempotency-Key" in no_key.json()["detail"]
    huge = await client.post(
        "/v1/purchases",
        content=b"{" + b" " * 200_000 + b"}",
        headers={**till.headers, "Idempotency-Key": "k2", "Content-Type": "application/json"},
    )
    assert huge.status_code == 413
    assert await Purchase.count() == 0


async def test_only_terminals_may_record_purchases(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember
) -> None:
    body = purchase_body(member.card_number)
    as_member = await client.post(
        "/v1/purchases", json=body, headers={**member.headers, "Idempotency-Key": "k"}
    )
    assert_problem(as_member, 403, "forbidden")
    bad_key = await client.post(
        "/v1/purchases", json=body, headers={"X-Api-Key": "ack_nope", "Idempotency-Key": "k"}
    )
    assert bad_key.status_code == 401
    assert await Purchase.count() == 0


async def test_a_revoked_terminal_is_refused(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember
) -> None:
    from datetime import UTC, datetime

    from db.tables import Terminal

    await Terminal.update({Terminal.revoked_at: datetime.now(UTC)}).where(
        Terminal.store == till.store_id
    )
    response = await sell(client, till, member)
    assert response.status_code == 401
