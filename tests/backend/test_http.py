"""``backend.http``: a write request's body must say it is JSON (415 otherwise)."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest

from backend.http import is_json_media_type
from backend.orders.webhook_signature import sign
from backend.settings import DEV_WEBHOOK_SECRET
from db.tables import IdempotencyRecord, PaymentEvent, Purchase
from tests.factories import LoggedInMember, Till, purchase_body


@pytest.mark.parametrize(
    ("content_type", "json_"),
    [
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        ("Application/JSON ; charset=UTF-8", True),
        ("application/merge-patch+json", True),
        ("application/vnd.astrocoffee.v1+json", True),
        (None, False),
        ("", False),
        ("text/plain", False),
        ("text/plain;charset=UTF-8", False),
        ("text/json", False),
        ("application/x-www-form-urlencoded", False),
        ("multipart/form-data; boundary=x", False),
        ("application/jsonp", False),
        ("application/octet-stream", False),
    ],
)
def test_json_media_types(content_type: str | None, json_: bool) -> None:
    assert is_json_media_type(content_type) is json_


def _sale(member: LoggedInMember) -> bytes:
    return json.dumps(purchase_body(member.card_number)).encode()


@pytest.mark.parametrize(
    "sent",
    [
        {"content_type": "text/plain;charset=UTF-8"},  # fetch() with a string body
        {"content_type": "application/x-www-form-urlencoded"},
        {"content_type": None},  # a body and no Content-Type at all
        {"multipart": True},
    ],
    ids=["text/plain", "form", "no content type", "multipart"],
)
async def test_a_body_that_is_not_json_is_refused_with_415_and_writes_nothing(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember, sent: dict[str, object]
) -> None:
    key = uuid.uuid4().hex
    headers = {**till.headers, "Idempotency-Key": key}
    if sent.get("multipart"):
        refused = await client.post(
            "/v1/purchases", headers=headers, files={"sale": ("sale.json", _sale(member))}
        )
    else:
        if sent["content_type"] is not None:
            headers["Content-Type"] = str(sent["content_type"])
        refused = await client.post("/v1/purchases", headers=headers, content=_sale(member))
    assert refused.status_code == 415, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert problem["code"] == "unsupported_media_type"
    assert problem["status"] == 415
    assert "application/json" in problem["detail"]
    assert await Purchase.count() == 0
    assert await IdempotencyRecord.count() == 0
    # Nothing was kept under the key either: the same key with a JSON body is a new sale.
    sold = await client.post(
        "/v1/purchases",
        headers={**headers, "Content-Type": "application/json; charset=utf-8"},
        content=_sale(member),
    )
    assert sold.status_code == 201, sold.text
    assert "Idempotent-Replayed" not in sold.headers


async def test_json_with_a_charset_or_a_json_suffix_type_is_accepted(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember
) -> None:
    for content_type in ("application/json; charset=utf-8", "application/vnd.pos+json"):
        sold = await client.post(
            "/v1/purchases",
            headers={
                **till.headers,
                "Idempotency-Key": uuid.uuid4().hex,
                "Content-Type": content_type,
            },
            content=_sale(member),
        )
        assert sold.status_code == 201, (content_type, sold.text)
    assert await Purchase.count() == 2


async def test_a_post_without_a_body_needs_no_content_type(
    client: httpx.AsyncClient, member: LoggedInMember
) -> None:
    refused = await client.post(
        "/v1/auth/logout", headers={**member.headers, "Content-Type": "text/plain"}, content=b"{}"
    )
    assert refused.status_code == 415, refused.text
    # What clients commonly send to a route that takes no body: no body, no Content-Type.
    logged_out = await client.post("/v1/auth/logout", headers=member.headers)
    assert logged_out.status_code == 204, logged_out.text
    assert "content-type" not in logged_out.request.headers


async def test_the_signed_webhook_is_judged_by_its_signature_not_its_content_type(
    client: httpx.AsyncClient,
) -> None:
    # A provider that labels its JSON oddly is still heard: refusing a signed event over a
    # header would only make it retry the event for days.
    body = json.dumps({"id": "evt_t", "type": "payment.succeeded", "data": {}}).encode()
    now = int(time.time())
    received = await client.post(
        "/v1/webhooks/payments",
        content=body,
        headers={
            "X-Signature": f"t={now},v1={sign(DEV_WEBHOOK_SECRET, now, body)}",
            "Content-Type": "text/plain",
        },
    )
    assert received.status_code == 200, received.text
    assert await PaymentEvent.count() == 1
