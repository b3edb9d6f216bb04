from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from realtime.client import MemberStreamClient, NotAuthorized, reconnect_delay_s
from tests.conftest import LiveServer
from tests.factories import LoggedInMember, Till, buy, purchase_body


async def take(stream: Any, count: int) -> list[dict[str, Any]]:
    return [await asyncio.wait_for(anext(stream), 10) for _ in range(count)]


async def test_a_dropped_client_resumes_with_no_gap_and_no_duplicate(
    client: httpx.AsyncClient, live_server: LiveServer, member: LoggedInMember, till: Till
) -> None:
    # Starting from 0: whether the sale lands before or after the connection, it arrives.
    phone = MemberStreamClient(
        f"{live_server.ws_url}/v1/ws", member.access_token, last_seq=0, max_backoff_s=0.2
    )
    stream = phone.events()
    first = asyncio.create_task(take(stream, 2))
    await buy(client, till, purchase_body(member.card_number))
    assert [f["seq"] for f in await first] == [1, 2]

    await phone.drop_connection()  # the phone loses its network mid-stream...
    for _ in range(3):  # ...while three more sales happen
        await buy(client, till, purchase_body(member.card_number))
    frames = await take(stream, 6)
    assert [f["seq"] for f in frames] == [3, 4, 5, 6, 7, 8]
    assert phone.connections == 2
    await stream.aclose()


async def test_a_refused_token_is_not_retried(live_server: LiveServer) -> None:
    stream = MemberStreamClient(f"{live_server.ws_url}/v1/ws", "forged").events()
    with pytest.raises(NotAuthorized):
        await asyncio.wait_for(anext(stream), 10)


def test_reconnects_are_spread_over_seconds_after_a_restart_and_back_off_after_failures() -> None:
    after_restart = [reconnect_delay_s(1, restarted=True) for _ in range(2_000)]
    assert min(after_restart) >= 1.0 and max(after_restart) <= 8.0
    # Spread, not bunched: a restart's sockets come back over the whole window.
    assert sum(d < 4.5 for d in after_restart) / len(after_restart) == pytest.approx(0.5, abs=0.06)
    for attempt, ceiling in ((1, 1.0), (2, 2.0), (3, 4.0), (6, 30.0), (20, 30.0)):
        delays = [reconnect_delay_s(attempt) for _ in range(500)]
        assert min(delays) >= 0.5 and max(delays) <= ceiling
    assert reconnect_delay_s(2, restarted=True) <= 2.0  # the spread is for the first try only
