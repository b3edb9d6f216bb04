"""Web Push against a push service that decrypts what it receives and checks VAPID."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from backend.push.development import DEV_VAPID_PRIVATE_KEY, DEV_VAPID_SUBJECT
from backend.push.providers import Delivered, Device, Failed, InvalidToken
from backend.push.web_push import WebPush
from devkit.fakes.web_push import WebPushService
from tests.backend.push.samples import points_earned
from tests.backend.push.throttled import a_retry_then_delivered
from tests.conftest import serving


@pytest.fixture
async def web_push() -> AsyncIterator[WebPush]:
    provider = WebPush(vapid_private_key=DEV_VAPID_PRIVATE_KEY, subject=DEV_VAPID_SUBJECT)
    yield provider
    await provider.aclose()


def device_of(subscription: dict[str, object]) -> Device:
    keys = subscription["keys"]
    assert isinstance(keys, dict)
    return Device(
        id=uuid.uuid4(),
        member_id=uuid.uuid4(),
        provider="webpush",
        token=str(subscription["endpoint"]),
        p256dh=keys["p256dh"],
        auth=keys["auth"],
    )


async def test_a_push_reaches_the_browser_once_and_decrypts(web_push: WebPush) -> None:
    service = WebPushService()
    async with serving(service.app()) as address:
        device = device_of(service.subscribe(web_push.public_key, origin=f"http://{address}"))
        sid = device.token.rsplit("/", 1)[1]
        notification = points_earned()

        assert await web_push.send(device, notification) == Delivered()

    (push,) = service.taken(sid)
    assert push["payload"] == {
        "kind": "points_earned",
        "title": notification.title,
        "body": notification.body,
        "tag": notification.collapse_key,
        "data": notification.data,
    }
    assert push["ttl"] == notification.ttl_s
    assert len(push["topic"]) == 32


async def test_a_subscription_made_for_another_key_is_refused(web_push: WebPush) -> None:
    service = WebPushService()
    other = WebPush(vapid_private_key="A" * 42 + "E", subject=DEV_VAPID_SUBJECT)
    async with serving(service.app()) as address:
        device = device_of(service.subscribe(other.public_key, origin=f"http://{address}"))
        outcome = await web_push.send(device, points_earned())
    await other.aclose()

    assert isinstance(outcome, Failed) and not outcome.retryable
    assert "403" in outcome.reason
    assert service.received == []


async def test_a_gone_subscription_is_an_invalid_token(web_push: WebPush) -> None:
    service = WebPushService()
    async with serving(service.app()) as address:
        device = device_of(service.subscribe(web_push.public_key, origin=f"http://{address}"))
        service.gone.add(device.token.rsplit("/", 1)[1])
        outcome = await web_push.send(device, points_earned())
        unknown = await web_push.send(
            device_of({**device_subscription(device), "endpoint": f"http://{address}/push/nope"}),
            points_earned(),
        )

    assert isinstance(outcome, InvalidToken) and "410" in outcome.reason
    assert isinstance(unknown, InvalidToken) and "404" in unknown.reason


def device_subscription(device: Device) -> dict[str, object]:
    return {"endpoint": device.token, "keys": {"p256dh": device.p256dh, "auth": device.auth}}


async def test_too_many_requests_is_a_retry_after_its_seconds(web_push: WebPush) -> None:
    service = WebPushService(too_many=1, retry_after_s=17)
    async with serving(service.app()) as address:
        device = device_of(service.subscribe(web_push.public_key, origin=f"http://{address}"))
        await a_retry_then_delivered(web_push, device, seconds=17)
    assert len(service.received) == 1


async def test_an_outage_is_retryable(web_push: WebPush) -> None:
    service = WebPushService(fail_next=1)
    async with serving(service.app()) as address:
        device = device_of(service.subscribe(web_push.public_key, origin=f"http://{address}"))
        outcome = await web_push.send(device, points_earned())
    after = await web_push.send(device, points_earned())  # nobody listens any more

    assert isinstance(outcome, Failed) and outcome.retryable and "503" in outcome.reason
    assert isinstance(after, Failed) and after.retryable
