"""A sales-accounting system speaking the protocol of ``backend.accounting.client``: an
external system.

It stands in for the accounting system that books one document per money or points movement
(sales, refunds, points expiry and adjustments). Tests run it in-process on a real uvicorn
(``tests.conftest.serving(AccountingSystem().app())``) and set its switches as attributes;
development runs it as a process (``python -m devkit.fakes.accounting --port 8091``) and sets
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

import copy
import logging
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar

from litestar import Litestar, Request, Response, get, post

from backend.settings import DEV_EXTERNAL_SYSTEMS
from devkit.fakes.base import FAULTS, FakeSystem, Switches, count, error, json_object, string

# Where development's settings look for this system, and the token they send it
# (backend.settings.DEV_EXTERNAL_SYSTEMS): one definition for both sides.
_DEV_URL, DEV_TOKEN = DEV_EXTERNAL_SYSTEMS["accounting"]
DEV_PORT = int(_DEV_URL.rsplit(":", 1)[1])

log = logging.getLogger("fakes.accounting")


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
class AccountingSystem(FakeSystem):
    """The accounting system's state and the switches that make it misbehave (``fail_next``:
    the next N POSTs answer 503 and book nothing; the others as in ``FakeSystem``)."""

    token: str = DEV_TOKEN
    book_then_fail_next: int = 0  # the next N POSTs book, then answer 500: the lost answer
    posts: int = 0  # every POST /v1/documents attempt, whatever it was answered
    post_keys: list[str | None] = field(default_factory=list)  # their Idempotency-Keys
    documents: dict[str, BookedDocument] = field(default_factory=dict)  # by key, booking order

    SWITCHES: ClassVar[Switches] = {"token": string, **FAULTS, "book_then_fail_next": count}
    DOWN: ClassVar[str] = "the accounting system is down"
    HELP: ClassVar[str] = "Serve a fake sales-accounting system for development and tests."
    PORT: ClassVar[int] = DEV_PORT
    WHAT: ClassVar[str] = "accounting system"

    @property
    def booked(self) -> list[tuple[str, dict[str, Any]]]:
        """(Idempotency-Key, booked body) of each document on the books, in booking order."""
        return [(key, document.body) for key, document in self.documents.items()]

    def documents_on(self, day: date) -> list[dict[str, Any]]:
        """The documents booked for a business day, as ``GET /v1/documents`` lists them."""
        return [
            document.as_json()
            for document in self.documents.values()
            if document.body.get("business_date") == day.isoformat()
        ]

    def drop_booked(self, key: str) -> None:
        """Forget a booked document, as if it had never arrived (``KeyError`` if unknown)."""
        del self.documents[key]

    def alter_booked(self, key: str, **fields: Any) -> None:
        """Change fields of a booked document: the books now disagree with what we sent."""
        self.documents[key].body.update(fields)

    def state(self) -> dict[str, Any]:
        return {
            "posts": self.posts,
            "booked": [document.as_json() for document in self.documents.values()],
            "switches": self.switches(),
        }

    def app(self) -> Litestar:
        @post("/v1/documents")
        async def book(request: Request[Any, Any, Any]) -> Response[Any]:
            self.posts += 1
            self.post_keys.append(request.headers.get("idempotency-key"))
            # Read before any hold: waiting for the client to leave consumes the request.
            raw = await request.body()
            if isinstance(key := await self.write_key(request), Response):
                return key
            body = json_object(raw)
            if body is None:
                return error(400, "the body must be a JSON object")
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
                return error(409, "idempotency key reused with another document")
            else:
                document, status, duplicate = existing, 200, True
                log.info("duplicate %s, already booked as %s", key, document.document_id)
            if self.book_then_fail_next > 0:
                self.book_then_fail_next -= 1
                return error(500, "internal error")  # booked all the same
            return Response(
                {"document_id": document.document_id, "duplicate": duplicate},
                status_code=status,
            )

        @get("/v1/documents")
        async def booked_on(request: Request[Any, Any, Any]) -> Response[Any]:
            return await self.listed_by_day(
                request, "business_date", "documents", self.documents_on
            )

        @post("/_drop", status_code=200)
        async def drop(request: Request[Any, Any, Any]) -> Response[Any]:
            values = json_object(await request.body()) or {}
            try:
                self.drop_booked(str(values.get("idempotency_key")))
            except KeyError:
                return error(404, "no document is booked under that key")
            return Response(self.state(), status_code=200)

        @post("/_alter", status_code=200)
        async def alter(request: Request[Any, Any, Any]) -> Response[Any]:
            values = json_object(await request.body()) or {}
            fields = values.get("fields")
            if not isinstance(fields, dict):
                return error(400, 'the body must be {"idempotency_key", "fields": {...}}')
            try:
                self.alter_booked(str(values.get("idempotency_key")), **fields)
            except KeyError:
                return error(404, "no document is booked under that key")
            return Response(self.state(), status_code=200)

        return Litestar(
            [book, booked_on, drop, alter, *self.control_handlers()], logging_config=None
        )


def main(argv: list[str] | None = None) -> None:
    AccountingSystem.command_line(argv)


if __name__ == "__main__":
    main()
