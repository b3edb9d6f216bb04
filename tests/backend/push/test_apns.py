"""APNs over HTTP/2 against a fake that checks the provider token."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager

import httpx

from backend.push.apns import Apns
from backend.push.providers import Delivered, Device, Failed, InvalidToken
from devkit.fakes.apns import ApnsService
from tests.backend.push.samples import points_earned
from tests.backend.push.throttled import a_retry_then_delivered

TOKEN = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"


def device(token: str = TOKEN) -> Device:
    return Device(id=uuid.uuid4(), member_id=uuid.uuid4(), provider="apns", token=token)


@asynccontextmanager
async def apns_of(service: ApnsService, *, team_id: str | None = None) -> AsyncIterator[Apns]:
    async with (
        service.serving() as address,
        aclosing(service.provider(f"http://{address}", team_id=team_id)) as provider,
    ):
        yield provider


async def test_an_alert_reaches_the_device_once_over_http2() -> None:
    service = ApnsService()
    notification = points_earned()
    async with apns_of(service) as apns:
        assert await apns.send(device(), notification) == Delivered()
        assert await apns.send(device(TOKEN[::-1]), notification) == Delivered()

    (push,) = service.taken(TOKEN)
    assert push["payload"] == {
        "aps": {
            "alert": {"title": notification.title, "body": notification.body},
            "sound": "default",
            "thread-id": "points_earned",
        },
        "kind": "points_earned",
        **notification.data,
    }
    assert push["collapse_id"] == notification.collapse_key
    assert push["push_type"] == "alert"
    assert service.connections == 1  # both pushes over one HTTP/2 connection
    assert service.streams == 2


async def test_the_fake_speaks_http2_only() -> None:
    service = ApnsService()
    async with service.serving() as address, httpx.AsyncClient() as http1:
        try:
            await http1.get(f"http://{address}/_state", timeout=2)
        except httpx.HTTPError:
            pass
        else:
            raise AssertionError("an HTTP/1.1 request was answered")
        async with httpx.AsyncClient(http1=False, http2=True) as http2:
            state = await http2.get(f"http://{address}/_state")
    assert state.http_version == "HTTP/2"
    assert state.json()["received"] == []


async def test_unregistered_and_bad_tokens_are_invalid() -> None:
    service = ApnsService(gone={TOKEN})
    async with apns_of(service) as apns:
        unregistered = await apns.send(device(), points_earned())
        bad = await apns.send(device("not-a-hex-token"), points_earned())
    assert isinstance(unregistered, InvalidToken) and "410" in unregistered.reason
    assert isinstance(bad, InvalidToken) and "BadDeviceToken" in bad.reason
    assert service.received == []


async def test_too_many_requests_is_a_retry_after_its_seconds() -> None:
    service = ApnsService(too_many=1, retry_after_s=9)
    async with apns_of(service) as apns:
        await a_retry_then_delivered(apns, device(), seconds=9)


async def test_a_provider_token_of_another_team_is_refused() -> None:
    service = ApnsService()
    async with apns_of(service, team_id="OTHERTEAM1") as apns:
        outcome = await apns.send(device(), points_earned())
    assert isinstance(outcome, Failed) and not outcome.retryable
    assert "InvalidProviderToken" in outcome.reason
