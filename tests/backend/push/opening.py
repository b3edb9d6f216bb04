"""The opening of the push rules' tests: a store's till, and a member who registered a
browser for Web Push (call it inside the test's clock), most often with the push services'
fakes at noon in Moscow (``noon_with_a_browser``); a member's consent to marketing pushes
given or withdrawn."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import time_machine

from tests.backend.push.test_sale_push import PushServices, push_services
from tests.factories import LoggedInMember, Till, log_in, open_till

MOSCOW = ZoneInfo("Europe/Moscow")


def moscow(day: int, hour: int, minute: int = 0) -> datetime:
    """A time of March 2027 on Moscow's clock, in UTC."""
    return datetime(2027, 3, day, hour, minute, tzinfo=MOSCOW).astimezone(UTC)


async def member_with_a_browser(
    client: httpx.AsyncClient, sms: Any, subscription: dict[str, object]
) -> tuple[Till, LoggedInMember]:
    till = await open_till()
    member = await log_in(client, sms)
    added = await client.post(
        "/v1/me/devices",
        headers=member.headers,
        json={"provider": "webpush", "subscription": subscription},
    )
    assert added.status_code == 201, added.text
    return till, member


@asynccontextmanager
async def noon_with_a_browser(
    client: httpx.AsyncClient, sms: Any
) -> AsyncIterator[tuple[PushServices, Till, LoggedInMember]]:
    """The push services' fakes, the clock at noon of 16 March 2027 in Moscow (out of the
    default quiet hours; ticking, and a test may travel further inside), a till and a member
    with a browser."""
    async with push_services() as push:
        with time_machine.travel(moscow(16, 12), tick=True):
            till, member = await member_with_a_browser(client, sms, push.subscription)
            yield push, till, member


async def consent_to_push(
    client: httpx.AsyncClient, member: LoggedInMember, *, given: bool = True
) -> None:
    response = await client.put("/v1/me/consents", headers=member.headers, json={"push": given})
    assert response.status_code == 200, response.text
