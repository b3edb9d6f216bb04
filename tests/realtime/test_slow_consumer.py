"""A phone that stops reading is cut off (4429) instead of growing the server's memory."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
import websockets
from redis.asyncio import Redis

from backend.app import create_app
from backend.settings import load_settings
from realtime.channels import channel, member_stream
from realtime.protocol import EventEnvelope, encode, utc_now
from tests.conftest import RecordingSmsSender, serving
from tests.factories import log_in

QUEUE = 8


@pytest.fixture
async def small_queue_app() -> AsyncIterator[tuple[str, Any, Any]]:
    settings = msgspec.structs.replace(load_settings(), ws_queue_size=QUEUE)
    sms = RecordingSmsSender()
    app = create_app(settings, otp_sender=sms)
    async with serving(app) as address:
        yield address, sms, app


async def test_a_client_that_stops_reading_is_closed_with_4429(
    small_queue_app: tuple[str, Any, Any],
) -> None:
    import httpx

    address, sms, app = small_queue_app
    async with httpx.AsyncClient(base_url=f"http://{address}") as api:
        member = await log_in(api, sms)
    settings = app.state.settings
    redis: Redis = app.state.redis
    ws = await websockets.connect(
        f"ws://{address}/v1/ws?token={member.access_token}", max_queue=1, max_size=None
    )
    try:
        json.loads(await ws.recv())  # ready; from here on the phone reads nothing
        target = channel(settings.redis_prefix, member_stream(member.member_id))
        padding = "x" * 1000
        # ~20 MB of events: far more than socket buffers hold, so the writer blocks (and under
        # the 32 MB pub/sub output limit of a default Redis).
        async with redis.pipeline(transaction=False) as pipe:
            for seq in range(1, 20_001):
                pipe.publish(
                    target,
                    encode(EventEnvelope("balance.updated", seq, utc_now(), {"pad": padding})),
                )
            await pipe.execute()
        hub = app.state.hub
        for _ in range(300):
            if hub.channel_count == 0:
                break
            await asyncio.sleep(0.1)
        assert hub.channel_count == 0  # the slow socket was dropped and its channel released
        with pytest.raises(websockets.ConnectionClosed):
            while True:
                await asyncio.wait_for(ws.recv(), 10)
        assert ws.close_code == 4429
    finally:
        await ws.close()
