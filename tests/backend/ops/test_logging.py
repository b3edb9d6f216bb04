"""One JSON line per request, with the request id and the caller's ids, never secrets."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from backend.ops.logging import JsonFormatter
from tests.conftest import LiveServer
from tests.factories import buy, log_in, open_till, purchase_body


def _access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    formatter = JsonFormatter()
    return [
        json.loads(formatter.format(record))
        for record in caplog.records
        if record.name == "astrocoffee.access"
    ]


async def test_requests_are_logged_with_their_caller_and_without_secrets(
    client: httpx.AsyncClient, live_server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    till = await open_till()
    member = await log_in(client, live_server.sms)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="astrocoffee.access"):
        sale = await buy(client, till, purchase_body(member.card_number))
        me = await client.get("/v1/me", headers=member.headers)
        refused = await client.get("/v1/me", headers={"Authorization": "Bearer nonsense"})
    assert (sale.status_code, me.status_code, refused.status_code) == (201, 200, 401)

    purchase, profile, anonymous = _access_lines(caplog)
    assert purchase["message"] == "POST /v1/purchases 201"
    assert purchase["terminal_id"] == str(till.terminal_id)
    assert purchase["request_id"] == sale.headers["x-request-id"]
    assert isinstance(purchase["duration_ms"], float)
    assert profile["member_id"] == member.member_id
    assert profile["status"] == 200
    assert "member_id" not in anonymous and anonymous["status"] == 401
    logged = "\n".join(json.dumps(line) for line in (purchase, profile, anonymous))
    for secret in (till.key, member.access_token, "nonsense"):
        assert secret not in logged
