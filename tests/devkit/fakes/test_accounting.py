"""The fake sales-accounting system keeps its protocol and each of its switches."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devkit.fakes.accounting import AccountingSystem
from devkit.processes import AppProcess
from tests.devkit.fakes.served import client_of


@pytest.fixture
def fake() -> AccountingSystem:
    return AccountingSystem()


@pytest.fixture
async def http(fake: AccountingSystem) -> AsyncIterator[httpx.AsyncClient]:
    """A client of ``fake``, served, with its token."""
    async with client_of(fake) as client:
        yield client


def document(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "type": "sale",
        "business_date": "2026-03-14",
        "reference": str(uuid.uuid4()),
        "store_id": str(uuid.uuid4()),
        "currency": "RUB",
        "gross_amount": 45000,
        "loyalty_discount": 5000,
        "net_amount": 40000,
        "points_issued": 400,
        "points_redeemed": 50,
        "points_liability_delta": 350,
        "occurred_at": "2026-03-14T09:30:00+00:00",
    }
    return body | fields


async def book(http: httpx.AsyncClient, body: Any, key: str | None = None) -> httpx.Response:
    key = key or str(body["id"])
    return await http.post("/v1/documents", json=body, headers={"Idempotency-Key": key})


async def test_a_new_document_is_booked(fake: AccountingSystem, http: httpx.AsyncClient) -> None:
    body = document()
    response = await book(http, body)
    assert response.status_code == 201
    answer = response.json()
    assert answer["duplicate"] is False
    assert uuid.UUID(answer["document_id"])
    assert fake.booked == [(body["id"], body)]
    assert fake.posts == 1


async def test_the_same_document_again_is_booked_once(
    fake: AccountingSystem, http: httpx.AsyncClient
) -> None:
    body = document()
    first = (await book(http, body)).json()
    again = await book(http, dict(reversed(body.items())))  # the same object, keys reordered
    assert again.status_code == 200
    assert again.json() == {"document_id": first["document_id"], "duplicate": True}
    assert len(fake.booked) == 1
    assert fake.posts == 2
    assert fake.post_keys == [body["id"], body["id"]]


async def test_a_key_reused_for_another_document_is_a_conflict(
    fake: AccountingSystem, http: httpx.AsyncClient
) -> None:
    body = document()
    await book(http, body)
    response = await book(http, body | {"net_amount": 1})
    assert response.status_code == 409
    assert response.json() == {"error": "idempotency key reused with another document"}
    assert fake.booked == [(body["id"], body)]


async def test_the_bearer_token_is_required(
    fake: AccountingSystem, http: httpx.AsyncClient
) -> None:
    body = document()
    for headers in ({"Authorization": "Bearer wrong"}, {"Authorization": ""}):
        response = await http.post(
            "/v1/documents", json=body, headers=headers | {"Idempotency-Key": "k"}
        )
        assert response.status_code == 401
    listing = await http.get(
        "/v1/documents",
        params={"business_date": "2026-03-14"},
        headers={"Authorization": "Bearer wrong"},
    )
    assert listing.status_code == 401
    assert fake.booked == []


async def test_the_idempotency_key_and_a_json_object_are_required(
    fake: AccountingSystem, http: httpx.AsyncClient
) -> None:
    assert (await http.post("/v1/documents", json=document())).status_code == 400
    assert (await book(http, [1, 2], key="k1")).status_code == 400
    not_json = await http.post("/v1/documents", content=b"{", headers={"Idempotency-Key": "k2"})
    assert not_json.status_code == 400
    assert fake.booked == []


async def test_documents_are_listed_by_business_date_in_booking_order(
    http: httpx.AsyncClient,
) -> None:
    first, other_day, second = (
        document(),
        document(business_date="2026-03-15"),
        document(type="refund"),
    )
    ids = {}
    for body in (first, other_day, second):
        ids[body["id"]] = (await book(http, body)).json()["document_id"]
    response = await http.get("/v1/documents", params={"business_date": "2026-03-14"})
    assert response.status_code == 200
    assert response.json() == {
        "documents": [
            {"document_id": ids[body["id"]], "idempotency_key": body["id"], "body": body}
            for body in (first, second)
        ]
    }
    empty = await http.get("/v1/documents", params={"business_date": "2026-01-01"})
    assert empty.json() == {"documents": []}
    for params in ({}, {"business_date": "14.03.2026"}):
        assert (await http.get("/v1/documents", params=params)).status_code == 400


async def test_fail_next_refuses_without_booking(
    fake: AccountingSystem, http: httpx.AsyncClient
) -> None:
    fake.fail_next = 2
    body = document()
    assert [(await book(http, body)).status_code for _ in range(3)] == [503, 503, 201]
    assert fake.posts == 3
    assert fake.fail_next == 0
    assert len(fake.booked) == 1


async def test_down_refuses_every_request(fake: AccountingSystem, http: httpx.AsyncClient) -> None:
    fake.down = True
    assert (await book(http, document())).status_code == 503
    listing = await http.get("/v1/documents", params={"business_date": "2026-03-14"})
    assert listing.status_code == 503
    assert fake.booked == []
    assert fake.posts == 1
    fake.down = False
    assert (await book(http, document())).status_code == 201


async def test_delay_answers_late(fake: AccountingSystem, http: httpx.AsyncClient) -> None:
    fake.delay_s = 0.3
    started = time.monotonic()
    assert (await book(http, document())).status_code == 201
    assert time.monotonic() - started >= 0.3


async def test_hang_makes_the_client_time_out_and_books_nothing(
    fake: AccountingSystem, http: httpx.AsyncClient
) -> None:
    fake.hang = True
    body = document()
    with pytest.raises(httpx.ReadTimeout):
        await book_with_timeout(http, body, 0.3)
    assert fake.posts == 1
    # The fake notices the client left when the server tells it (later on a busy machine):
    # turning hang off before that would let the held request go on and book.
    for _ in range(200):
        if fake.held == 0:
            break
        await asyncio.sleep(0.01)
    assert fake.held == 0
    assert fake.booked == []
    fake.hang = False
    assert (await book(http, body)).status_code == 201


async def test_a_request_held_by_hang_is_answered_once_hang_is_off(
    fake: AccountingSystem, http: httpx.AsyncClient
) -> None:
    fake.hang = True
    pending = asyncio.create_task(book(http, document()))
    await asyncio.sleep(0.3)
    assert not pending.done()
    fake.hang = False
    assert (await pending).status_code == 201


async def book_with_timeout(
    http: httpx.AsyncClient, body: dict[str, Any], timeout_s: float
) -> httpx.Response:
    return await http.post(
        "/v1/documents",
        json=body,
        headers={"Idempotency-Key": body["id"]},
        timeout=timeout_s,
    )


async def test_book_then_fail_books_and_the_retry_gets_the_same_document(
    fake: AccountingSystem, http: httpx.AsyncClient
) -> None:
    fake.book_then_fail_next = 1
    body = document()
    lost = await book(http, body)
    assert lost.status_code == 500
    assert fake.booked == [(body["id"], body)]
    retry = await book(http, body)
    assert retry.status_code == 200
    assert retry.json() == {
        "document_id": fake.documents[body["id"]].document_id,
        "duplicate": True,
    }
    assert len(fake.booked) == 1


async def test_a_dropped_document_is_gone_and_can_be_booked_again(
    fake: AccountingSystem, http: httpx.AsyncClient
) -> None:
    body = document()
    first = (await book(http, body)).json()["document_id"]
    fake.drop_booked(body["id"])
    listing = await http.get("/v1/documents", params={"business_date": "2026-03-14"})
    assert listing.json() == {"documents": []}
    again = await book(http, body)
    assert again.status_code == 201
    assert again.json()["document_id"] != first
    with pytest.raises(KeyError):
        fake.drop_booked("unknown")


async def test_an_altered_document_differs_in_the_books_but_retries_still_match(
    fake: AccountingSystem, http: httpx.AsyncClient
) -> None:
    body = document()
    await book(http, body)
    fake.alter_booked(body["id"], net_amount=39999, points_issued=0)
    listing = (await http.get("/v1/documents", params={"business_date": "2026-03-14"})).json()
    booked = listing["documents"][0]["body"]
    assert booked == body | {"net_amount": 39999, "points_issued": 0}
    assert (await book(http, body)).json()["duplicate"] is True


async def test_switches_are_set_over_http_all_or_none(
    fake: AccountingSystem, http: httpx.AsyncClient
) -> None:
    response = await http.post("/_control", json={"fail_next": 1, "delay_s": 0, "down": False})
    assert response.status_code == 200
    assert response.json()["switches"]["fail_next"] == 1
    assert fake.fail_next == 1
    assert fake.delay_s == 0.0
    for bad in (
        {"fail_next": 2, "nope": 1},  # not a switch
        {"fail_next": 2, "down": "yes"},  # not a bool
        {"fail_next": True},  # a bool is not a count
        {"fail_next": -1},
        {"delay_s": "1"},
    ):
        refused = await http.post("/_control", json=bad)
        assert refused.status_code == 400, bad
        assert "error" in refused.json()
    assert fake.fail_next == 1
    assert fake.down is False


async def test_state_drop_and_alter_over_http(http: httpx.AsyncClient) -> None:
    body = document()
    document_id = (await book(http, body)).json()["document_id"]
    state = (await http.get("/_state")).json()
    assert state["posts"] == 1
    assert state["booked"] == [
        {"document_id": document_id, "idempotency_key": body["id"], "body": body}
    ]
    assert state["switches"]["hang"] is False
    altered = await http.post(
        "/_alter", json={"idempotency_key": body["id"], "fields": {"currency": "EUR"}}
    )
    assert altered.json()["booked"][0]["body"]["currency"] == "EUR"
    dropped = await http.post("/_drop", json={"idempotency_key": body["id"]})
    assert dropped.json()["booked"] == []
    assert (await http.post("/_drop", json={"idempotency_key": body["id"]})).status_code == 404


async def test_it_runs_as_a_process(tmp_path: Path) -> None:
    log = tmp_path / "accounting.log"
    async with AppProcess.module("devkit.fakes.accounting", "--token", "t0k", log=log) as fake:
        await fake.ready("/_state", any_answer=True)  # as `make run` runs it
        async with httpx.AsyncClient(
            base_url=fake.base_url, headers={"Authorization": "Bearer t0k"}
        ) as http:
            await http.post("/_control", json={"book_then_fail_next": 1})
            body = document()
            assert (await book(http, body)).status_code == 500
            assert (await book(http, body)).json()["duplicate"] is True
            state = (await http.get("/_state")).json()
            assert state["posts"] == 2
            assert [d["body"] for d in state["booked"]] == [body]
    logged = await asyncio.to_thread(log.read_text)
    assert "booked sale" in logged
    assert '"POST /v1/documents HTTP/1.1" 500' in logged  # uvicorn's access log, on stderr
