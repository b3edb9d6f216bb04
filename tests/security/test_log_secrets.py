"""No secret reaches the logs: a full flow against a real ``astrocoffee serve`` process, at
INFO and at DEBUG, with its stdout and stderr captured and searched afterwards.

The flow touches every credential the service handles: a one-time code (sent through an
SMS gateway, as in production) and the login it buys, a refresh, WebSockets authenticated
by ``?token=``, by their first frame and by a header, the QR token of the card, a staff login, a
terminal minted (its API key shown once) and used for a purchase, a signed payment webhook,
and failed attempts with wrong codes, passwords and tokens (error paths are where a value
tends to get logged). Each secret must appear in no log line, whole or by its last 16
characters (what a log that elides the middle of a long value would still show).
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from backend.orders.webhook_signature import sign
from devkit.fakes.sms_gateway import SmsGateway
from devkit.processes import AppProcess
from tests.cli import run_env
from tests.conftest import serving
from tests.factories import unique_phone
from tests.servers import RunServers

pytestmark = pytest.mark.e2e


@asynccontextmanager
async def serve_logged(servers: RunServers, log: Path, **env: str) -> AsyncIterator[str]:
    """One ``astrocoffee serve`` writing stdout and stderr to ``log``; yields its base URL."""
    with AppProcess.serve(run_env(servers, **env), log=log) as app:
        await app.ready()
        yield app.base_url


async def recv(ws: Any) -> dict[str, Any]:
    return dict(json.loads(await asyncio.wait_for(ws.recv(), 5)))


async def run_flow(base: str, gateway: SmsGateway, webhook_secret: str) -> dict[str, str]:
    """Every credential the service handles, used once; returns them by name."""
    from backend.staff.schemas import StaffCreate
    from backend.staff.service import create_staff

    found: dict[str, str] = {}
    ws_base = base.replace("http://", "ws://") + "/v1/ws"
    async with httpx.AsyncClient(base_url=base, timeout=10) as api:
        phone = unique_phone()
        assert (await api.post("/v1/auth/otp", json={"phone": phone})).status_code == 202
        text = gateway.received[-1]["body"]["text"]
        found["one-time code"] = re.search(r"\b(\d{6})\b", text).group(1)  # type: ignore[union-attr]
        wrong = f"{(int(found['one-time code']) + 1) % 10**6:06d}"
        found["a wrong one-time code"] = wrong
        bad = await api.post("/v1/auth/token", json={"phone": phone, "code": wrong})
        assert bad.status_code == 401
        login = await api.post(
            "/v1/auth/token", json={"phone": phone, "code": found["one-time code"]}
        )
        assert login.status_code == 200, login.text
        found["access token"] = login.json()["access_token"]
        found["refresh token"] = login.json()["refresh_token"]
        refreshed = await api.post(
            "/v1/auth/refresh", json={"refresh_token": found["refresh token"]}
        )
        assert refreshed.status_code == 200, refreshed.text
        found["refreshed access token"] = access = refreshed.json()["access_token"]
        found["refreshed refresh token"] = refreshed.json()["refresh_token"]
        member = {"Authorization": f"Bearer {access}"}

        async with websockets.connect(f"{ws_base}?token={access}") as ws:
            assert (await recv(ws))["type"] == "ready"
            await ws.send('{"type": "ping"}')
            assert await recv(ws) == {"type": "pong"}
        async with websockets.connect(ws_base) as ws:
            await ws.send(json.dumps({"type": "auth", "token": access}))
            assert (await recv(ws))["type"] == "ready"
        async with websockets.connect(ws_base, additional_headers=member) as ws:
            assert (await recv(ws))["type"] == "ready"
        found["a forged token"] = forged = "eyJ" + secrets.token_urlsafe(40)
        async with websockets.connect(f"{ws_base}?token={forged}") as ws:
            with pytest.raises(ConnectionClosed):
                await recv(ws)

        qr = await api.get("/v1/me/qr", headers=member)
        found["QR token"] = qr.json()["qr_token"]

        password = secrets.token_urlsafe(18)
        found["staff password"] = password
        email = f"admin-{secrets.token_hex(4)}@astrocoffee.test"
        await create_staff(StaffCreate(email=email, name="Admin", password=password, role="admin"))
        found["a wrong password"] = secrets.token_urlsafe(18)
        refused = await api.post(
            "/v1/staff/token", json={"email": email, "password": found["a wrong password"]}
        )
        assert refused.status_code == 401
        staff = await api.post("/v1/staff/token", json={"email": email, "password": password})
        assert staff.status_code == 200, staff.text
        found["staff access token"] = staff.json()["access_token"]
        found["staff refresh token"] = staff.json()["refresh_token"]
        admin = {"Authorization": f"Bearer {found['staff access token']}"}
        store = await api.post(
            "/v1/admin/stores",
            json={
                "code": f"LOG-{secrets.token_hex(3).upper()}",
                "name": "Logs",
                "time_zone": "Europe/Moscow",
            },
            headers=admin,
        )
        assert store.status_code == 201, store.text
        minted = await api.post(
            f"/v1/admin/stores/{store.json()['id']}/terminals",
            json={"name": "till"},
            headers=admin,
        )
        assert minted.status_code == 201, minted.text
        found["terminal API key"] = key = minted.json()["api_key"]
        sale = await api.post(
            "/v1/purchases",
            json={
                "customer": {"qr_token": found["QR token"]},
                "external_id": "receipt-logs-1",
                "amount": 35000,
            },
            headers={"X-Api-Key": key, "Idempotency-Key": secrets.token_hex(8)},
        )
        assert sale.status_code == 201, sale.text
        found["a wrong API key"] = wrong_key = "ack_" + secrets.token_urlsafe(32)
        assert (
            await api.post("/v1/purchases", json={}, headers={"X-Api-Key": wrong_key})
        ).status_code == 401

        body = json.dumps(
            {"id": f"evt_{secrets.token_hex(6)}", "type": "payment.succeeded", "data": {}}
        ).encode()
        now = int(time.time())
        found["webhook signature"] = signature = sign(webhook_secret, now, body)
        hook = await api.post(
            "/v1/webhooks/payments",
            content=body,
            headers={"X-Signature": f"t={now},v1={signature}", "Content-Type": "application/json"},
        )
        assert hook.status_code == 200, hook.text

        # Last: presenting the rotated refresh token revokes the session (and is refused).
        reused = await api.post("/v1/auth/refresh", json={"refresh_token": found["refresh token"]})
        assert reused.status_code == 401
        assert (await api.post("/v1/auth/logout", headers=admin)).status_code == 204
    return found


def leaks(log: str, found: dict[str, str]) -> list[str]:
    # Timestamps hold 6-digit fractions: a one-time code is looked for everywhere else.
    without_times = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)?", "", log)
    wrong = []
    for name, value in found.items():
        if re.fullmatch(r"\d{6}", value):
            if re.search(rf"(?<!\d){value}(?!\d)", without_times):
                wrong.append(name)
        elif value in log or (len(value) >= 24 and value[-16:] in log):
            wrong.append(name)
    return wrong


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
async def test_no_secret_is_logged(servers: RunServers, tmp_path: Path, level: str) -> None:
    gateway = SmsGateway(token=secrets.token_urlsafe(24))
    secret_key = secrets.token_urlsafe(40)
    webhook_secret = secrets.token_urlsafe(32)
    log = tmp_path / "serve.log"
    async with (
        serving(gateway.app()) as gateway_address,
        serve_logged(
            servers,
            log,
            ASTROCOFFEE_LOG_LEVEL=level,
            ASTROCOFFEE_SECRET_KEY=secret_key,
            ASTROCOFFEE_PAYMENT_WEBHOOK_SECRET=webhook_secret,
            ASTROCOFFEE_SMS_GATEWAY_URL=f"http://{gateway_address}/send",
            ASTROCOFFEE_SMS_GATEWAY_TOKEN=gateway.token,
            ASTROCOFFEE_AUTH_RATE_LIMIT_PER_MINUTE="100000",
        ) as base,
    ):
        found = await run_flow(base, gateway, webhook_secret)
    found |= {
        "secret key": secret_key,
        "webhook secret": webhook_secret,
        "SMS gateway token": gateway.token,
    }
    text = log.read_text()
    # The flow was logged at this level: the access lines, and at DEBUG the libraries' own.
    assert '"message":"POST /v1/purchases 201"' in text
    assert ('"level":"debug"' in text) == (level == "DEBUG")
    leaked = leaks(text, found)
    lines = [line for line in text.splitlines() if any(found[n][-16:] in line for n in leaked)]
    assert not leaked, f"in the {level} log: {', '.join(leaked)}\n" + "\n".join(lines[:10])
