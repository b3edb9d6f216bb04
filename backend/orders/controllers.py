"""HTTP for orders paid in the app."""

from __future__ import annotations

import uuid

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, JSONBody

from backend.auth.access import MEMBERS
from backend.errors import (
    CurrencyMismatch,
    InsufficientPoints,
    NotFound,
    PaymentProviderUnavailable,
    PaymentRefused,
    RedeemCapExceeded,
    SaleAmountTooLarge,
)
from backend.http import IdempotencyKey, MemberRequest, answers, idempotent_answer, strict_body
from backend.idempotency import check_key
from backend.orders.schemas import OrderOut, OrderRequest
from backend.orders.service import OrderService


class OrderController(Controller):
    path = "/v1/orders"
    tags = ["orders"]

    @post(
        "/",
        opt=MEMBERS
        | answers(
            NotFound,
            CurrencyMismatch,
            RedeemCapExceeded,
            InsufficientPoints,
            PaymentRefused,
            PaymentProviderUnavailable,
            SaleAmountTooLarge,
        ),
        status_code=201,
        responses={
            200: ResponseSpec(OrderOut, description="A retry with the same key: the order now")
        },
        summary="Order in the app and pay through the payment provider",
        description="Points to redeem are held until the provider's answer (webhook or poll) "
        "completes the order (spent, points earned) or fails it (given back). A retry with "
        "the same Idempotency-Key returns the same order in its current state.",
    )
    async def place_order(
        self,
        request: MemberRequest,
        data: JSONBody[OrderRequest],  # documents the body; decoded strictly below
        order_service: NamedDependency[OrderService],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[OrderOut]:
        order, replayed = await order_service.place(
            member_id=request.user.member_id,
            request=await strict_body(request, OrderRequest),
            key=check_key(idempotency_key),
        )
        return idempotent_answer(order, replayed, status_code=200 if replayed else 201)

    @get("/{order_id:uuid}", opt=MEMBERS, summary="One of my orders")
    async def get_order(
        self,
        request: MemberRequest,
        order_id: FromPath[uuid.UUID],
        order_service: NamedDependency[OrderService],
    ) -> OrderOut:
        return await order_service.get(member_id=request.user.member_id, order_id=order_id)
