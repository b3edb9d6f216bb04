"""The one place where errors become HTTP: RFC 9457 ``application/problem+json``."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
import msgspec
from litestar import Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.types import ExceptionHandlersMap
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from backend.errors import DomainError
from backend.http import AnyRequest

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "urn:astrocoffee:problem:"

CODES_BY_STATUS = {
    400: ("validation_failed", "The request is not valid"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Not allowed for this caller"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    413: ("payload_too_large", "The request body is too large"),
    414: ("uri_too_long", "The request URI is too long"),
    415: ("unsupported_media_type", "Unsupported media type"),
    429: ("too_many_requests", "Too many requests"),
    # Answered by the server before routing (backend.ops.http_protocol).
    431: ("request_header_fields_too_large", "The request header fields are too large"),
    503: ("service_unavailable", "A backing service is unavailable"),
}


class Problem(msgspec.Struct, omit_defaults=True):
    type: str
    title: str
    status: int
    detail: str
    code: str
    instance: str | None = None
    errors: list[dict[str, Any]] | None = None
    extra: dict[str, Any] | None = None


def problem_response(
    request: AnyRequest,
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[Problem]:
    problem = Problem(
        type=TYPE_BASE + code,
        title=title,
        status=status,
        detail=detail,
        code=code,
        instance=request.url.path,
        errors=errors,
        extra=extra or None,
    )
    return Response(problem, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _domain(request: AnyRequest, exc: DomainError) -> Response[Problem]:
    return problem_response(
        request,
        status=exc.status,
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        extra=exc.extra,
    )


def _validation(request: AnyRequest, exc: ValidationException) -> Response[Problem]:
    errors = exc.extra if isinstance(exc.extra, list) else None
    return problem_response(
        request,
        status=400,
        code="validation_failed",
        title="The request is not valid",
        detail=exc.detail,
        errors=[e for e in errors or [] if isinstance(e, dict)] or None,
    )


def _http(request: AnyRequest, exc: HTTPException) -> Response[Problem]:
    status = exc.status_code
    code, title = CODES_BY_STATUS.get(status, ("http_error", "HTTP error"))
    if isinstance(exc, NotAuthorizedException):
        code, title = CODES_BY_STATUS[401]
    elif isinstance(exc, PermissionDeniedException):
        code, title = CODES_BY_STATUS[403]
    return problem_response(
        request,
        status=status,
        code=code,
        title=title,
        detail=exc.detail,
        headers=exc.headers,
    )


def _unavailable(request: AnyRequest, exc: Exception) -> Response[Problem]:
    log.warning("backing service unavailable: %r", exc)
    return problem_response(
        request,
        status=503,
        code="service_unavailable",
        title=CODES_BY_STATUS[503][1],
        detail="a backing service is unavailable; retry with the same Idempotency-Key",
        headers={"Retry-After": "1"},
    )


def _unexpected(request: AnyRequest, exc: Exception) -> Response[Problem]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(
        request,
        status=500,
        code="internal_error",
        title="Internal error",
        detail="an unexpected error occurred; it has been logged",
    )


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    DomainError: _domain,
    ValidationException: _validation,
    HTTPException: _http,
    asyncpg.PostgresConnectionError: _unavailable,
    # 57xxx, "operator intervention": the server is shutting down (57P01) or crashed (57P02)
    # under a running query, is starting up (57P03), or cancelled the statement (57014). The
    # transaction did not happen (or, for a lost COMMIT answer, a retry with the same key
    # replays it): retry. A PostgreSQL restart under load showed 57P01 as a 500.
    asyncpg.exceptions.OperatorInterventionError: _unavailable,
    asyncpg.TooManyConnectionsError: _unavailable,
    asyncpg.InterfaceError: _unavailable,
    # A pooled connection that PostgreSQL dropped while it sat idle can fail its next BEGIN
    # with "another operation is in progress" (seen in the PostgreSQL restart test); the pool
    # discards it on release, and the retry gets a fresh one.
    asyncpg.InternalClientError: _unavailable,
    ConnectionError: _unavailable,
    TimeoutError: _unavailable,
    RedisConnectionError: _unavailable,
    RedisTimeoutError: _unavailable,
    Exception: _unexpected,
}

__all__ = ["EXCEPTION_HANDLERS", "PROBLEM_JSON", "Problem", "problem_response"]
