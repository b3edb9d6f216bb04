"""Admin HTTP for the outbox (dead letters) and the daily reconciliation report."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from backend.accounting import outbox
from backend.accounting.books import ExternalSystems
from backend.accounting.reconciliation import ReconciliationReport, UnknownStore, reconcile_day
from backend.auth.access import ADMINS
from backend.errors import Conflict, NotFound, ServiceUnavailable
from backend.http import PathId, answers


class AdminOutboxController(Controller):
    path = "/v1/admin"
    tags = ["admin"]

    @get("/outbox/dead-letters", opt=ADMINS, summary="Messages the worker gave up on")
    async def dead_letters(self) -> outbox.DeadLetterList:
        return await outbox.list_dead_letters()

    @post(
        "/outbox/{message_id:uuid}/retry",
        opt=ADMINS | answers(Conflict),
        status_code=200,
        summary="Put a dead letter back in line for delivery",
    )
    async def retry(self, message_id: PathId) -> outbox.RetryResult:
        return await outbox.retry_dead_letter(message_id)

    @get(
        "/reports/reconciliation",
        opt=ADMINS | answers(NotFound),
        summary="A business day's sales and points liability against accounting and the provider",
    )
    async def reconciliation(
        self,
        external_books: NamedDependency[ExternalSystems | None],
        day: Annotated[
            date,
            QueryParameter(
                name="date",
                description="local business date, YYYY-MM-DD: each store's own calendar date "
                "in its time zone (from its day-start hour), and the program zone's date for "
                "movements no store made; the payment provider's side is its own (UTC) day",
            ),
        ],
        store_id: Annotated[
            uuid.UUID | None,
            QueryParameter(description="only this store's business day (default: chain-wide)"),
        ] = None,
    ) -> ReconciliationReport:
        if external_books is None:
            raise ServiceUnavailable("the accounting system or payment provider is not configured")
        try:
            return await reconcile_day(day, external_books, store_id=store_id)
        except UnknownStore as exc:
            raise NotFound(str(exc)) from exc
