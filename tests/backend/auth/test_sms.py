from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from backend.auth.sms import HttpSmsSender
from backend.errors import ServiceUnavailable
from devkit.fakes.sms_gateway import SmsGateway
from devkit.ports import free_port
from tests.conftest import serving


@pytest.fixture
async def gateway() -> AsyncIterator[tuple[SmsGateway, str]]:
    fake = SmsGateway()
    async with serving(fake.app()) as address:
        yield fake, f"http://{address}/send"


async def test_a_code_is_sent_with_the_token(gateway: tuple[SmsGateway, str]) -> None:
    fake, url = gateway
    sender = HttpSmsSender(url=url, token=fake.token)
    await sender.send(phone="+79990001122", code="123456")
    await sender.aclose()
    assert len(fake.received) == 1
    assert fake.received[0]["body"]["to"] == "+79990001122"
    assert "123456" in fake.received[0]["body"]["text"]
    assert fake.received[0]["auth"] == "Bearer gateway-token"


async def test_server_errors_are_retried_with_the_same_idempotency_key(
    gateway: tuple[SmsGateway, str],
) -> None:
    fake, url = gateway
    fake.fail_next = 2
    sender = HttpSmsSender(url=url, token=fake.token, attempts=3)
    await sender.send(phone="+79990001122", code="123456")
    await sender.aclose()
    keys = {r["key"] for r in fake.received}
    assert len(fake.received) == 3
    assert len(keys) == 1  # one message, however many tries
    assert fake.delivered_keys == keys


async def test_client_errors_are_not_retried(gateway: tuple[SmsGateway, str]) -> None:
    fake, url = gateway
    sender = HttpSmsSender(url=url, token="wrong", attempts=3)
    with pytest.raises(ServiceUnavailable):
        await sender.send(phone="+79990001122", code="123456")
    await sender.aclose()
    assert len(fake.received) == 1


async def test_an_unreachable_gateway_is_a_503_not_a_crash() -> None:
    sender = HttpSmsSender(url=f"http://127.0.0.1:{free_port()}/send", token="t", attempts=2)
    with pytest.raises(ServiceUnavailable):
        await sender.send(phone="+79990001122", code="123456")
    await sender.aclose()
