from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import websockets

from tests.conftest import LiveServer
from tests.factories import (
    LoggedInMember,
    Till,
    buy,
    figures_folded,
    hire,
    open_till,
    post_as,
    purchase_body,
)


async def recv(ws: Any) -> dict[str, Any]:
    return dict(json.loads(await asyncio.wait_for(ws.recv(), 10)))


async def test_staff_watch_their_store_live(
    client: httpx.AsyncClient, live_server: LiveServer, member: LoggedInMember, till: Till
) -> None:
    barista = await hire(client, "barista", [till.store_id])
    url = f"{live_server.ws_url}/v1/ws?store_id={till.store_id}&token={barista.access_token}"
    async with websockets.connect(url) as dashboard:
        ready = await recv(dashboard)
        assert ready == {"type": "ready", "stream": f"store:{till.store_id}", "last_seq": 0}
        sale = (await buy(client, till, purchase_body(member.card_number, amount=40000))).json()
        completed, stats = await recv(dashboard), await recv(dashboard)
        assert (completed["type"], completed["seq"]) == ("sale.completed", 1)
        assert completed["data"]["purchase_id"] == sale["purchase_id"]
        assert completed["data"]["points_earned"] == 20
        assert (stats["type"], stats["seq"]) == ("stats.updated", 2)
        assert {
            k: stats["data"][k]
            for k in ("sales", "sales_amount", "points_earned", "active_members", "new_members")
        } == {
            "sales": 1,
            "sales_amount": 40000,
            "points_earned": 20,
            "active_members": 1,
            "new_members": 1,
        }

        await post_as(
            client, till, f"/v1/purchases/{sale['purchase_id']}/refunds", {"amount": 40000}
        )
        after_refund = await recv(dashboard)
        assert (after_refund["type"], after_refund["seq"]) == ("stats.updated", 3)
        assert after_refund["data"]["refunded_amount"] == 40000
        assert after_refund["data"]["points_reversed"] == 20


async def test_the_dashboard_resumes_its_store_stream(
    client: httpx.AsyncClient, live_server: LiveServer, member: LoggedInMember, till: Till
) -> None:
    manager = await hire(client, "manager", [till.store_id])
    for _ in range(2):
        await buy(client, till, purchase_body(member.card_number))
        await figures_folded()  # each sale in a pass of its own: its event and the figures
    url = f"{live_server.ws_url}/v1/ws?store_id={till.store_id}"
    async with websockets.connect(url, additional_headers=manager.headers) as dashboard:
        assert (await recv(dashboard))["last_seq"] == 4
        await dashboard.send(json.dumps({"type": "resume", "last_seq": 1}))
        assert [(await recv(dashboard))["seq"] for _ in range(3)] == [2, 3, 4]


async def test_staff_cannot_watch_another_store_nor_without_choosing_one(
    client: httpx.AsyncClient, live_server: LiveServer, till: Till
) -> None:
    other = await open_till()
    barista = await hire(client, "barista", [other.store_id])
    for query in (f"store_id={till.store_id}&", "", "store_id=not-a-uuid&"):
        async with websockets.connect(
            f"{live_server.ws_url}/v1/ws?{query}token={barista.access_token}"
        ) as ws:
            try:
                while True:
                    await asyncio.wait_for(ws.recv(), 10)
            except websockets.ConnectionClosed:
                pass
            assert ws.close_code == 4401, query
