"""What the partner webhook tests share: a receiver served for real, an endpoint registered
through the admin API, and the feed and worker run to the end."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from backend.accounting.outbox import DeliveryPolicy as Backoff
from backend.partners.addresses import AddressPolicy
from backend.partners.delivery import DeliveryPolicy, PartnerClient, deliver_due
from backend.partners.feed import feed_partners
from db.tables import PartnerDelivery
from devkit.fakes.partner_receiver import PartnerReceiver
from tests.conftest import serving
from tests.factories import SignedInStaff

# No backoff: a failed delivery is due again at once (the clock is the test's ``now``).
QUICK = DeliveryPolicy(backoff=Backoff(backoff_base_s=0, backoff_cap_s=0))
ENDPOINTS = "/v1/admin/partner-webhooks/endpoints"


@dataclass
class Partner:
    receiver: PartnerReceiver
    url: str


@pytest.fixture
async def partner() -> AsyncIterator[Partner]:
    receiver = PartnerReceiver()
    async with serving(receiver.app()) as address:
        yield Partner(receiver=receiver, url=f"http://{address}/hooks")


@pytest.fixture
async def partner_client() -> AsyncIterator[PartnerClient]:
    client = PartnerClient(addresses=AddressPolicy.for_environment("test"), timeout_s=2)
    yield client
    await client.aclose()


async def register(
    client: httpx.AsyncClient,
    admin: SignedInStaff,
    partner: Partner,
    *types: str,
    **more: Any,
) -> dict[str, Any]:
    """An endpoint for ``partner``'s receiver, which learns its secret."""
    body = {"url": partner.url, "event_types": list(types), **more}
    response = await client.post(ENDPOINTS, json=body, headers=admin.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    partner.receiver.secret = created["secret"]
    return created


async def deliver_all(
    client: PartnerClient, *, now: datetime | None = None, policy: DeliveryPolicy = QUICK
) -> None:
    """Feed what the streams hold, then deliver at ``now`` until a round delivers nothing
    more (failing deliveries, due again at once without backoff, fail once a round)."""
    now = now or datetime.now(UTC)
    await feed_partners(now=now)
    for _ in range(100):
        before = await PartnerDelivery.count().where(PartnerDelivery.status == "delivered")
        if not await deliver_due(client, policy, now=now):
            return
        if before == await PartnerDelivery.count().where(PartnerDelivery.status == "delivered"):
            return
    raise AssertionError("deliveries never settle")


async def deliveries(member_id: str | None = None) -> list[dict[str, Any]]:
    query = PartnerDelivery.select().order_by(PartnerDelivery.member).order_by(PartnerDelivery.seq)
    if member_id is not None:
        query = query.where(PartnerDelivery.member == uuid.UUID(member_id))
    return list(await query)
