"""How many round trips to Redis a till's request makes, counted on redis-py's side.

A till's request used to make two before its handler: the API key's cache entry (GET), then
the POS rate limit's count (EVALSHA). Now one script does both (backend.rate_limits,
``count_if_held``). A round trip is one packed send of redis-py's connection, counted only in
the tasks that serve HTTP requests (the live server runs in the test process).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from redis.asyncio.connection import AbstractConnection

from tests.conftest import LiveServer
from tests.factories import Till, buy, log_in, open_till, post_as, purchase_body

_NAME = re.compile(rb"^\*\d+\r\n\$\d+\r\n([A-Za-z]+)")


@contextmanager
def redis_round_trips() -> Iterator[list[str]]:
    """The first command of each send to Redis while the block runs, by request tasks."""
    sent: list[str] = []
    original = AbstractConnection.send_packed_command

    def serving_a_request() -> bool:
        task = asyncio.current_task()
        return task is not None and "run_asgi" in task.get_coro().__qualname__

    async def send(self: Any, command: Any, check_health: bool = True) -> None:
        if serving_a_request():
            packed = command if isinstance(command, bytes | str) else b"".join(command)
            packed = packed.encode() if isinstance(packed, str) else packed
            found = _NAME.match(packed)
            sent.append(found.group(1).decode().upper() if found else "?")
        await original(self, command, check_health)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(AbstractConnection, "send_packed_command", send)
        yield sent


async def _trips(client: httpx.AsyncClient, till: Till, body: dict[str, Any]) -> list[str]:
    with redis_round_trips() as sent:
        response = await buy(client, till, body)
    assert response.status_code == 201, response.text
    assert response.headers["ratelimit-limit"]  # counted, and told so
    return sent


async def test_one_round_trip_authenticates_and_counts_a_sale(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    till, other_till = await open_till(), await open_till()
    member = await log_in(client, live_server.sms)
    for _ in range(2):  # Redis has loaded both scripts (a fresh server loads them once)
        await _trips(client, other_till, purchase_body(member.card_number))
    # The first sale finds no cache entry: the key is read (nothing counted), the database
    # answers, the entry is filled (SET NX), and the limit counts by itself.
    first = await _trips(client, till, purchase_body(member.card_number))
    assert first[:3] == ["EVALSHA", "SET", "EVALSHA"], first
    # From then on one script reads the entry and counts the sale: one round trip before
    # the handler, where there were two (GET, EVALSHA).
    then = await _trips(client, till, purchase_body(member.card_number))
    before_handler = then[:1]
    assert before_handler == ["EVALSHA"], then
    assert "GET" not in then and then.count("EVALSHA") == 1, then
    # The same for a checkout.
    with redis_round_trips() as sent:
        opened = await post_as(client, till, "/v1/checkouts", purchase_body(member.card_number))
    assert opened.status_code == 201, opened.text
    assert sent.count("EVALSHA") == 1 and "GET" not in sent, sent


async def test_a_terminal_off_the_pos_api_is_not_counted(client: httpx.AsyncClient) -> None:
    """A terminal's key on a route outside the POS router: authenticated (then refused by
    the access rule) with a plain GET, counted nowhere, and told no POS budget."""
    till = await open_till()
    assert (await buy(client, till, purchase_body("7700000000000008"))).status_code == 404
    with redis_round_trips() as sent:
        refused = await client.get("/v1/me", headers=till.headers)
    assert refused.status_code == 403
    assert "ratelimit-limit" not in refused.headers
    assert sent == ["GET"], sent
