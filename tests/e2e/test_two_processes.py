"""The whole slice across two real ``astrocoffee serve`` processes sharing PostgreSQL and Redis.

A sale recorded by process A reaches a phone connected to process B: the fan-out through
Redis is real, not an in-process shortcut.
"""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets

from tests.e2e.conftest import Replica, login
from tests.factories import open_till, purchase_body

pytestmark = pytest.mark.e2e


async def test_a_sale_on_process_a_reaches_a_phone_on_process_b(
    two_processes: list[Replica],
) -> None:
    a, b = (replica.address for replica in two_processes)
    till = await open_till()
    async with httpx.AsyncClient(base_url=f"http://{a}", timeout=10) as api_a:
        tokens = await login(api_a)
        stranger = await login(api_a)
        auth = {"Authorization": f"Bearer {tokens['access_token']}"}
        me = (await api_a.get("/v1/me", headers=auth)).json()

        async with (
            websockets.connect(f"ws://{b}/v1/ws?token={tokens['access_token']}") as phone_ws,
            websockets.connect(f"ws://{b}/v1/ws?token={tokens['access_token']}") as tablet_ws,
            websockets.connect(f"ws://{a}/v1/ws?token={tokens['access_token']}") as laptop_ws,
            websockets.connect(f"ws://{b}/v1/ws?token={stranger['access_token']}") as stranger_ws,
        ):
            for ws in (phone_ws, tablet_ws, laptop_ws, stranger_ws):
                assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "ready"

            sale = await api_a.post(
                "/v1/purchases",
                json=purchase_body(me["card_number"], amount=35000),
                headers={**till.headers, "Idempotency-Key": "e2e-1"},
            )
            assert sale.status_code == 201, sale.text

            for device in (phone_ws, tablet_ws, laptop_ws):  # every device, on either process
                frames = [json.loads(await asyncio.wait_for(device.recv(), 10)) for _ in range(2)]
                balance = next(f for f in frames if f["type"] == "balance.updated")
                assert balance["data"]["available"] == 17
                assert balance["data"]["purchase_id"] == sale.json()["purchase_id"]
            # Another member's socket on process B got nothing: its next frame is our pong.
            await stranger_ws.send(json.dumps({"type": "ping"}))
            assert json.loads(await asyncio.wait_for(stranger_ws.recv(), 10)) == {"type": "pong"}

    async with httpx.AsyncClient(base_url=f"http://{b}", timeout=10) as api_b:
        seen_by_b = await api_b.get("/v1/me", headers=auth)
        assert seen_by_b.json()["balance"]["available"] == 17
