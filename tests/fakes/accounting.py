"""A sales-accounting system speaking the protocol of ``backend.accounting.client``: an
external system.

It stands in for the accounting system that books one document per money or points movement
(sales, refunds, points expiry and adjustments). Tests run it in-process on a real uvicorn
(``tests.conftest.serving(AccountingSystem().app())``) and set its switches as attributes;
development runs it as a process (``python -m tests.fakes.accounting --port 8091``) and sets
them over HTTP (``POST /_control``).

Protocol (``Authorization: Bearer <token>`` on every ``/v1`` request, else 401):

- ``POST /v1/documents`` with ``Idempotency-Key`` (else 400) and a JSON object (else 400).
  A new key is booked: 201 ``{"document_id", "duplicate": false}``. The same key with the same
  body: 200, the same ``document_id``, ``"duplicate": true``, booked once. The same key with
  another body: 409 ``{"error": ...}``.
- ``GET /v1/documents?business_date=YYYY-MM-DD``: 200 ``{"documents": [{"document_id",
  "idempotency_key", "body"}]}`` in booking order.

Test-only endpoints, never affected by the switches: ``POST /_control`` (switch name -> value),
``GET /_state``, ``POST /_drop`` ``{"idempotency_key"}``, ``POST /_alter`` ``{"idempotency_key",
"fields": {...}}``.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import logging
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from litestar import Litestar, Request, Response, get, post

log = logging.getLogger("fakes.accounting")

# How long ``hang`` holds a request: far longer than any client waits.
HANG_S = 3600.0


@dataclass
class BookedDocument:
    document_id: str
    idempotency_key: str
    # The body as first posted: what a repeated delivery is compared with. Kept apart from
    # ``body`` so that alter_booked() makes the books differ without making retries conflict.
    sent: dict[str, Any]
    body: dict[str, Any]  # the body as booked, what GET reports

    def as_json(self) -> dict[str, Any]:
        return {
            "document_id": self.document_id,
            "idempotency_key": self.idempotency_key,
            "body": self.body,
        }


@dataclass
class AccountingSystem:
    """The accounting system's state and the switches that make it misbehave."""

    token: str = "accounting-token"
    fail_next: int = 0  # the next N POSTs answer 503 and book nothing
    down: bool = False  # every /v1 request answers 503
    delay_s: float = 0.0  # every /v1 request waits this long before it is answered
    hang: bool = False  # /v1 requests are not answered (up to an hour) while this is on
    book_then_fail_next: int = 0  # the next N POSTs book, then answer 500: the lost answer
    posts: int = 0  # every POST /v1/documents attempt, whatever it was answered
    post_keys: list[str | None] = field(default_factory=list)  # their Idempotency-Keys
    documents: dict[str, BookedDocument] = field(default_factory=dict)  # by key, booking order

    @property
    def booked(self) -> list[tuple[str, dict[str, Any]]]:
        """(Idempotency-Key, booked body) of each document on the books, in booking order."""
        return [(key, document.body) for key, document in self.documents.items()]

    def drop_booked(self, key: str) -> None:
        """Forget a booked document, as if it had never arrived (``KeyError`` if unknown)."""
        del self.documents[key]

    def alter_booked(self, key: str, **fields: Any) -> None:
        """Change fields of a booked document: the books now disagree with what we sent."""
        self.documents[key].body.update(fields)

    def switches(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _SWITCHES}

    def control(self, values: dict[str, Any]) -> None:
        """Set switches by name; all or none (``ValueError`` names the first bad one)."""
        checked = {name: _checked(name, value) for name, value in values.items()}
        for name, value in checked.items():
            setattr(self, name, value)

    def state(self) -> dict[str, Any]:
        return {
            "posts": self.posts,
            "booked": [document.as_json() for document in self.documents.values()],
            "switches": self.switches(),
        }

    async def _unavailable(self, request: Request[Any, Any, Any]) -> Response[Any] | None:
        """The answer of a system that is down, slow or hanging; None when it works."""
        if self.down:
            return _error(503, "the accounting system is down")
        if self.delay_s > 0:
            await asyncio.sleep(self.delay_s)
        if self.hang and await hold_while(lambda: self.hang, request):
            return _error(503, "nobody is listening any more")  # the client left
        return None

    def _authorized(self, request: Request[Any, Any, Any]) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.token}"

    def app(self) -> Litestar:
        @post("/v1/documents")
        async def book(request: Request[Any, Any, Any]) -> Response[Any]:
            self.posts += 1
            key = request.headers.get("idempotency-key")
            self.post_keys.append(key)
            # Read before any hold: waiting for the client to leave consumes the request.
            raw = await request.body()
            if (refusal := await self._unavailable(request)) is not None:
                return refusal
            if not self._authorized(request):
                return _error(401, "unauthorized")
            if not key:
                return _error(400, "the Idempotency-Key header is required")
            if self.fail_next > 0:
                self.fail_next -= 1
                return _error(503, "try again later")
            body = _json_object(raw)
            if body is None:
                return _error(400, "the body must be a JSON object")
            existing = self.documents.get(key)
            if existing is None:
                document = BookedDocument(
                    document_id=str(uuid.uuid4()),
                    idempotency_key=key,
                    sent=body,
                    body=copy.deepcopy(body),
                )
                self.documents[key] = document
                status, duplicate = 201, False
                log.info("booked %s %s as %s", body.get("type"), key, document.document_id)
            elif existing.sent != body:
                return _error(409, "idempotency key reused with another document")
            else:
                document, status, duplicate = existing, 200, True
                log.info("duplicate %s, already booked as %s", key, document.document_id)
            if self.book_then_fail_next > 0:
                self.book_then_fail_next -= 1
                return _error(500, "internal error")  # booked all the same
            return Response(
                {"document_id": document.document_id, "duplicate": duplicate},
                status_code=status,
            )

        @get("/v1/documents")
        async def booked_on(request: Request[Any, Any, Any]) -> Response[Any]:
            if (refusal := await self._unavailable(request)) is not None:
                return refusal
            if not self._authorized(request):
                return _error(401, "unauthorized")
            try:
                day = date.fromisoformat(request.query_params.get("business_date") or "")
            except ValueError:
                return _error(400, "business_date=YYYY-MM-DD is required")
            documents = [
                document.as_json()
                for document in self.documents.values()
                if document.body.get("business_date") == day.isoformat()
            ]
            return Response({"documents": documents}, status_code=200)

        @post("/_control", status_code=200)
        async def control(request: Request[Any, Any, Any]) -> Response[Any]:
            values = _json_object(await request.body())
            if values is None:
                return _error(400, "the body must be a JSON object")
            try:
                self.control(values)
            except ValueError as exc:
                return _error(400, str(exc))
            log.info("switches: %s", values)
            return Response({"switches": self.switches()}, status_code=200)

        @get("/_state")
        async def state() -> dict[str, Any]:
            return self.state()

        @post("/_drop", status_code=200)
        async def drop(request: Request[Any, Any, Any]) -> Response[Any]:
            values = _json_object(await request.body()) or {}
            try:
                self.drop_booked(str(values.get("idempotency_key")))
            except KeyError:
                return _error(404, "no document is booked under that key")
            return Response(self.state(), status_code=200)

        @post("/_alter", status_code=200)
        async def alter(request: Request[Any, Any, Any]) -> Response[Any]:
            values = _json_object(await request.body()) or {}
            fields = values.get("fields")
            if not isinstance(fields, dict):
                return _error(400, 'the body must be {"idempotency_key", "fields": {...}}')
            try:
                self.alter_booked(str(values.get("idempotency_key")), **fields)
            except KeyError:
                return _error(404, "no document is booked under that key")
            return Response(self.state(), status_code=200)

        return Litestar([book, booked_on, control, state, drop, alter], logging_config=None)


