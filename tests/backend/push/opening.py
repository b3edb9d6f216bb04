"""The opening of the push rules' tests: a store's till, and a member who registered a
browser for Web Push (call it inside the test's clock)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.factories import LoggedInMember, Till, log_in, open_till


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
