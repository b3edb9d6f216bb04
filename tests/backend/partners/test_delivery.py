"""Partner webhooks end to end: sales at a real till, the feed reading the committed member
streams, the worker posting to a real receiver that checks every signature; each body also
verified here by the ``standardwebhooks`` package."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from standardwebhooks import Webhook

from backend.partners.delivery import PartnerClient, deliver_due, webhook_id
from db.tables import PartnerDelivery, PartnerEndpoint
from tests.backend.audit.support import entries
from tests.backend.partners.conftest import (
    ENDPOINTS,
    QUICK,
    Partner,
    deliver_all,
    deliveries,
    register,
)
from tests.conftest import LiveServer
from tests.factories import LoggedInMember, SignedInStaff, log_in, open_till, sell


async def _members(client: httpx.AsyncClient, live_server: LiveServer) -> list[LoggedInMember]:
    return [await log_in(client, live_server.sms) for _ in range(2)]


def _by_member(partner: Partner) -> dict[str, list[tuple[int, str]]]:
    """(seq, type) of what the receiver got, per member, in arrival order."""
    found: dict[str, list[tuple[int, str]]] = {}
    for body in partner.receiver.bodies:
        found.setdefault(body["data"]["member_id"], []).append((body["data"]["seq"], body["type"]))
    return found


async def test_sales_reach_the_partner_signed_and_in_order_per_member(
    client: httpx.AsyncClient,
    live_server: LiveServer,
    admin: SignedInStaff,
    partner: Partner,
    partner_client: PartnerClient,
) -> None:
    created = await register(client, admin, partner, "sale.completed", "points.earned")
    till = await open_till()
    a, b = await _members(client, live_server)
    for member in (a, b, a):
        assert (await sell(client, till, member)).status_code == 201

    await deliver_all(partner_client)

    got = _by_member(partner)
    for member, sales in ((a, 2), (b, 1)):
        events = got[member.member_id]
        assert [seq for seq, _ in events] == sorted(seq for seq, _ in events)
        assert [kind for _, kind in events] == ["points.earned", "sale.completed"] * sales
    for delivery in partner.receiver.received.values():
        body = Webhook(created["secret"]).verify(delivery.raw, delivery.headers)
        assert body["data"]["purchase_id"]
        assert delivery.webhook_id.startswith("msg_")
    assert partner.receiver.refused_signatures == 0
    # Nothing personal went out: the endpoint was not allowed it.
    for delivery in partner.receiver.received.values():
        for member in (a, b):
            assert member.phone.encode() not in delivery.raw
            assert member.card_number.encode() not in delivery.raw
            assert "member" not in delivery.body["data"]


async def test_personal_data_goes_only_where_it_is_allowed(
    client: httpx.AsyncClient,
    live_server: LiveServer,
    admin: SignedInStaff,
    partner: Partner,
    partner_client: PartnerClient,
) -> None:
    await register(client, admin, partner, "sale.completed", personal_data_allowed=True)
    till = await open_till()
    member = await log_in(client, live_server.sms)
    assert (await sell(client, till, member)).status_code == 201

    await deliver_all(partner_client)

    (body,) = partner.receiver.bodies
    assert body["data"]["member"]["phone"] == member.phone
    assert body["data"]["member"]["card_number"] == member.card_number


async def test_an_outage_loses_nothing_and_repeats_only_the_same_webhook_ids(
    client: httpx.AsyncClient,
    live_server: LiveServer,
    admin: SignedInStaff,
    partner: Partner,
    partner_client: PartnerClient,
) -> None:
    await register(client, admin, partner, "sale.completed", "points.earned")
    till = await open_till()
    a, b = await _members(client, live_server)
    partner.receiver.down = True
    for member in (a, b, a, b):
        assert (await sell(client, till, member)).status_code == 201
    await deliver_all(partner_client)  # every attempt answered 503
    assert partner.receiver.received == {}
    assert {d["status"] for d in await deliveries()} == {"pending"}

    partner.receiver.down = False
    await deliver_all(partner_client)

    queued = await deliveries()
    assert len(queued) == 8 and {d["status"] for d in queued} == {"delivered"}
    assert set(partner.receiver.received) == {webhook_id(d["id"]) for d in queued}
    # Retries came with the ids of deliveries, never a new id for the same event.
    assert set(partner.receiver.attempts) == set(partner.receiver.received)
    got = _by_member(partner)
    for member in (a, b):
        seqs = [seq for seq, _ in got[member.member_id]]
        assert seqs == sorted(seqs) and len(seqs) == 4


async def test_a_failing_event_holds_its_members_later_events_only(
    client: httpx.AsyncClient,
    live_server: LiveServer,
    admin: SignedInStaff,
    partner: Partner,
    partner_client: PartnerClient,
) -> None:
    await register(client, admin, partner, "sale.completed")
    till = await open_till()
    a, b = await _members(client, live_server)
    for member in (a, a, b):
        assert (await sell(client, till, member)).status_code == 201
    await deliver_all(partner_client, now=datetime.now(UTC) - timedelta(hours=1))  # queue only
    first_of_a = (await deliveries(a.member_id))[0]
    partner.receiver.fail_ids = [webhook_id(first_of_a["id"])]

    await deliver_all(partner_client)

    assert [d["status"] for d in await deliveries(a.member_id)] == ["pending", "pending"]
    assert [d["status"] for d in await deliveries(b.member_id)] == ["delivered"]
    held = (await deliveries(a.member_id))[1]
    assert held["attempts"] == 0  # never sent before the one ahead of it

    partner.receiver.fail_ids = []
    await deliver_all(partner_client)
    assert [seq for seq, _ in _by_member(partner)[a.member_id]] == [
        d["seq"] for d in await deliveries(a.member_id)
    ]


async def test_429_retry_after_is_honoured(
    client: httpx.AsyncClient,
    live_server: LiveServer,
    admin: SignedInStaff,
    partner: Partner,
    partner_client: PartnerClient,
) -> None:
    await register(client, admin, partner, "sale.completed")
    till = await open_till()
    member = await log_in(client, live_server.sms)
    assert (await sell(client, till, member)).status_code == 201
    partner.receiver.throttle_next = 1
    partner.receiver.retry_after_s = 120
    start = datetime.now(UTC)

    await deliver_all(partner_client, now=start)
    (waiting,) = await deliveries()
    assert waiting["last_status"] == 429
    assert waiting["next_attempt_at"] == start + timedelta(seconds=120)

    assert await deliver_due(partner_client, QUICK, now=start + timedelta(seconds=119)) == 0
    assert await deliver_due(partner_client, QUICK, now=start + timedelta(seconds=120)) == 1
    assert len(partner.receiver.received) == 1
    assert partner.receiver.attempts == [webhook_id(waiting["id"])] * 2


async def test_a_long_failure_run_disables_the_endpoint_and_tells_the_admins(
    client: httpx.AsyncClient,
    live_server: LiveServer,
    admin: SignedInStaff,
    partner: Partner,
    partner_client: PartnerClient,
) -> None:
    created = await register(client, admin, partner, "sale.completed")
    endpoint_id = created["endpoint"]["id"]
    till = await open_till()
    member = await log_in(client, live_server.sms)
    assert (await sell(client, till, member)).status_code == 201
    partner.receiver.down = True
    start = datetime.now(UTC)
    await deliver_all(partner_client, now=start)
    await deliver_all(partner_client, now=start + timedelta(days=4))
    endpoint = (await client.get(f"{ENDPOINTS}/{endpoint_id}", headers=admin.headers)).json()
    assert endpoint["enabled"] and endpoint["failing_since"] is not None

    await deliver_all(partner_client, now=start + timedelta(days=5))

    endpoint = (await client.get(f"{ENDPOINTS}/{endpoint_id}", headers=admin.headers)).json()
    assert not endpoint["enabled"] and "failed since" in endpoint["disabled_reason"]
    (notice,) = await entries("partner_endpoint.disabled")
    assert str(notice["target_id"]) == endpoint_id
    # Nothing is dropped: enabled again, the partner gets the event.
    partner.receiver.down = False
    response = await client.patch(
        f"{ENDPOINTS}/{endpoint_id}", json={"enabled": True}, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    await deliver_all(partner_client)  # due at once, whatever its backoff said
    assert len(partner.receiver.received) == 1


async def test_410_gone_disables_at_once(
    client: httpx.AsyncClient,
    live_server: LiveServer,
    admin: SignedInStaff,
    partner: Partner,
    partner_client: PartnerClient,
) -> None:
    await register(client, admin, partner, "sale.completed")
    till = await open_till()
    member = await log_in(client, live_server.sms)
    assert (await sell(client, till, member)).status_code == 201
    partner.receiver.gone = True

    await deliver_all(partner_client)

    (endpoint,) = await PartnerEndpoint.select(
        PartnerEndpoint.enabled, PartnerEndpoint.disabled_reason
    )
    assert endpoint == {"enabled": False, "disabled_reason": "the endpoint answered 410 Gone"}
    assert len(partner.receiver.attempts) == 1


async def test_replay_sends_the_same_webhook_id_again(
    client: httpx.AsyncClient,
    live_server: LiveServer,
    admin: SignedInStaff,
    partner: Partner,
    partner_client: PartnerClient,
) -> None:
    created = await register(client, admin, partner, "sale.completed")
    endpoint_id = created["endpoint"]["id"]
    till = await open_till()
    member = await log_in(client, live_server.sms)
    assert (await sell(client, till, member)).status_code == 201
    await deliver_all(partner_client)
    listed = await client.get(f"{ENDPOINTS}/{endpoint_id}/deliveries", headers=admin.headers)
    assert listed.status_code == 200, listed.text
    (delivery,) = listed.json()["items"]
    assert delivery["status"] == "delivered" and delivery["type"] == "sale.completed"

    replayed = await client.post(
        f"{ENDPOINTS}/{endpoint_id}/deliveries/{delivery['id']}/replay", headers=admin.headers
    )
    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["status"] == "pending"
    await deliver_all(partner_client)

    assert partner.receiver.attempts == [delivery["webhook_id"]] * 2
    (row,) = await PartnerDelivery.select(PartnerDelivery.status, PartnerDelivery.attempts)
    assert row == {"status": "delivered", "attempts": 1}
    assert await entries("partner_delivery.replayed")


async def test_a_rotated_secret_signs_beside_the_new_one_for_a_day(
    client: httpx.AsyncClient,
    live_server: LiveServer,
    admin: SignedInStaff,
    partner: Partner,
    partner_client: PartnerClient,
) -> None:
    created = await register(client, admin, partner, "sale.completed")
    endpoint_id, old = created["endpoint"]["id"], created["secret"]
    rotated = await client.post(f"{ENDPOINTS}/{endpoint_id}/secret/rotate", headers=admin.headers)
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new != old and rotated.json()["endpoint"]["previous_secret_until"]
    partner.receiver.secret = new
    till = await open_till()
    member = await log_in(client, live_server.sms)
    for _ in range(2):
        assert (await sell(client, till, member)).status_code == 201

    await deliver_all(partner_client)  # the first sale: within the day
    first: Any = next(iter(partner.receiver.received.values()))
    for secret in (old, new):
        Webhook(secret).verify(first.raw, first.headers)
    assert first.headers["webhook-signature"].count("v1,") == 2
