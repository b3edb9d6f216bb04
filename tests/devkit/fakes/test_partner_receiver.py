"""The fake partner receiver: it keeps what is signed with its secret (or the old one during a
rotation), once per webhook-id, and refuses or fails as its switches say."""

from __future__ import annotations

import time

import httpx

from backend.partners.signing import headers, new_secret
from devkit.fakes.partner_receiver import PartnerReceiver
from tests.devkit.fakes.served import client_of

BODY = b'{"type":"sale.completed","timestamp":"2026-12-07T10:00:00+00:00","data":{}}'


async def _post(
    http: httpx.AsyncClient, secret: str, webhook_id: str = "msg_1", *, at: float | None = None
) -> httpx.Response:
    signed = headers([secret], webhook_id, int(at or time.time()), BODY)
    return await http.post("/hooks", content=BODY, headers=signed)


async def test_it_keeps_what_is_signed_once_per_webhook_id() -> None:
    receiver = PartnerReceiver(secret=new_secret())
    async with client_of(receiver) as http:
        assert (await _post(http, receiver.secret)).status_code == 200
        assert (await _post(http, receiver.secret)).status_code == 200  # a retry
        assert (await _post(http, new_secret(), "msg_2")).status_code == 401
        stale = await _post(http, receiver.secret, "msg_3", at=time.time() - 600)
        assert stale.status_code == 401
        receiver.old_secret, receiver.secret = receiver.secret, new_secret()
        assert (await _post(http, receiver.old_secret, "msg_4")).status_code == 200
    assert list(receiver.received) == ["msg_1", "msg_4"]
    assert receiver.attempts == ["msg_1", "msg_1", "msg_2", "msg_3", "msg_4"]
    assert receiver.refused_signatures == 2


async def test_its_switches_refuse_as_partners_do() -> None:
    receiver = PartnerReceiver(secret=new_secret())
    async with client_of(receiver) as http:
        switched = await http.post(
            "/_control", json={"throttle_next": 1, "retry_after_s": 30, "fail_ids": ["msg_9"]}
        )
        assert switched.status_code == 200, switched.text
        throttled = await _post(http, receiver.secret)
        assert throttled.status_code == 429 and throttled.headers["retry-after"] == "30"
        assert (await _post(http, receiver.secret, "msg_9")).status_code == 500
        receiver.fail_next = 1
        assert (await _post(http, receiver.secret)).status_code == 503
        receiver.gone = True
        assert (await _post(http, receiver.secret)).status_code == 410
        receiver.gone = False
        assert (await _post(http, receiver.secret)).status_code == 200
        state = (await http.get("/_state")).json()
    assert [d["webhook_id"] for d in state["received"]] == ["msg_1"]
    assert "secret" not in state["switches"]
