"""Broadcasts: stored once, delivered to every connected member, resumable, own seq."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import websockets

from backend.streams.broadcast import BROADCASTS
from db.pool import engine
from db.tables import BroadcastEvent
from realtime.client import MemberStreamClient
from tests.conftest import LiveServer
from tests.factories import LoggedInMember, Till, buy, hire, log_in, purchase_body


async def broadcast(publisher: Any, offer: str) -> None:
    async with engine().transaction():
        events = await BROADCASTS.append(None, [("offer.available", {"offer": offer})])
    await publisher.publish(events)


async def recv(ws: Any) -> dict[str, Any]:
    return dict(json.loads(await asyncio.wait_for(ws.recv(), 10)))


async def test_every_connected_member_gets_a_broadcast_stored_once(
    client: httpx.AsyncClient,
    live_server: LiveServer,
    member: LoggedInMember,
    till: Till,
    publisher: Any,
) -> None:
    other = await log_in(client, live_server.sms)
    staff = await hire(client, "barista", [till.store_id])
    base = f"{live_server.ws_url}/v1/ws"
    async with (
        websockets.connect(f"{base}?token={member.access_token}") as first,
        websockets.connect(f"{base}?token={other.access_token}") as second,
        websockets.connect(
            f"{base}?store_id={till.store_id}&token={staff.access_token}"
        ) as dashboard,
    ):
        for ws in (first, second, dashboard):
            await recv(ws)
        await broadcast(publisher, "double points today")
        for ws in (first, second):
            frame = await recv(ws)
            assert (frame["type"], frame["seq"], frame["stream"]) == (
                "offer.available",
                1,
                "broadcast",
            )
            assert frame["data"] == {"offer": "double points today"}
        # The member's own stream keeps its own seq beside the broadcasts.
        await buy(client, till, purchase_body(member.card_number))
        own = [await recv(first) for _ in range(2)]
        assert [(f["seq"], f.get("stream")) for f in own] == [(1, None), (2, None)]
        # Staff dashboards follow their store, not the broadcasts.
        assert (await recv(dashboard))["type"] == "sale.completed"
    assert await BroadcastEvent.count() == 1


async def test_missed_broadcasts_are_resumed(
    client: httpx.AsyncClient,
    live_server: LiveServer,
    member: LoggedInMember,
    publisher: Any,
) -> None:
    phone = MemberStreamClient(
        f"{live_server.ws_url}/v1/ws",
        member.access_token,
        last_seq=0,
        broadcast_last_seq=0,
        max_backoff_s=0.2,
    )
    stream = phone.events()
    first = asyncio.create_task(anext(stream))
    await broadcast(publisher, "a")
    assert (await asyncio.wait_for(first, 10))["data"] == {"offer": "a"}
    await phone.drop_connection()
    await broadcast(publisher, "b")
    await broadcast(publisher, "c")
    frames = [await asyncio.wait_for(anext(stream), 10) for _ in range(2)]
    assert [(f["seq"], f["data"]["offer"]) for f in frames] == [(2, "b"), (3, "c")]
    assert phone.broadcast_last_seq == 3
    await stream.aclose()
