from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from tests.conftest import LiveServer
from tests.factories import LoggedInMember, Till, buy, log_in, purchase_body


async def recv(ws: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    return dict(json.loads(await asyncio.wait_for(ws.recv(), timeout)))


async def close_code(ws: ClientConnection, timeout: float = 10.0) -> int | None:
    with pytest.raises(ConnectionClosed):
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    return ws.close_code


@pytest.mark.parametrize("how", ["query", "header", "first_frame"])
async def test_a_member_authenticates_in_each_supported_way(
    live_server: LiveServer, member: LoggedInMember, how: str
) -> None:
    url = f"{live_server.ws_url}/v1/ws"
    headers = {}
    if how == "query":
        url += f"?token={member.access_token}"
    elif how == "header":
        headers = member.headers
    async with websockets.connect(url, additional_headers=headers) as ws:
        if how == "first_frame":
            await ws.send(json.dumps({"type": "auth", "token": member.access_token}))
        ready = await recv(ws)
        assert ready == {
            "type": "ready",
            "stream": f"member:{member.member_id}",
            "last_seq": 0,
            "broadcast_last_seq": 0,
        }
        await ws.send(json.dumps({"type": "ping"}))
        assert await recv(ws) == {"type": "pong"}


async def test_a_bad_token_closes_with_4401(live_server: LiveServer) -> None:
    async with websockets.connect(f"{live_server.ws_url}/v1/ws?token=forged") as ws:
        assert await close_code(ws) == 4401


async def test_a_first_frame_that_is_not_auth_closes_with_4401(live_server: LiveServer) -> None:
    async with websockets.connect(f"{live_server.ws_url}/v1/ws") as ws:
        await ws.send(json.dumps({"type": "ping"}))
        assert await close_code(ws) == 4401


async def test_no_credentials_within_the_timeout_closes_with_4408(live_server: LiveServer) -> None:
    async with websockets.connect(f"{live_server.ws_url}/v1/ws") as ws:
        assert await close_code(ws, timeout=15) == 4408


async def test_a_purchase_pushes_balance_updated_to_every_device_of_the_member(
    client: httpx.AsyncClient, live_server: LiveServer, member: LoggedInMember, till: Till
) -> None:
    url = f"{live_server.ws_url}/v1/ws?token={member.access_token}"
    async with websockets.connect(url) as phone, websockets.connect(url) as laptop:
        await recv(phone)
        await recv(laptop)
        response = await buy(client, till, purchase_body(member.card_number, amount=35000))
        assert response.status_code == 201
        for device in (phone, laptop):
            created = await recv(device)
            updated = await recv(device)
            assert (created["type"], created["seq"]) == ("transaction.created", 1)
            assert (updated["type"], updated["seq"]) == ("balance.updated", 2)
            assert updated["data"]["available"] == 17
            assert updated["data"]["purchase_id"] == response.json()["purchase_id"]
            assert updated["ts"].endswith("Z")


async def test_other_members_events_are_not_seen(
    client: httpx.AsyncClient, live_server: LiveServer, member: LoggedInMember, till: Till
) -> None:
    other = await log_in(client, live_server.sms)
    async with websockets.connect(f"{live_server.ws_url}/v1/ws?token={member.access_token}") as ws:
        await recv(ws)
        await buy(client, till, purchase_body(other.card_number))
        await buy(client, till, purchase_body(member.card_number))
        first = await recv(ws)
        assert first["data"]["purchase_id"]
        assert first["seq"] == 1  # the member's own first event, not the other member's


async def test_resume_replays_missed_events_in_order_then_continues_live(
    client: httpx.AsyncClient, live_server: LiveServer, member: LoggedInMember, till: Till
) -> None:
    for _ in range(3):  # seq 1..6 happen while the phone is away
        await buy(client, till, purchase_body(member.card_number))
    async with websockets.connect(f"{live_server.ws_url}/v1/ws?token={member.access_token}") as ws:
        assert (await recv(ws))["last_seq"] == 6
        await ws.send(json.dumps({"type": "resume", "last_seq": 2}))
        # A sale lands while the replay is being sent: it must follow, once, in order.
        await buy(client, till, purchase_body(member.card_number))
        seqs = [(await recv(ws))["seq"] for _ in range(6)]
        assert seqs == [3, 4, 5, 6, 7, 8]
        await ws.send(json.dumps({"type": "ping"}))
        assert await recv(ws) == {"type": "pong"}


async def test_resume_from_the_future_asks_for_a_resync(
    live_server: LiveServer, member: LoggedInMember
) -> None:
    async with websockets.connect(f"{live_server.ws_url}/v1/ws?token={member.access_token}") as ws:
        await recv(ws)
        await ws.send(json.dumps({"type": "resume", "last_seq": 99}))
        assert await recv(ws) == {"type": "resync", "last_seq": 0}


@pytest.mark.parametrize(
    "frame",
    ['{"type": "resume", "last_seq": -1}', '{"type": "dance"}', "not json", '{"type": "resume"}'],
)
async def test_malformed_frames_get_an_error_frame_and_the_socket_stays_open(
    live_server: LiveServer, member: LoggedInMember, frame: str
) -> None:
    async with websockets.connect(f"{live_server.ws_url}/v1/ws?token={member.access_token}") as ws:
        await recv(ws)
        await ws.send(frame)
        error = await recv(ws)
        assert (error["type"], error["code"]) == ("error", "bad_frame")
        await ws.send(json.dumps({"type": "ping"}))
        assert await recv(ws) == {"type": "pong"}


async def test_an_oversized_frame_closes_with_1009(
    live_server: LiveServer, member: LoggedInMember
) -> None:
    async with websockets.connect(
        f"{live_server.ws_url}/v1/ws?token={member.access_token}", max_size=None
    ) as ws:
        await recv(ws)
        await ws.send(json.dumps({"type": "ping", "pad": "x" * 10_000}))
        assert await close_code(ws) == 1009


async def test_an_event_whose_publish_was_lost_is_replayed_before_the_next_one(
    client: httpx.AsyncClient, live_server: LiveServer, member: LoggedInMember, till: Till
) -> None:
    import uuid

    from backend.streams.member import MEMBERS
    from db.pool import engine

    async with websockets.connect(f"{live_server.ws_url}/v1/ws?token={member.access_token}") as ws:
        await recv(ws)
        # Committed but never published (as if Redis had been down at that moment).
        async with engine().transaction():
            await MEMBERS.append(uuid.UUID(member.member_id), [("tier.changed", {"tier": "green"})])
        await buy(client, till, purchase_body(member.card_number))
        frames = [await recv(ws) for _ in range(3)]
        assert [(f["seq"], f["type"]) for f in frames] == [
            (1, "tier.changed"),
            (2, "transaction.created"),
            (3, "balance.updated"),
        ]


async def test_only_member_tokens_open_a_member_stream(
    client: httpx.AsyncClient, live_server: LiveServer, till: Till
) -> None:
    from tests.factories import hire

    admin = await hire(client, "admin")
    async with websockets.connect(f"{live_server.ws_url}/v1/ws?token={admin.access_token}") as ws:
        assert await close_code(ws) == 4401
    async with websockets.connect(
        f"{live_server.ws_url}/v1/ws", additional_headers=till.headers
    ) as ws:
        await ws.send(json.dumps({"type": "auth", "token": till.key}))
        assert await close_code(ws) == 4401


async def test_a_logged_out_session_cannot_open_a_stream(
    client: httpx.AsyncClient, live_server: LiveServer, member: LoggedInMember
) -> None:
    await client.post("/v1/auth/logout", headers=member.headers)
    async with websockets.connect(f"{live_server.ws_url}/v1/ws?token={member.access_token}") as ws:
        assert await close_code(ws) == 4401


async def test_repeated_bad_frames_close_the_socket(
    live_server: LiveServer, member: LoggedInMember
) -> None:
    async with websockets.connect(f"{live_server.ws_url}/v1/ws?token={member.access_token}") as ws:
        await recv(ws)
        for _ in range(21):
            await ws.send("garbage")
        assert await close_code(ws) == 1008


async def test_the_relay_publishes_events_committed_but_never_published(
    live_server: LiveServer, member: LoggedInMember, publisher: Any
) -> None:
    import uuid
    from datetime import UTC, datetime

    from backend.streams.member import MEMBERS
    from backend.streams.relay import relay_unpublished
    from db.pool import engine

    async with websockets.connect(f"{live_server.ws_url}/v1/ws?token={member.access_token}") as ws:
        await recv(ws)
        # As if the process died between commit and publish: nothing reaches Redis.
        async with engine().transaction():
            for tier in ("gold", "platinum"):
                await MEMBERS.append(uuid.UUID(member.member_id), [("tier.changed", {"to": tier})])
        assert await relay_unpublished(publisher, now=datetime.now(UTC)) == 2
        frames = [await recv(ws) for _ in range(2)]
        assert [(f["seq"], f["data"]["to"]) for f in frames] == [(1, "gold"), (2, "platinum")]
        assert await relay_unpublished(publisher, now=datetime.now(UTC)) == 0  # remembered


async def test_a_client_that_gives_its_position_on_connect_gets_what_it_missed_at_once(
    client: httpx.AsyncClient, live_server: LiveServer, member: LoggedInMember, till: Till
) -> None:
    """``?last_seq=``: the replay and the live events that follow come without any client
    frame (nothing is held for a first frame)."""
    for _ in range(2):  # seq 1..4 happen while the phone is away
        await buy(client, till, purchase_body(member.card_number))
    url = f"{live_server.ws_url}/v1/ws?token={member.access_token}&last_seq=1"
    async with websockets.connect(url) as ws:
        ready = await recv(ws)
        assert (ready["type"], ready["last_seq"]) == ("ready", 4)
        assert [(await recv(ws, timeout=1.5))["seq"] for _ in range(3)] == [2, 3, 4]
        await buy(client, till, purchase_body(member.card_number))
        assert [(await recv(ws, timeout=1.5))["seq"] for _ in range(2)] == [5, 6]


@pytest.mark.parametrize("query", ["last_seq=-1", "last_seq=x", "last_seq=1&broadcast_last_seq=a"])
async def test_a_position_that_is_not_a_seq_closes_with_1008(
    live_server: LiveServer, member: LoggedInMember, query: str
) -> None:
    url = f"{live_server.ws_url}/v1/ws?token={member.access_token}&{query}"
    async with websockets.connect(url) as ws:
        assert await close_code(ws) == 1008
