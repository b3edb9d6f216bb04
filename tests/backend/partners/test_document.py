"""The partner webhooks in the served OpenAPI 3.1 document (its ``webhooks`` object): every
event type, its three Standard Webhooks headers, and a body schema that real deliveries
validate against (``jsonschema``, with the document's own component schemas)."""

from __future__ import annotations

from typing import Any

import httpx
import jsonschema
import msgspec

from backend.partners.events import EVENT_TYPES
from backend.partners.payloads import BODIES
from tests.backend.partners.conftest import Scene


async def _document(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


async def test_every_event_type_is_documented_with_its_headers(client: httpx.AsyncClient) -> None:
    document = await _document(client)
    assert document["openapi"].startswith("3.1")
    assert set(document["webhooks"]) == set(EVENT_TYPES) == set(BODIES)
    for name, item in document["webhooks"].items():
        operation = item["post"]
        headers = {p["name"]: p for p in operation["parameters"] if p["in"] == "header"}
        assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
        assert all(header["required"] for header in headers.values())
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        ref = body["$ref"].removeprefix("#/components/schemas/")
        schema = document["components"]["schemas"][ref]
        assert schema["properties"]["type"] == {"enum": [name]}


async def test_delivered_bodies_validate_against_the_document(scene: Scene) -> None:
    await scene.register(*EVENT_TYPES, personal_data_allowed=True)
    await scene.one_sale()
    await scene.deliver()
    document = await _document(scene.client)

    delivered = scene.receiver.received.values()
    assert {d.body["type"] for d in delivered} >= {"sale.completed", "points.earned"}
    for delivery in delivered:
        kind = delivery.body["type"]
        body_schema = document["webhooks"][kind]["post"]["requestBody"]["content"]
        schema = {**body_schema["application/json"]["schema"], "components": document["components"]}
        jsonschema.validate(delivery.body, schema, cls=jsonschema.Draft202012Validator)
        msgspec.json.decode(delivery.raw, type=BODIES[kind])  # and as the payload types say
