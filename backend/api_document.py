"""The OpenAPI document as a client developer builds from it, completed once at start.

Litestar generates each operation's parameters, bodies and success responses from the
handlers' types. What it cannot know is how this app answers everything else, so a client
generated from its document alone would send no API key, omit the Idempotency-Key and choke
on the first error. Here, from what each route already declares, every operation gets:

- its security: ``BearerToken`` for members and staff, ``ApiKey`` (``X-Api-Key``) for
  terminals, none for anonymous routes (from ``backend.auth.access.allow``);
- the real rules of its headers (``Idempotency-Key``: required, 1-255 printable characters;
  the payment webhook's ``X-Signature``);
- every ``application/problem+json`` answer it can give, one per status, whose ``code`` is an
  enum of exactly the codes that status can carry on that route. Most follow from the route's
  shape (authenticated: 401/403; a write: 400/413/415; a path parameter: 404; an
  Idempotency-Key: 409/422; a rate-limited router: 429; every route: 503). What only the
  service knows is declared beside the route with ``answers(...)`` (``backend.http``).

``tests/contract`` holds the document to account: every answer the test suite provokes is
checked against it (status, problem code, body shape), and a client generated from it by
openapi-python-client runs the README's flow.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Final

from litestar import Litestar
from litestar.enums import ParamType
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.spec import (
    Components,
    OpenAPI,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Parameter,
    Reference,
    Schema,
    SecurityScheme,
)
from litestar.routes import HTTPRoute

from backend import errors
from backend.auth.access import ALLOW_KEY
from backend.auth.callers import STAFF_ROLES, Role
from backend.auth.middleware import API_KEY_HEADER
from backend.http import ANSWERS_KEY, SIGNED, Answer, answers
from backend.idempotency import MAX_KEY_LENGTH
from backend.ops.http_protocol import REFUSALS
from backend.orders.webhook_signature import TOLERANCE_S
from backend.partners.document import partner_webhooks
from backend.problems import CODES_BY_STATUS, PROBLEM_JSON, TYPE_BASE
from backend.rate_limits import RateLimitMiddleware

BEARER: Final = "BearerToken"
API_KEY: Final = "ApiKey"
PROBLEM: Final = "Problem"
IDEMPOTENCY_HEADER: Final = "Idempotency-Key"
REPLAYED_HEADER: Final = "Idempotent-Replayed"
SIGNATURE_HEADER: Final = "X-Signature"


def _generic(status: int) -> Answer:
    code, title = CODES_BY_STATUS[status]
    return Answer(status, code, title)


UNAVAILABLE: Final = _generic(503)


def _shape_answers(handler: HTTPRouteHandler, operation: Operation) -> Iterator[Answer]:
    """What a route can answer because of what it is, whatever its service does."""
    allowed: frozenset[Role] = handler.opt.get(ALLOW_KEY, frozenset())
    parameters = [p for p in operation.parameters or [] if isinstance(p, Parameter)]
    if Role.ANONYMOUS not in allowed:
        yield _generic(401)
        yield _generic(403)  # roles, and data rules (another store, another member)
    if Role.MEMBER in allowed:
        # A member's token names a member the request then reads: gone, it is a 404.
        yield from answers(errors.MemberNotFound)[ANSWERS_KEY]
    if handler.http_methods & {"POST", "PUT", "PATCH", "DELETE"}:
        yield from (_generic(400), _generic(413), _generic(415))
    if any(p.param_in in ("query", "path") for p in parameters):
        yield _generic(400)
    if any(p.param_in == "path" for p in parameters):
        yield _generic(404)
    if any(p.name == IDEMPOTENCY_HEADER for p in parameters):
        yield _generic(400)
        yield from answers(errors.IdempotentRequestInProgress, errors.IdempotencyKeyReused)[
            ANSWERS_KEY
        ]
    if _rate_limited(handler):
        yield _generic(429)
    yield UNAVAILABLE
    # The server's own bound on the request head (backend.ops.http_protocol), before routing.
    for status, (code, title, _) in REFUSALS.items():
        yield Answer(status, code, title)


def _rate_limited(handler: HTTPRouteHandler) -> bool:
    return any(
        isinstance(middleware, RateLimitMiddleware)
        for layer in handler.ownership_layers
        for middleware in layer.middleware or ()
    )


def _problem_schema() -> Schema:
    text = Schema(type=OpenAPIType.STRING)
    return Schema(
        type=OpenAPIType.OBJECT,
        description="RFC 9457 problem details; `code` is stable and machine-readable.",
        required=["type", "title", "status", "detail", "code"],
        properties={
            "type": Schema(type=OpenAPIType.STRING, description=f"`{TYPE_BASE}<code>`"),
            "title": text,
            "status": Schema(type=OpenAPIType.INTEGER),
            "detail": text,
            "code": text,
            "instance": Schema(type=OpenAPIType.STRING, description="the request's path"),
            "errors": Schema(
                type=OpenAPIType.ARRAY,
                items=Schema(type=OpenAPIType.OBJECT, additional_properties=True),
                description="each invalid field, where the body failed validation",
            ),
            "extra": Schema(
                type=OpenAPIType.OBJECT,
                additional_properties=True,
                description="facts about this error, e.g. `available` for insufficient points",
            ),
        },
    )


def _problem_response(status: int, found: Iterable[Answer]) -> OpenAPIResponse:
    by_code = {answer.code: answer.title for answer in found}
    codes = sorted(by_code)
    listed = "; ".join(f"`{code}`: {by_code[code]}" for code in codes)
    retry: dict[str, OpenAPIHeader | Reference] | None = (
        {"Retry-After": OpenAPIHeader(schema=Schema(type=OpenAPIType.INTEGER), description="s")}
        if status in (429, 503)
        else None
    )
    return OpenAPIResponse(
        description=f"Problem ({listed})",
        headers=retry,
        content={
            PROBLEM_JSON: OpenAPIMediaType(
                schema=Schema(
                    all_of=[Reference(f"#/components/schemas/{PROBLEM}")],
                    properties={"code": Schema(type=OpenAPIType.STRING, enum=list(codes))},
                )
            )
        },
    )


def _security(allowed: frozenset[Role]) -> list[dict[str, list[str]]]:
    if Role.ANONYMOUS in allowed:
        return []
    schemes: list[dict[str, list[str]]] = []
    if allowed & (STAFF_ROLES | {Role.MEMBER}):
        schemes.append({BEARER: []})
    if Role.TERMINAL in allowed:
        schemes.append({API_KEY: []})
    return schemes


def _complete_headers(handler: HTTPRouteHandler, operation: Operation) -> None:
    parameters = list(operation.parameters or [])
    for parameter in parameters:
        if isinstance(parameter, Parameter) and parameter.name == IDEMPOTENCY_HEADER:
            # Optional to the framework so that our own check answers a missing key with a
            # problem saying so; required to every client.
            parameter.required = True
            parameter.schema = Schema(
                type=OpenAPIType.STRING, min_length=1, max_length=MAX_KEY_LENGTH
            )
            parameter.description = (
                f"1-{MAX_KEY_LENGTH} printable characters, unique per operation you mean. The "
                "same key and body replays the stored answer (`Idempotent-Replayed: true`); "
                "the same key with another body is 422; while the first runs, 409. Kept 24 h+."
            )
    if SIGNED.items() <= handler.opt.items():
        parameters.append(
            Parameter(
                name=SIGNATURE_HEADER,
                param_in=ParamType.HEADER,
                required=True,
                schema=Schema(type=OpenAPIType.STRING, pattern=r"^t=\d+,v1=[0-9a-f]{64}"),
                description='`t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`, '
                f"t within {TOLERANCE_S} s of now",
            )
        )
    operation.parameters = parameters or None


def _operations(app: Litestar) -> Iterator[tuple[HTTPRouteHandler, str, str]]:
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if handler.resolve_include_in_schema():
                for method in handler.http_methods:
                    yield handler, route.path_format, method.lower()


def complete_document(app: Litestar) -> OpenAPI:
    """Add to the app's generated document what its routes declare; see the module's doc."""
    document = app.openapi_schema
    components = document.components if isinstance(document.components, Components) else None
    assert components is not None
    components.schemas = {**(components.schemas or {}), PROBLEM: _problem_schema()}
    components.security_schemes = {
        **(components.security_schemes or {}),
        API_KEY: SecurityScheme(
            type="apiKey",
            name=API_KEY_HEADER.title(),
            security_scheme_in="header",
            description="A POS terminal's key: shown once at creation, scoped to one store.",
        ),
    }
    document.security = None  # every operation says its own
    for handler, path, method in _operations(app):
        path_item = (document.paths or {}).get(path)
        operation = getattr(path_item, method, None)
        if not isinstance(operation, Operation):
            continue
        operation.security = _security(handler.opt.get(ALLOW_KEY, frozenset()))
        _complete_headers(handler, operation)
        found = [*_shape_answers(handler, operation), *handler.opt.get(ANSWERS_KEY, ())]
        responses = {
            status: response
            for status, response in (operation.responses or {}).items()
            if not status.startswith("4")  # Litestar's guess: {status_code, detail, extra}
        }
        for status in sorted({answer.status for answer in found} - {int(s) for s in responses}):
            # A status the route documents itself (the readiness probe's 503) keeps its own.
            responses[str(status)] = _problem_response(
                status, [answer for answer in found if answer.status == status]
            )
        _success_headers(handler, operation, responses)
        operation.responses = responses
    # What the platform sends partners (OpenAPI 3.1 ``webhooks``), beside what it answers.
    document.webhooks, partner_schemas = partner_webhooks()
    components.schemas = {**components.schemas, **partner_schemas}
    return document


def _success_headers(
    handler: HTTPRouteHandler, operation: Operation, responses: dict[str, Any]
) -> None:
    """The headers a client reads on a successful answer: replay marker, rate budget."""
    headers: dict[str, OpenAPIHeader | Reference] = {}
    if any(
        isinstance(p, Parameter) and p.name == IDEMPOTENCY_HEADER
        for p in operation.parameters or []
    ):
        headers[REPLAYED_HEADER] = OpenAPIHeader(
            schema=Schema(type=OpenAPIType.STRING, enum=["true"]),
            description="present when this is the stored answer of an earlier request",
        )
    if _rate_limited(handler):
        for name in ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"):
            headers[name] = OpenAPIHeader(
                schema=Schema(type=OpenAPIType.INTEGER), description="IETF draft RateLimit"
            )
    for status, response in responses.items():
        if status.startswith("2") and isinstance(response, OpenAPIResponse) and headers:
            response.headers = {**(response.headers or {}), **headers}
