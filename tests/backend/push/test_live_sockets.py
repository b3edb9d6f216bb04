"""Not what an open WebSocket showed: a device whose app has the member's stream open, and
was sent the sale's events, is not pushed the sale; the member's other devices are. A
socket that closed is forgotten once its record's time to live has passed, and a device that
was shown only earlier events is pushed. Real sockets, real Redis; the push services are
the fakes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import websockets
from prometheus_client import REGISTRY

from backend.push.live_sockets import LiveDevices
from backend.push.queue import PushPolicy, deliver_push_due, feed_push
from db import sql
from realtime.channels import member_stream
from realtime.live_sockets import LiveSockets, live_key
from tests.backend.push.test_sale_push import (
    APNS_TOKEN,
    FCM_TOKEN,
    PushServices,
    push_services,
    register_devices,
)
from tests.conftest import LiveServer
from tests.factories import LoggedInMember, Till, buy, purchase_body


def shown_live_count() -> float:
    labels = {"provider": "webpush", "outcome": "shown_live"}
    return REGISTRY.get_sample_value("astrocoffee_push_attempts_total", labels) or 0.0


async def device_id(client: httpx.AsyncClient, member: LoggedInMember, provider: str) -> str:
    listed = (await client.get("/v1/me/devices", headers=member.headers)).json()["items"]
    (device,) = [d["id"] for d in listed if d["provider"] == provider]
    return str(device)


@asynccontextmanager
async def app_open(
    live_server: LiveServer, member: LoggedInMember, device: str
) -> AsyncIterator[Any]:
    """The member's app open on ``device``, following their stream from its start."""
    query = urlencode({"token": member.access_token, "last_seq": 0, "device": device})
    async with websockets.connect(f"{live_server.ws_url}/v1/ws?{query}") as socket:
        assert json.loads(await socket.recv())["type"] == "ready"
        yield socket


async def sell_and_see(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember, socket: Any
) -> int:
    """A sale; the seq of its balance event, once the open app has it."""
    await buy(client, till, purchase_body(member.card_number, amount=35000))
    while True:
        event = json.loads(await asyncio.wait_for(socket.recv(), 10))
        if event["type"] == "balance.updated":
            return int(event["seq"])


async def recorded(live_server: LiveServer, member: LoggedInMember, device: str) -> int | None:
    """What the device's record holds (None: no open socket)."""
    state = live_server.app.state
    key = live_key(state.settings.redis_prefix, member_stream(str(member.member_id)), device)
    value = await state.redis.get(key)
    return None if value is None else int(value)


async def record_reaches(
    live_server: LiveServer, member: LoggedInMember, device: str, seq: int | None
) -> None:
    """Wait (up to 10 s) for the record to hold ``seq``: it is written after the sends, never
    in their way, and expires by Redis's clock."""
    for _ in range(500):
        if await recorded(live_server, member, device) == seq:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"the record of {device} never held {seq}")


def live_devices(live_server: LiveServer) -> LiveDevices:
    state = live_server.app.state
    return LiveDevices(state.redis, prefix=state.settings.redis_prefix)


async def statuses() -> dict[str, str]:
    rows = await sql.fetch(
        "SELECT v.provider, d.status FROM push_delivery d JOIN member_device v ON v.id = d.device"
    )
    return {row["provider"]: row["status"] for row in rows}


async def opened(client: httpx.AsyncClient, member: LoggedInMember, push: PushServices) -> str:
    await register_devices(client, member, push.subscription)
    return await device_id(client, member, "webpush")


async def test_the_device_whose_open_app_showed_the_sale_is_not_pushed_the_others_are(
    client: httpx.AsyncClient, live_server: LiveServer, member: LoggedInMember, till: Till
) -> None:
    before = shown_live_count()
    async with push_services() as push:
        browser = await opened(client, member, push)
        async with app_open(live_server, member, browser) as socket:
            seq = await sell_and_see(client, till, member, socket)
            await record_reaches(live_server, member, browser, seq)
            assert await feed_push() == 3
            (source,) = {
                row["source_seq"] for row in await sql.fetch("SELECT source_seq FROM push_delivery")
            }
            assert source <= seq  # made from the sale's events, which the app was sent
            assert (
                await deliver_push_due(push.providers, PushPolicy(), live=live_devices(live_server))
                == 3
            )

    assert await statuses() == {"webpush": "shown_live", "fcm": "delivered", "apns": "delivered"}
    assert push.web_push.received == []
    assert len(push.fcm.taken(FCM_TOKEN)) == 1
    assert len(push.apns.taken(APNS_TOKEN)) == 1
    assert shown_live_count() - before == 1


