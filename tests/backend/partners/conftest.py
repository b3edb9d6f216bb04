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
from tests.conftest import LiveServer, serving
from tests.factories import LoggedInMember, SignedInStaff, Till, log_in, open_till, sell

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


@dataclass
class Scene:
    """A partner's receiver, an admin to register its endpoint, a till to sell at."""

    client: httpx.AsyncClient
    live_server: LiveServer
    admin: SignedInStaff
    partner: Partner
    sender: PartnerClient
    till: Till

    @property
    def receiver(self) -> PartnerReceiver:
        return self.partner.receiver

    async def register(self, *types: str, **more: Any) -> dict[str, Any]:
        return await register(self.client, self.admin, self.partner, *types, **more)

    async def member(self) -> LoggedInMember:
        return await log_in(self.client, self.live_server.sms)

    async def sell(self, *buyers: LoggedInMember) -> None:
        for buyer in buyers:
            assert (await sell(self.client, self.till, buyer)).status_code == 201

    async def one_sale(self) -> LoggedInMember:
        """A new member's sale; the member."""
        buyer = await self.member()
        await self.sell(buyer)
        return buyer

    async def deliver(self, now: datetime | None = None) -> None:
        await deliver_all(self.sender, now=now)

    async def endpoint(self, endpoint_id: str) -> dict[str, Any]:
        response = await self.client.get(f"{ENDPOINTS}/{endpoint_id}", headers=self.admin.headers)
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found


@pytest.fixture
async def scene(
    client: httpx.AsyncClient,
    live_server: LiveServer,
    admin: SignedInStaff,
    partner: Partner,
    partner_client: PartnerClient,
) -> Scene:
    return Scene(client, live_server, admin, partner, partner_client, await open_till())
