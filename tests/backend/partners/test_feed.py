"""The feed: committed member events become deliveries once each, for the endpoints that
subscribe and were there when the event happened; old delivered ones are purged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backend.partners.feed import KEEP_DELIVERED, feed_partners
from db import sql
from db.tables import PartnerDelivery
from tests.backend.partners.conftest import ENDPOINTS, Scene, deliveries


async def test_each_event_is_queued_once_however_often_the_feed_runs(scene: Scene) -> None:
    await scene.register("sale.completed", "points.earned")
    member = await scene.one_sale()
    assert await feed_partners() == 2
    assert await feed_partners() == 0
    await scene.sell(member)
    assert await feed_partners() == 2
    queued = await deliveries(member.member_id)
    assert [d["type"] for d in queued] == ["points.earned", "sale.completed"] * 2
    assert [d["seq"] for d in queued] == sorted({d["seq"] for d in queued})


async def test_what_happened_before_registration_or_while_disabled_is_not_sent(
    scene: Scene,
) -> None:
    await scene.one_sale()  # no endpoint yet
    endpoint_id = (await scene.register("sale.completed"))["endpoint"]["id"]
    assert await feed_partners() == 0
    response = await scene.client.patch(
        f"{ENDPOINTS}/{endpoint_id}", json={"enabled": False}, headers=scene.admin.headers
    )
    assert response.status_code == 200, response.text
    await scene.one_sale()
    assert await feed_partners() == 0
    await scene.client.patch(
        f"{ENDPOINTS}/{endpoint_id}", json={"enabled": True}, headers=scene.admin.headers
    )
    await scene.one_sale()
    assert await feed_partners() == 1


async def test_deliveries_delivered_long_ago_are_purged(scene: Scene) -> None:
    await scene.register("sale.completed")
    await scene.one_sale()
    await scene.one_sale()
    await scene.deliver()
    await scene.one_sale()
    await feed_partners()  # one still pending
    old, recent = (await deliveries())[:2]
    now = datetime.now(UTC)
    await PartnerDelivery.update(
        {PartnerDelivery.delivered_at: now - KEEP_DELIVERED - timedelta(seconds=1)}
    ).where(PartnerDelivery.id == old["id"])

    await feed_partners(now=now)

    left = {d["id"]: d["status"] for d in await deliveries()}
    assert old["id"] not in left
    assert left[recent["id"]] == "delivered"
    assert sorted(left.values()) == ["delivered", "pending"]


async def test_an_erasure_reaches_the_partners_that_subscribe(scene: Scene) -> None:
    await scene.register("member.erased", "sale.completed")
    member = await scene.one_sale()
    erased = await scene.client.post(
        f"/v1/admin/members/{member.member_id}/erasure",
        json={"reason": "written request"},
        headers=scene.admin.headers,
    )
    assert erased.status_code == 200, erased.text

    await scene.deliver()

    kinds = [body["type"] for body in scene.receiver.bodies]
    assert kinds == ["sale.completed", "member.erased"]
    erasure = scene.receiver.bodies[-1]["data"]
    assert erasure["member_id"] == member.member_id and erasure["erasure_id"]
    assert member.phone not in str(scene.receiver.bodies)


async def test_a_run_counts_the_deliveries_it_inserted_not_those_already_there(
    scene: Scene,
) -> None:
    await scene.register("sale.completed", "points.earned")
    member = await scene.one_sale()
    assert await feed_partners() == 2
    # The run's position lost (a crash before it was kept): the same events are read again,
    # and their deliveries, already queued, are not counted (the feed's metric, its report).
    await sql.fetch("DELETE FROM partner_feed_position")
    await sql.fetch("UPDATE partner_feed_mark SET read_until = read_until - interval '1 hour'")
    assert await feed_partners() == 0
    assert len(await deliveries(member.member_id)) == 2