@pytest.fixture
def records_expire_soon(live_server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The live records' time to live, short for the test (60 s deployed)."""
    sockets: LiveSockets = live_server.app.state.live_sockets
    monkeypatch.setattr(sockets, "ttl_s", 0.5)


async def test_a_closed_app_is_forgotten_once_its_record_expires_then_pushed(
    client: httpx.AsyncClient,
    live_server: LiveServer,
    member: LoggedInMember,
    till: Till,
    records_expire_soon: None,
) -> None:
    async with push_services() as push:
        browser = await opened(client, member, push)
        async with app_open(live_server, member, browser) as socket:
            seq = await sell_and_see(client, till, member, socket)
            await record_reaches(live_server, member, browser, seq)
        await record_reaches(live_server, member, browser, None)  # closed, and its TTL passed
        assert await feed_push() == 3
        await deliver_push_due(push.providers, PushPolicy(), live=live_devices(live_server))

    assert await statuses() == {"webpush": "delivered", "fcm": "delivered", "apns": "delivered"}
    assert len(push.web_push.received) == 1


async def test_a_device_shown_only_earlier_events_is_pushed(
    client: httpx.AsyncClient, live_server: LiveServer, member: LoggedInMember, till: Till
) -> None:
    async with push_services() as push:
        browser = await opened(client, member, push)
        live = live_devices(live_server)
        async with app_open(live_server, member, browser) as socket:
            first = await sell_and_see(client, till, member, socket)
            await record_reaches(live_server, member, browser, first)
            assert await feed_push() == 3
            assert await deliver_push_due(push.providers, PushPolicy(), live=live) == 3
        # The app closed a moment ago: its record is still alive, at the first sale. A
        # second sale's push is made from later events than it was sent.
        sale = await buy(client, till, purchase_body(member.card_number, amount=20000))
        assert await recorded(live_server, member, browser) == first
        assert await feed_push() == 3
        assert await deliver_push_due(push.providers, PushPolicy(), live=live) == 3

    rows = await sql.fetch(
        "SELECT v.provider, d.status FROM push_delivery d JOIN member_device v"
        " ON v.id = d.device WHERE d.source_seq > {first} ORDER BY v.provider",
        first=first,
    )
    assert [(row["provider"], row["status"]) for row in rows] == [
        ("apns", "delivered"),
        ("fcm", "delivered"),
        ("webpush", "delivered"),
    ]
    (web,) = push.web_push.received  # the second sale's, the first was shown live
    assert web["payload"]["data"]["purchase_id"] == sale.json()["purchase_id"]


async def test_an_app_opened_after_the_sale_without_its_position_is_still_pushed(
    client: httpx.AsyncClient, live_server: LiveServer, member: LoggedInMember, till: Till
) -> None:
    """``ready`` tells a fresh socket (no ``?last_seq=``) the stream's newest seq, but sends
    none of its events: its record must not claim the sale's, nor must a ping's answer."""
    async with push_services() as push:
        browser = await opened(client, member, push)
        sale = await buy(client, till, purchase_body(member.card_number, amount=35000))
        assert sale.status_code == 201, sale.text
        assert await feed_push() == 3
        query = urlencode({"token": member.access_token, "device": browser})
        async with websockets.connect(f"{live_server.ws_url}/v1/ws?{query}") as socket:
            ready = json.loads(await socket.recv())
            assert ready["type"] == "ready" and ready["last_seq"] > 0
            await socket.send(json.dumps({"type": "ping"}))
            assert json.loads(await asyncio.wait_for(socket.recv(), 10))["type"] == "pong"
            await record_reaches(live_server, member, browser, 0)
            live = live_devices(live_server)
            assert await deliver_push_due(push.providers, PushPolicy(), live=live) == 3

    assert await statuses() == {"webpush": "delivered", "fcm": "delivered", "apns": "delivered"}
    assert len(push.web_push.received) == 1


@pytest.mark.parametrize("device", ["not-a-device", "12"])
async def test_a_device_that_is_not_an_id_is_refused(
    live_server: LiveServer, member: LoggedInMember, device: str
) -> None:
    query = urlencode({"token": member.access_token, "device": device})
    async with websockets.connect(f"{live_server.ws_url}/v1/ws?{query}") as socket:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await socket.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
