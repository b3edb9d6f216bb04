"""Admin HTTP for push deliveries the worker gave up on (``backend.push.operations``)."""

from __future__ import annotations

from litestar import Controller, get, post

from backend.accounting.outbox import RetryResult
from backend.auth.access import ADMINS
from backend.errors import Conflict
from backend.http import PathId, answers
from backend.push import operations


class AdminPushController(Controller):
    path = "/v1/admin/push"
    tags = ["admin"]

    @get("/dead-letters", opt=ADMINS, summary="Push deliveries the worker gave up on")
    async def dead_letters(self) -> operations.PushDeadLetterList:
        return await operations.list_push_dead_letters()

    @post(
        "/dead-letters/{delivery_id:uuid}/retry",
        opt=ADMINS | answers(Conflict),
        status_code=200,
        summary="Put a dead push delivery back in line",
    )
    async def retry(self, delivery_id: PathId) -> RetryResult:
        return await operations.retry_push_dead_letter(delivery_id)
