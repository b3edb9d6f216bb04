"""HTTP for the POS API: purchases, checkouts and refunds."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from backend.auth.access import TERMINALS
from backend.auth.callers import StaffCaller, TerminalCaller
from backend.errors import (
    CardBlocked,
    CheckoutNotOpen,
    CurrencyMismatch,
    ExternalIdReused,
    InsufficientPoints,
    MemberNotFound,
    RedeemCapExceeded,
    SaleAmountTooLarge,
)
from backend.http import (
    IdempotencyKey,
    PathId,
    TerminalRequest,
    answers,
    idempotent_answer,
    strict_body,
)
from backend.idempotency import check_key
from backend.sales.schemas import PurchaseResponse
from backend.till.checkout_schemas import (
    CheckoutRequest,
    CheckoutResponse,
    CompleteRequest,
    HoldRequest,
)
from backend.till.checkouts import CheckoutService
from backend.till.purchases import PurchaseService
from backend.till.refunds import REFUND_REFUSALS, RefundRequest, RefundResponse, RefundService
from backend.till.schemas import PurchaseRequest

# What a one-shot sale may be refused for, besides what every write may be.
SALE_REFUSALS = answers(
    MemberNotFound,
    CardBlocked,
    ExternalIdReused,
    CurrencyMismatch,
    RedeemCapExceeded,
    InsufficientPoints,
    SaleAmountTooLarge,
)


# The refund's handler, the till's (below) and staff's (``backend.till.admin_controllers``):
# the same body and answer, the caller's own checks in ``RefundService``.
async def refund(
    self: Controller,
    request: Request[TerminalCaller | StaffCaller, Any, Any],
    purchase_id: PathId,
    data: JSONBody[RefundRequest],  # documents the body; decoded strictly below
    refund_service: NamedDependency[RefundService],
    idempotency_key: IdempotencyKey = None,
) -> Response[RefundResponse]:
    response, replayed = await refund_service.refund(
        caller=request.user,
        purchase_id=purchase_id,
        request=await strict_body(request, RefundRequest),
        key=check_key(idempotency_key),
    )
    return idempotent_answer(response, replayed, status_code=201)


class PurchaseController(Controller):
    path = "/v1/purchases"
    tags = ["purchases"]

    @post(
        "/",
        opt=TERMINALS | SALE_REFUSALS,
        status_code=201,
        summary="Record a one-shot sale",
        description="Earns points on the amount paid; optionally redeems points as a discount.",
    )
    async def create_purchase(
        self,
        request: TerminalRequest,
        data: JSONBody[PurchaseRequest],  # documents the body; decoded strictly below
        purchase_service: NamedDependency[PurchaseService],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[PurchaseResponse]:
        outcome = await purchase_service.record_purchase(
            terminal=request.user,
            request=await strict_body(request, PurchaseRequest),
            idempotency_key=check_key(idempotency_key),
        )
        return idempotent_answer(outcome.response, outcome.replayed, status_code=201)

    refund = post(
        "/{purchase_id:uuid}/refunds",
        opt=TERMINALS | REFUND_REFUSALS,
        status_code=201,
        summary="Refund all or part of a purchase",
        description="`amount` is the gross value returned, points follow in proportion; or "
        "`lines` name the units returned, and the points those units earned are taken back.",
    )(refund)


class CheckoutController(Controller):
    path = "/v1/checkouts"
    tags = ["checkouts"]

    @post(
        "/",
        opt=TERMINALS
        | answers(
            MemberNotFound, CardBlocked, ExternalIdReused, CurrencyMismatch, SaleAmountTooLarge
        ),
        status_code=201,
        summary="Open a checkout and quote it",
    )
    async def open_checkout(
        self,
        request: TerminalRequest,
        data: JSONBody[CheckoutRequest],
        checkout_service: NamedDependency[CheckoutService],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[CheckoutResponse]:
        response, replayed = await checkout_service.open(
            terminal=request.user,
            request=await strict_body(request, CheckoutRequest),
            key=check_key(idempotency_key),
        )
        return idempotent_answer(response, replayed, status_code=201)

    @post(
        "/{checkout_id:uuid}/hold",
        opt=TERMINALS | answers(CheckoutNotOpen, InsufficientPoints, RedeemCapExceeded),
        status_code=200,
        summary="Hold points",
    )
    async def hold(
        self,
        request: TerminalRequest,
        checkout_id: PathId,
        data: JSONBody[HoldRequest],
        checkout_service: NamedDependency[CheckoutService],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[CheckoutResponse]:
        response, replayed = await checkout_service.hold(
            terminal=request.user,
            checkout_id=checkout_id,
            request=await strict_body(request, HoldRequest),
            key=check_key(idempotency_key),
        )
        return idempotent_answer(response, replayed)

    @post(
        "/{checkout_id:uuid}/complete",
        opt=TERMINALS | answers(CheckoutNotOpen, ExternalIdReused),
        status_code=200,
        summary="Capture the hold and earn on what was paid",
    )
    async def complete(
        self,
        request: TerminalRequest,
        checkout_id: PathId,
        data: JSONBody[CompleteRequest],
        checkout_service: NamedDependency[CheckoutService],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[CheckoutResponse]:
        response, replayed = await checkout_service.complete(
            terminal=request.user,
            checkout_id=checkout_id,
            request=await strict_body(request, CompleteRequest),
            key=check_key(idempotency_key),
        )
        return idempotent_answer(response, replayed)

    @post(
        "/{checkout_id:uuid}/cancel",
        opt=TERMINALS | answers(CheckoutNotOpen),
        status_code=200,
        summary="Cancel the checkout and void its hold",
    )
    async def cancel(
        self,
        request: TerminalRequest,
        checkout_id: PathId,
        checkout_service: NamedDependency[CheckoutService],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[CheckoutResponse]:
        response, replayed = await checkout_service.cancel(
            terminal=request.user, checkout_id=checkout_id, key=check_key(idempotency_key)
        )
        return idempotent_answer(response, replayed)
