"""Give every request an id (or keep the proxy's ``X-Request-Id``) for logs and responses,
and log one line per request: method, path (never the query string, which may carry a
token), status and duration."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable

from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send

from backend.ops.logging import caller_fields_var, client_address_var, request_id_var

log = logging.getLogger("astrocoffee.access")
HEADER = "x-request-id"
_ACCEPTABLE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    def middleware(scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # Other scopes (WebSockets) are handed on, not awaited here: no frame of this
        # middleware is held for the whole life of every socket.
        if scope["type"] != ScopeType.HTTP:
            return app(scope, receive, send)
        return http(scope, receive, send)

    async def http(scope: HTTPScope, receive: Receive, send: Send) -> None:
        incoming = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k == HEADER.encode()), ""
        )
        request_id = incoming if _ACCEPTABLE.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        client = scope.get("client")
        address_token = client_address_var.set(client[0] if client else None)
        caller: dict[str, str] = {}
        caller_token = caller_fields_var.set(caller)
        started = time.perf_counter()
        status = 500  # what the client gets if the app fails before answering

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableScopeHeaders.from_message(message)[HEADER] = request_id
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        except HTTPException as exc:
            # Raised by a middleware (authentication): answered by the app's handler outside.
            status = exc.status_code
            raise
        finally:
            log.info(
                "%s %s %d",
                scope["method"],
                scope["path"],
                status,
                # Given explicitly (not only read from the context when formatted), so the line
                # is right wherever and whenever a handler formats it.
                extra={
                    "request_id": request_id,
                    **caller,
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            caller_fields_var.reset(caller_token)
            client_address_var.reset(address_token)
            request_id_var.reset(token)

    return middleware