# The switches ``POST /_control`` may set, with the type each takes.
_SWITCHES: dict[str, type] = {
    "token": str,
    "fail_next": int,
    "down": bool,
    "delay_s": float,
    "hang": bool,
    "book_then_fail_next": int,
}


def _checked(name: str, value: Any) -> Any:
    kind = _SWITCHES.get(name)
    if kind is None:
        raise ValueError(f"{name!r} is not a switch; switches: {', '.join(_SWITCHES)}")
    # JSON has one number type and bool is an int in Python: accept exactly what is meant.
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise ValueError(f"{name} must be a {kind.__name__}")
    if kind in (int, float) and value < 0:
        raise ValueError(f"{name} must not be negative")
    return value


def _json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _error(status: int, message: str) -> Response[Any]:
    return Response({"error": message}, status_code=status)


async def hold_while(still: Callable[[], bool], request: Request[Any, Any, Any]) -> bool:
    """Leave a request unanswered while ``still()``, up to ``HANG_S``; True if the client left.

    The wait also watches the connection: a client that times out and disconnects ends it.
    Otherwise a server shutting down at the end of a test would wait an hour for the handler,
    since uvicorn lets running requests finish. Read the request body before calling this.
    """
    loop = asyncio.get_running_loop()
    gone = asyncio.ensure_future(_disconnected(request))
    deadline = loop.time() + HANG_S
    try:
        while still() and not gone.done() and loop.time() < deadline:
            await asyncio.wait({gone}, timeout=0.05)
        return gone.done() and not gone.cancelled() and gone.exception() is None
    finally:
        if not gone.done():
            gone.cancel()
            await asyncio.wait({gone})


async def _disconnected(request: Request[Any, Any, Any]) -> None:
    # Once the body is read, the server's next ASGI message is the disconnect.
    while (await request.receive())["type"] != "http.disconnect":
        pass


def configure_logging() -> None:
    """Everything, uvicorn's access lines included, to stderr (uvicorn's own sends those to
    stdout)."""
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.accounting",
        description="Serve a fake sales-accounting system for development and tests.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--token", default=AccountingSystem.token)
    args = parser.parse_args(argv)
    configure_logging()
    fake = AccountingSystem(token=args.token)
    log.info("accounting system on http://%s:%d (token %s)", args.host, args.port, args.token)
    uvicorn.run(fake.app(), host=args.host, port=args.port, log_config=None)


if __name__ == "__main__":
    main()
