"""HTTP for purchases: translate, call the service, translate back."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency
from litestar.params import HeaderParameter, JSONBody

from backend.auth.access import allow
from backend.auth.callers import Role, TerminalCaller
from backend.idempotency import check_key
from backend.payments.purchases import PurchaseService
from backend.payments.schemas import PurchaseRequest, PurchaseResponse
from backend.strict_body import strict_body

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        description="Required. Same key and body replays the stored response.",
        required=False,
    ),
]


class PurchaseController(Controller):
    path = "/v1/purchases"
    tags = ["purchases"]

    @post(
        "/",
        opt=allow(Role.TERMINAL),
        summary="Record a one-shot sale",
        description="Earns points on the amount paid; optionally redeems points as a discount.",
        status_code=201,
    )
    async def create_purchase(
        self,
        request: Request[TerminalCaller, Any, Any],
        data: JSONBody[PurchaseRequest],  # documents the body; decoded strictly below
        purchase_service: NamedDependency[PurchaseService],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[PurchaseResponse]:
        outcome = await purchase_service.record_purchase(
            terminal=request.user,
            request=await strict_body(request, PurchaseRequest),
            idempotency_key=check_key(idempotency_key),
        )
        headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
        return Response(outcome.response, status_code=201, headers=headers)
