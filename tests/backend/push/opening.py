"""The opening of the push rules' tests: a store's till, and a member who registered a
browser for Web Push (call it inside the test's clock); a member's consent to marketing
pushes given or withdrawn."""

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


async def consent_to_push(
    client: httpx.AsyncClient, member: LoggedInMember, *, given: bool = True
) -> None:
    response = await client.put("/v1/me/consents", headers=member.headers, json={"push": given})
    assert response.status_code == 200, response.text
