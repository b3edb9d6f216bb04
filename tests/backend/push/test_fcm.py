"""FCM HTTP v1 against a fake that checks the service account's JWT and its access token."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager

from backend.push.fcm import Fcm
from backend.push.providers import Delivered, Device, Failed, InvalidToken
from devkit.fakes.fcm import FcmService
from tests.backend.push.samples import points_earned
from tests.backend.push.throttled import a_retry_then_delivered
from tests.conftest import serving

TOKEN = "fcm-registration-token-of-a-pixel"


def device(token: str = TOKEN) -> Device:
    return Device(id=uuid.uuid4(), member_id=uuid.uuid4(), provider="fcm", token=token)


@asynccontextmanager
async def fcm_of(service: FcmService) -> AsyncIterator[Fcm]:
    """The provider, and the fake's service account, with the token endpoint where the fake
    listens."""
    async with serving(service.app()) as address:
        service.listening_at(address)
        async with aclosing(service.provider(f"http://{address}")) as provider:
            yield provider


async def test_a_message_reaches_the_device_once_with_one_access_token() -> None:
    service = FcmService()
    notification = points_earned()
    async with fcm_of(service) as fcm:
        assert await fcm.send(device(), notification) == Delivered()
        assert await fcm.send(device("another-token"), notification) == Delivered()

    (push,) = service.taken(TOKEN)
    assert push["payload"] == {
        "notification": {"title": notification.title, "body": notification.body},
        "data": {**notification.data, "kind": "points_earned"},
    }
    assert push["android"]["collapse_key"] == notification.collapse_key
    assert service.grants == 1  # the access token is kept, not fetched per message


async def test_an_unregistered_token_is_invalid() -> None:
    service = FcmService(gone={TOKEN})
    async with fcm_of(service) as fcm:
        outcome = await fcm.send(device(), points_earned())
    assert isinstance(outcome, InvalidToken) and "UNREGISTERED" in outcome.reason


async def test_quota_exceeded_is_a_retry_after_its_seconds() -> None:
    service = FcmService(too_many=1, retry_after_s=42)
    async with fcm_of(service) as fcm:
        await a_retry_then_delivered(fcm, device(), seconds=42)
    assert len(service.received) == 1


async def test_a_service_account_the_token_endpoint_does_not_know_is_a_final_failure() -> None:
    service = FcmService()
    async with fcm_of(service) as fcm:
        # The fake now knows another account: the provider's JWT is signed by the wrong key.
        other = json.loads(service.service_account)
        other["client_email"] = "someone-else@astrocoffee-dev.iam.gserviceaccount.com"
        service.service_account = json.dumps(other)
        outcome = await fcm.send(device(), points_earned())
    assert isinstance(outcome, Failed) and not outcome.retryable
    assert "invalid_grant" in outcome.reason
    assert service.received == []


async def test_a_revoked_access_token_is_replaced_on_the_next_send() -> None:
    service = FcmService()
    async with fcm_of(service) as fcm:
        assert await fcm.send(device(), points_earned()) == Delivered()
        service.access_tokens.clear()
        refused = await fcm.send(device(), points_earned())
        again = await fcm.send(device(), points_earned())
    assert isinstance(refused, Failed) and refused.retryable and "401" in refused.reason
    assert again == Delivered()
    assert service.grants == 2
