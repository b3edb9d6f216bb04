"""``member.enrolled``: read from the member table by the partner feed, queued once per
endpoint with ``seq`` 0 so that a partner hears of the member before their first events, with
personal data only for an endpoint allowed it; its body validates against the OpenAPI
document's ``webhooks``."""

from __future__ import annotations

from typing import Any

import jsonschema
import msgspec

from backend.partners.feed import feed_partners
from backend.partners.payloads import BODIES
from tests.backend.partners.conftest import Scene, deliveries


async def _body_schema(scene: Scene, kind: str) -> dict[str, Any]:
    document = (await scene.client.get("/schema/openapi.json")).json()
    body = document["webhooks"][kind]["post"]["requestBody"]["content"]["application/json"]
    return {**body["schema"], "components": document["components"]}


async def test_an_enrolment_reaches_the_partner_first_and_once(scene: Scene) -> None:
    await scene.register("member.enrolled", "points.earned")
    member = await scene.one_sale()
    assert await feed_partners() == 2
    assert await feed_partners() == 0  # read again: nothing twice
    queued = await deliveries(member.member_id)
    assert [(d["type"], d["seq"]) for d in queued] == [("member.enrolled", 0), ("points.earned", 1)]

    await scene.deliver()
    bodies = scene.receiver.bodies
    assert [body["type"] for body in bodies] == ["member.enrolled", "points.earned"]
    enrolled = bodies[0]
    assert enrolled["data"] == {"member_id": member.member_id, "seq": 0}  # no personal data
    jsonschema.validate(
        enrolled,
        await _body_schema(scene, "member.enrolled"),
        cls=jsonschema.Draft202012Validator,
    )
    raw = [d.raw for d in scene.receiver.received.values() if d.body["type"] == "member.enrolled"]
    msgspec.json.decode(raw[0], type=BODIES["member.enrolled"])


async def test_who_enrolled_goes_only_to_an_endpoint_allowed_personal_data(scene: Scene) -> None:
    await scene.member()  # before any endpoint: not sent
    await scene.register("member.enrolled", personal_data_allowed=True)
    member = await scene.member()
    await scene.deliver()
    bodies = scene.receiver.bodies
    assert len(bodies) == 1
    data = bodies[0]["data"]
    assert data["member_id"] == member.member_id
    assert data["member"]["card_number"] == member.card_number
    jsonschema.validate(
        bodies[0], await _body_schema(scene, "member.enrolled"), cls=jsonschema.Draft202012Validator
    )


async def test_an_endpoint_not_subscribed_gets_no_enrolments(scene: Scene) -> None:
    await scene.register("points.earned")
    member = await scene.one_sale()
    assert await feed_partners() == 1
    assert [d["type"] for d in await deliveries(member.member_id)] == ["points.earned"]
