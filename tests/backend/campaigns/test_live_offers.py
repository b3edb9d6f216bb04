"""Offers pushed live: to everyone by one broadcast, to a targeted audience per member, on
publish, on a scheduled start and end, and on pause."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import websockets

from backend.campaigns.service import start_and_end_on_time
from db import sql
from db.tables import BroadcastEvent, MemberEvent
from tests.backend.campaigns.helpers import create, launch
from tests.conftest import LiveServer
from tests.factories import LoggedInMember, hire, log_in

BONUS = {"type": "bonus", "points": 10, "min_amount": 100}


async def recv(ws: Any) -> dict[str, Any]:
    return dict(json.loads(await asyncio.wait_for(ws.recv(), 10)))


async def nothing_more(ws: Any) -> None:
    await ws.send(json.dumps({"type": "ping"}))
    assert await recv(ws) == {"type": "pong"}


@asynccontextmanager
async def phones(live_server: LiveServer, *members: LoggedInMember) -> AsyncIterator[list[Any]]:
    """A live socket for each member, past the frame each starts with."""
    async with AsyncExitStack() as stack:
        sockets = [
            await stack.enter_async_context(
                websockets.connect(f"{live_server.ws_url}/v1/ws?token={member.access_token}")
            )
            for member in members
        ]
        for ws in sockets:
            await recv(ws)
        yield sockets


async def test_a_campaign_for_everyone_is_one_broadcast(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    admin = await hire(client, "admin")
    members = [await log_in(client, live_server.sms) for _ in range(3)]
    async with phones(live_server, members[0], members[1]) as sockets:
        campaign = await launch(client, admin, name="For all", rule=BONUS)
        for ws in sockets:
            frame = await recv(ws)
            assert (frame["type"], frame["stream"]) == ("offer.available", "broadcast")
            assert frame["data"]["campaign_id"] == campaign["id"]
    assert await BroadcastEvent.count() == 1  # stored once, not per member
    assert await MemberEvent.count().where(MemberEvent.type == "offer.available") == 0


async def test_a_targeted_campaign_reaches_exactly_its_audience(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    from db.tables import Member

    admin = await hire(client, "admin")
    gold = await log_in(client, live_server.sms)
    green = await log_in(client, live_server.sms)
    await Member.update({Member.tier: "gold"}).where(Member.phone == gold.phone)
    async with phones(live_server, gold, green) as (gold_ws, green_ws):
        campaign = await launch(
            client, admin, name="Gold bonus", rule=BONUS, targeting={"tiers": ["gold"]}
        )
        frame = await recv(gold_ws)
        assert frame["type"] == "offer.available" and "stream" not in frame
        assert frame["data"]["campaign_id"] == campaign["id"]
        await nothing_more(green_ws)
        paused = await client.post(
            f"/v1/admin/campaigns/{campaign['id']}/pause", headers=admin.headers
        )
        assert paused.status_code == 200
        assert (await recv(gold_ws))["type"] == "offer.expired"
        await nothing_more(green_ws)
    offers = (await client.get("/v1/me/offers", headers=green.headers)).json()["items"]
    assert offers == []


async def test_a_scheduled_campaign_starts_and_ends_while_members_are_connected(
    client: httpx.AsyncClient, live_server: LiveServer, publisher: Any
) -> None:
    admin = await hire(client, "admin")
    member = await log_in(client, live_server.sms)
    start = datetime.now(UTC) + timedelta(minutes=5)
    campaign = await create(
        client,
        admin,
        name="Happy hour",
        rule=BONUS,
        starts_at=start.isoformat(),
        ends_at=(start + timedelta(hours=1)).isoformat(),
    )
    scheduled = await client.post(
        f"/v1/admin/campaigns/{campaign['id']}/schedule", headers=admin.headers
    )
    assert scheduled.json()["status"] == "scheduled"
    catalogue = live_server.app.state.catalogue
    async with phones(live_server, member) as (phone,):
        assert await start_and_end_on_time(publisher, catalogue, now=datetime.now(UTC)) == 0
        await nothing_more(phone)
        assert await start_and_end_on_time(publisher, catalogue, now=start) == 1
        began = await recv(phone)
        assert (began["type"], began["data"]["name"]) == ("offer.available", "Happy hour")
        assert (
            await start_and_end_on_time(publisher, catalogue, now=start + timedelta(hours=1)) == 1
        )
        ended = await recv(phone)
        assert (ended["type"], ended["data"]["name"]) == ("offer.expired", "Happy hour")
    final = await client.get(f"/v1/admin/campaigns/{campaign['id']}", headers=admin.headers)
    assert final.json()["status"] == "ended"


async def test_a_token_outliving_its_member_is_answered_404(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    """A session whose member's rows are gone (the tables emptied while a phone polls) gets
    the declared 404, not a 500, from every read of its own."""
    member = await log_in(client, live_server.sms)
    await sql.fetch("TRUNCATE member CASCADE")
    for path in ("/v1/me", "/v1/me/offers"):
        answer = await client.get(path, headers=member.headers)
        assert (answer.status_code, answer.json()["code"]) == (404, "member_not_found"), path
