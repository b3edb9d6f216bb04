"""HTTP for staff (the console) on a purchase: its receipt (lines, refunds) and a refund
made from the console. Admins, and managers of the purchase's store."""

from __future__ import annotations

import uuid

from litestar import Controller, get, post
from litestar.params import FromPath

from backend.auth.access import MANAGERS
from backend.http import StaffRequest
from backend.sales.receipts import PurchaseOut, purchase_for
from backend.till.controllers import refund
from backend.till.refunds import REFUND_REFUSALS


class PurchaseAdminController(Controller):
    path = "/v1/admin/purchases"
    tags = ["admin"]

    @get(
        "/{purchase_id:uuid}",
        opt=MANAGERS,
        summary="A purchase: its lines with the points each earned, and its refunds",
    )
    async def purchase(
        self, request: StaffRequest, purchase_id: FromPath[uuid.UUID]
    ) -> PurchaseOut:
        return await purchase_for(request.user, purchase_id)

    refund = post(
        "/{purchase_id:uuid}/refunds",
        opt=MANAGERS | REFUND_REFUSALS,
        status_code=201,
        summary="Refund all or part of a purchase (by amount, or by lines)",
        description="The till's refund, made by an admin or the store's manager; audited.",
    )(refund)
