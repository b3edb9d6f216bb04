"""Partner webhooks end to end: sales at a real till, the feed reading the committed member
streams, the worker posting to a real receiver that checks every signature; each body also
verified here by the ``standardwebhooks`` package."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine
from standardwebhooks import Webhook

from backend.partners.delivery import deliver_due, webhook_id
from db.tables import PartnerDelivery, PartnerEndpoint
from tests.backend.audit.support import entries
from tests.backend.partners.conftest import ENDPOINTS, QUICK, Scene, deliveries


def _by_member(scene: Scene) -> dict[str, list[tuple[int, str]]]:
    """(seq, type) of what the receiver got, per member, in arrival order."""
    found: dict[str, list[tuple[int, str]]] = {}
    for body in scene.receiver.bodies:
        found.setdefault(body["data"]["member_id"], []).append((body["data"]["seq"], body["type"]))
    return found


async def test_sales_reach_the_partner_signed_and_in_order_per_member(scene: Scene) -> None:
    created = await scene.register("sale.completed", "points.earned")
    a, b = await scene.member(), await scene.member()
    await scene.sell(a, b, a)

    await scene.deliver()

    got = _by_member(scene)
    for member, sales in ((a, 2), (b, 1)):
        events = got[member.member_id]
        assert [seq for seq, _ in events] == sorted(seq for seq, _ in events)
        assert [kind for _, kind in events] == ["points.earned", "sale.completed"] * sales
    for delivery in scene.receiver.received.values():
        body = Webhook(created["secret"]).verify(delivery.raw, delivery.headers)
        assert body["data"]["purchase_id"]
        assert delivery.webhook_id.startswith("msg_")
        # Nothing personal went out: the endpoint was not allowed it.
        for member in (a, b):
            assert member.phone.encode() not in delivery.raw
            assert member.card_number.encode() not in delivery.raw
        assert "member" not in delivery.body["data"]
    assert scene.receiver.refused_signatures == 0


async def test_personal_data_goes_only_where_it_is_allowed(scene: Scene) -> None:
    await scene.register("sale.completed", personal_data_allowed=True)
    member = await scene.one_sale()

    await scene.deliver()

    (body,) = scene.receiver.bodies
    assert body["data"]["member"]["phone"] == member.phone
    assert body["data"]["member"]["card_number"] == member.card_number


async def test_an_outage_loses_nothing_and_repeats_only_the_same_webhook_ids(
    scene: Scene,
) -> None:
    await scene.register("sale.completed", "points.earned")
    a, b = await scene.member(), await scene.member()
    scene.receiver.down = True
    await scene.sell(a, b, a, b)
    await scene.deliver()  # every attempt answered 503
    assert scene.receiver.received == {}
    assert {d["status"] for d in await deliveries()} == {"pending"}

    scene.receiver.down = False
    await scene.deliver()

    queued = await deliveries()
    assert len(queued) == 8 and {d["status"] for d in queued} == {"delivered"}
    assert set(scene.receiver.received) == {webhook_id(d["id"]) for d in queued}
    # Retries came with the ids of deliveries, never a new id for the same event.
    assert set(scene.receiver.attempts) == set(scene.receiver.received)
    got = _by_member(scene)
    for member in (a, b):
        seqs = [seq for seq, _ in got[member.member_id]]
        assert seqs == sorted(seqs) and len(seqs) == 4


async def test_a_failing_event_holds_its_members_later_events_only(scene: Scene) -> None:
    await scene.register("sale.completed")
    a, b = await scene.member(), await scene.member()
    await scene.sell(a, a, b)
    await scene.deliver(now=datetime.now(UTC) - timedelta(hours=1))  # queued, none due yet
    first_of_a = (await deliveries(a.member_id))[0]
    scene.receiver.fail_ids = [webhook_id(first_of_a["id"])]

    await scene.deliver()

    assert [d["status"] for d in await deliveries(a.member_id)] == ["pending", "pending"]
    assert [d["status"] for d in await deliveries(b.member_id)] == ["delivered"]
    held = (await deliveries(a.member_id))[1]
    assert held["attempts"] == 0  # never sent before the one ahead of it

    scene.receiver.fail_ids = []
    await scene.deliver()
    assert [seq for seq, _ in _by_member(scene)[a.member_id]] == [
        d["seq"] for d in await deliveries(a.member_id)
    ]


async def test_429_retry_after_is_honoured(scene: Scene) -> None:
    await scene.register("sale.completed")
    await scene.one_sale()
    scene.receiver.throttle_next = 1
    scene.receiver.retry_after_s = 120
    start = datetime.now(UTC)

    await scene.deliver(now=start)
    (waiting,) = await deliveries()
    assert waiting["last_status"] == 429
    assert waiting["next_attempt_at"] == start + timedelta(seconds=120)

    assert await deliver_due(scene.sender, QUICK, now=start + timedelta(seconds=119)) == 0
    assert await deliver_due(scene.sender, QUICK, now=start + timedelta(seconds=120)) == 1
    assert len(scene.receiver.received) == 1
    assert scene.receiver.attempts == [webhook_id(waiting["id"])] * 2


async def test_a_long_failure_run_disables_the_endpoint_and_tells_the_admins(
    scene: Scene,
) -> None:
    endpoint_id = (await scene.register("sale.completed"))["endpoint"]["id"]
    await scene.one_sale()
    scene.receiver.down = True
    start = datetime.now(UTC)
    await scene.deliver(now=start)
    await scene.deliver(now=start + timedelta(days=4))
    endpoint = await scene.endpoint(endpoint_id)
    assert endpoint["enabled"] and endpoint["failing_since"] is not None

    await scene.deliver(now=start + timedelta(days=5))

    endpoint = await scene.endpoint(endpoint_id)
    assert not endpoint["enabled"] and "failed since" in endpoint["disabled_reason"]
    (notice,) = await entries("partner_endpoint.disabled")
    assert str(notice["target_id"]) == endpoint_id
    # Nothing is dropped: enabled again, the partner gets the event.
    scene.receiver.down = False
    response = await scene.client.patch(
        f"{ENDPOINTS}/{endpoint_id}", json={"enabled": True}, headers=scene.admin.headers
    )
    assert response.status_code == 200, response.text
    await scene.deliver()  # due at once, whatever its backoff said
    assert len(scene.receiver.received) == 1


async def test_410_gone_disables_at_once(scene: Scene) -> None:
    await scene.register("sale.completed")
    await scene.one_sale()
    scene.receiver.gone = True

    await scene.deliver()

    (endpoint,) = await PartnerEndpoint.select(
        PartnerEndpoint.enabled, PartnerEndpoint.disabled_reason
    )
    assert endpoint == {"enabled": False, "disabled_reason": "the endpoint answered 410 Gone"}
    assert len(scene.receiver.attempts) == 1


async def test_replay_sends_the_same_webhook_id_again(scene: Scene) -> None:
    endpoint_id = (await scene.register("sale.completed"))["endpoint"]["id"]
    await scene.one_sale()
    await scene.deliver()
    listed = await scene.client.get(
        f"{ENDPOINTS}/{endpoint_id}/deliveries", headers=scene.admin.headers
    )
    assert listed.status_code == 200, listed.text
    (delivery,) = listed.json()["items"]
    assert delivery["status"] == "delivered" and delivery["type"] == "sale.completed"

    replayed = await scene.client.post(
        f"{ENDPOINTS}/{endpoint_id}/deliveries/{delivery['id']}/replay",
        headers=scene.admin.headers,
    )
    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["status"] == "pending"
    await scene.deliver()

    assert scene.receiver.attempts == [delivery["webhook_id"]] * 2
    (row,) = await PartnerDelivery.select(PartnerDelivery.status, PartnerDelivery.attempts)
    assert row == {"status": "delivered", "attempts": 1}
    assert await entries("partner_delivery.replayed")


async def test_a_rotated_secret_signs_beside_the_new_one_for_a_day(scene: Scene) -> None:
    created = await scene.register("sale.completed")
    endpoint_id, old = created["endpoint"]["id"], created["secret"]
    rotated = await scene.client.post(
        f"{ENDPOINTS}/{endpoint_id}/secret/rotate", headers=scene.admin.headers
    )
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new != old and rotated.json()["endpoint"]["previous_secret_until"]
    scene.receiver.secret = new
    await scene.one_sale()

    await scene.deliver()

    (delivery,) = scene.receiver.received.values()
    assert delivery.headers["webhook-signature"].count("v1,") == 2
    for secret in (old, new):
        Webhook(secret).verify(delivery.raw, delivery.headers)
    # A day later the old secret no longer signs.
    with time_machine.travel(datetime.now(UTC) + timedelta(hours=24, seconds=1), tick=True):
        await scene.one_sale()
        await scene.deliver()
        latest = list(scene.receiver.received.values())[-1]
        assert latest.webhook_id != delivery.webhook_id
        assert latest.headers["webhook-signature"].count("v1,") == 1
        Webhook(new).verify(latest.raw, latest.headers)
