"""The partner webhooks in the app's OpenAPI 3.1 document: its ``webhooks`` object names each
event type with the request partners receive (the three Standard Webhooks headers and the
body of ``backend.partners.payloads``), so a partner generates its receiver from the same
document as the rest of the API."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar.enums import ParamType
from litestar.openapi.spec import (
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Parameter,
    PathItem,
    Reference,
    RequestBody,
    Schema,
)

from backend.partners.events import EVENT_TYPES
from backend.partners.payloads import BODIES

PREFIX = "PartnerWebhook"
_REFS = "#/components/schemas/"
_HEADERS = {
    "webhook-id": "The delivery's id (msg_...): the same on every attempt; a receiver that "
    "has it already answers 2xx and ignores it.",
    "webhook-timestamp": "When this attempt was signed (Unix seconds); refuse it when more "
    "than 5 minutes off.",
    "webhook-signature": "v1,<base64 HMAC-SHA256 of '<webhook-id>.<webhook-timestamp>.<body>'>"
    " under the endpoint's secret (the base64 after whsec_); space-separated, one per secret "
    "while a rotated-out secret still signs (24 hours).",
}
_KEYS = {
    "anyOf": "any_of",
    "additionalProperties": "additional_properties",
    "maxLength": "max_length",
    "minLength": "min_length",
}


def partner_webhooks() -> tuple[dict[str, PathItem | Reference], dict[str, Schema]]:
    """The ``webhooks`` object and the component schemas it refers to."""
    bodies, components = msgspec.json.schema_components(
        list(BODIES.values()), ref_template=_REFS + PREFIX + "{name}"
    )
    schemas = {PREFIX + name: _schema(schema) for name, schema in components.items()}
    webhooks: dict[str, PathItem | Reference] = {
        name: PathItem(post=_operation(name, body))
        for name, body in zip(BODIES, bodies, strict=True)
    }
    return webhooks, schemas


def _operation(name: str, body: dict[str, Any]) -> Operation:
    return Operation(
        summary=f"{name}: {EVENT_TYPES[name]}",
        operation_id=f"partner_webhook_{name.replace('.', '_')}",
        tags=["partner webhooks"],
        parameters=[
            Parameter(
                name=header,
                param_in=ParamType.HEADER,
                required=True,
                description=description,
                schema=Schema(type=OpenAPIType.STRING),
            )
            for header, description in _HEADERS.items()
        ],
        request_body=RequestBody(
            required=True,
            content={"application/json": OpenAPIMediaType(schema=_schema(body))},
        ),
        responses={
            "200": OpenAPIResponse(description="Any 2xx: received (the body is not read)."),
            "410": OpenAPIResponse(description="Gone: the endpoint is disabled at once."),
            "429": OpenAPIResponse(
                description="Too many: retried after the Retry-After header (seconds or a "
                "date), else with backoff; other answers are retried with backoff."
            ),
        },
    )


def _schema(json_schema: dict[str, Any]) -> Any:
    """A JSON Schema (as msgspec writes it) as Litestar's spec objects."""
    if "$ref" in json_schema:
        return Reference(ref=json_schema["$ref"])
    values: dict[str, Any] = {}
    for key, value in json_schema.items():
        name = _KEYS.get(key, key)
        if key == "type":
            value = OpenAPIType(value)
        elif key == "properties":
            value = {prop: _schema(schema) for prop, schema in value.items()}
        elif key in ("anyOf", "items"):
            value = [_schema(s) for s in value] if key == "anyOf" else _schema(value)
        values[name] = value
    return Schema(**values)
