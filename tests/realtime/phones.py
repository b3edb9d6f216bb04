"""A phone following its member's stream while the till sells: the opening that the Redis
outage tests (one server, a cluster) share before they break Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx

from realtime.client import MemberStreamClient
from tests.factories import LoggedInMember, Till, log_in, sell


async def phone_after_first_sale(
    api: httpx.AsyncClient, address: str, sms: Any, till: Till
) -> tuple[LoggedInMember, MemberStreamClient, AsyncIterator[dict[str, Any]]]:
    """A member logged in, their phone following their stream from seq 0, and one sale at
    ``till`` that the phone heard live (seq 1)."""
    member = await log_in(api, sms)
    phone = MemberStreamClient(f"ws://{address}/v1/ws", member.access_token, last_seq=0)
    stream = phone.events()
    first = asyncio.create_task(anext(stream))
    assert (await sell(api, till, member)).status_code == 201
    assert (await asyncio.wait_for(first, 10))["seq"] == 1
    return member, phone, stream
