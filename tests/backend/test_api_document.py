"""What the served OpenAPI document promises a client developer, checked on the document."""

from __future__ import annotations

from typing import Any

import httpx

from backend import errors
from backend.problems import PROBLEM_JSON

METHODS = {"get", "post", "put", "patch", "delete"}


async def _document(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


async def test_every_operation_says_how_to_authenticate(client: httpx.AsyncClient) -> None:
    document = await _document(client)
    schemes = document["components"]["securitySchemes"]
    assert schemes["ApiKey"] == {
        "type": "apiKey",
        "name": "X-Api-Key",
        "in": "header",
        "description": schemes["ApiKey"]["description"],
    }
    assert schemes["BearerToken"]["scheme"] == "Bearer"
    assert "security" not in document  # no blanket rule: each operation says its own
    security = {(m, p): op["security"] for m, p, op in _operations(document)}
    assert security[("POST", "/v1/purchases")] == [{"ApiKey": []}]
    assert security[("GET", "/v1/me")] == [{"BearerToken": []}]
    assert security[("POST", "/v1/auth/otp")] == []
    assert security[("POST", "/v1/webhooks/payments")] == []


async def test_headers_carry_their_real_rules(client: httpx.AsyncClient) -> None:
    document = await _document(client)
    idempotent = 0
    for method, path, operation in _operations(document):
        for parameter in operation.get("parameters", []):
            if parameter["name"] == "Idempotency-Key":
                idempotent += 1
                assert parameter["required"] is True, (method, path)
                assert parameter["schema"] == {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 255,
                }
                created = operation["responses"][next(iter(operation["responses"]))]
                assert "Idempotent-Replayed" in created["headers"], (method, path)
    # purchases, refunds (the till's and staff's), 4 checkout steps, adjustments, orders, redeem
    assert idempotent == 10
    webhook = document["paths"]["/v1/webhooks/payments"]["post"]
    (signature,) = [p for p in webhook["parameters"] if p["name"] == "X-Signature"]
    assert signature["required"] is True


async def test_every_error_answer_is_a_problem_listing_its_codes(
    client: httpx.AsyncClient,
) -> None:
    document = await _document(client)
    listed: set[str] = set()
    for method, path, operation in _operations(document):
        for status, response in operation["responses"].items():
            if status.startswith("2") or (path, status) == ("/health/ready", "503"):
                continue
            content = response["content"]
            assert list(content) == [PROBLEM_JSON], (method, path, status)
            schema = content[PROBLEM_JSON]["schema"]
            assert schema["allOf"] == [{"$ref": "#/components/schemas/Problem"}]
            codes = schema["properties"]["code"]["enum"]
            assert codes, (method, path, status)
            listed.update(codes)
            for code in codes:
                assert f"`{code}`" in response["description"]
        # Litestar's own guess at an error shape is gone everywhere.
        assert "status_code" not in str(operation["responses"]), (method, path)
        assert {"401", "503"} <= set(operation["responses"]) or operation["security"] == [], (
            method,
            path,
        )
    raised = {kind.code for kind in _domain_errors(errors.DomainError)}
    # Every code the services can raise is documented on at least one route.
    assert raised - {"bad_request", "unprocessable"} <= listed


def _domain_errors(kind: type[errors.DomainError]) -> list[type[errors.DomainError]]:
    found = [kind]
    for sub in kind.__subclasses__():
        found += _domain_errors(sub)
    return found


async def test_a_sale_lists_what_a_till_must_handle(client: httpx.AsyncClient) -> None:
    responses = (await _document(client))["paths"]["/v1/purchases"]["post"]["responses"]

    def codes(status: str) -> set[str]:
        return set(
            responses[status]["content"][PROBLEM_JSON]["schema"]["properties"]["code"]["enum"]
        )

    assert codes("404") == {"member_not_found", "card_blocked"}
    assert codes("409") == {"idempotent_request_in_progress", "external_id_reused"}
    assert codes("422") == {
        "idempotency_key_reused",
        "currency_mismatch",
        "redeem_cap_exceeded",
        "insufficient_points",
        "sale_amount_too_large",
    }
    assert codes("429") == {"too_many_requests"}
    assert codes("415") == {"unsupported_media_type"}
    assert "Retry-After" in responses["503"]["headers"]


async def test_the_problem_schema_is_the_problem_the_app_sends(client: httpx.AsyncClient) -> None:
    """The document's Problem is written out by hand; it must name the fields of the msgspec
    ``Problem`` that ``backend.problems`` encodes, and require those without a default."""
    import msgspec

    from backend.problems import Problem

    schema = (await _document(client))["components"]["schemas"]["Problem"]
    fields = msgspec.structs.fields(Problem)
    assert set(schema["properties"]) == {field.name for field in fields}
    required = {f.name for f in fields if f.default is msgspec.NODEFAULT}
    assert set(schema["required"]) == required
