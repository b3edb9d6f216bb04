"""``points.expiring``: fed by the daily notices' run on the member's local morning, for every
member with points expiring (a device or not), once per member and expiry date; its body
validates against the OpenAPI document's ``webhooks``."""

from __future__ import annotations

import uuid

import jsonschema
import msgspec
import time_machine

from backend.loyalty.rules import ProgramRules, publish_rules
from backend.partners.delivery import webhook_id
from backend.partners.feed import feed_partners
from backend.partners.payloads import BODIES
from backend.push.scheduled_kinds import queue_daily_notices
from db import sql
from tests.backend.partners.conftest import Scene, deliveries
from tests.backend.partners.test_enrolments import _body_schema
from tests.backend.push.test_scheduled_kinds import GRANTED, utc
from tests.factories import grant


async def test_expiring_points_reach_the_partner_once_per_date(scene: Scene) -> None:
    await scene.register("points.expiring", "points.expired")
    schema = await _body_schema(scene, "points.expiring")
    with time_machine.travel(GRANTED, tick=True):
        await publish_rules(ProgramRules(points_expire_after_days=10), staff_id=uuid.uuid4())
        member = await scene.member()  # no device: partners hear of it all the same
        zone = await scene.client.patch(
            "/v1/me", headers=member.headers, json={"time_zone": "Europe/Kaliningrad"}
        )
        assert zone.status_code == 200, zone.text
        await grant(member.member_id, 21)
    with time_machine.travel(utc(14, 8, 59), tick=True):
        assert await queue_daily_notices() == 0  # 10:59 in Kaliningrad
    with time_machine.travel(utc(14, 9, 1), tick=True):
        assert await queue_daily_notices() == 1
        assert await queue_daily_notices() == 0
        await scene.deliver()
    with time_machine.travel(utc(15, 9, 1), tick=True):
        assert await queue_daily_notices() == 0  # the next morning: the same date, not again
    queued = await deliveries(member.member_id)
    assert [d["type"] for d in queued] == ["points.expiring"]
    (body,) = scene.receiver.bodies
    assert body["type"] == "points.expiring"
    assert body["data"]["points"] == 21 and body["data"]["expires_on"] == "2027-03-20"
    assert body["data"]["member_id"] == member.member_id and "member" not in body["data"]
    jsonschema.validate(body, schema, cls=jsonschema.Draft202012Validator)
    (raw,) = [d.raw for d in scene.receiver.received.values()]
    msgspec.json.decode(raw, type=BODIES["points.expiring"])


async def test_points_expiring_waits_behind_the_member_event_of_its_seq(scene: Scene) -> None:
    """Its seq is the feed's position, the seq of the member's last event queued: while that
    event's delivery is pending (failing), points.expiring waits behind it as the later one."""
    await scene.register("points.expiring", "sale.completed")
    with time_machine.travel(GRANTED, tick=True):
        await publish_rules(ProgramRules(points_expire_after_days=10), staff_id=uuid.uuid4())
        member = await scene.member()
        zone = await scene.client.patch(
            "/v1/me", headers=member.headers, json={"time_zone": "Europe/Kaliningrad"}
        )
        assert zone.status_code == 200, zone.text
        await scene.sell(member)
        await feed_partners()
        (sale,) = await deliveries(member.member_id)
        (position,) = await sql.fetch(
            "SELECT seq FROM partner_feed_position WHERE member = {member}",
            member=uuid.UUID(member.member_id),
        )
        assert sale["seq"] == position["seq"]  # the sale's event is the last one read
    scene.receiver.fail_ids = [webhook_id(sale["id"])]
    with time_machine.travel(utc(14, 9, 1), tick=True):
        assert await queue_daily_notices() == 1
        await scene.deliver()
        queued = await deliveries(member.member_id)
        assert {d["type"]: (d["seq"], d["status"]) for d in queued} == {
            "sale.completed": (sale["seq"], "pending"),
            "points.expiring": (sale["seq"], "pending"),
        }
        assert scene.receiver.bodies == []
        scene.receiver.fail_ids = []
        await scene.deliver()
    assert [body["type"] for body in scene.receiver.bodies] == ["sale.completed", "points.expiring"]
