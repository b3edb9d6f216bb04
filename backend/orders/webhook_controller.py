"""HTTP for the payment provider's webhooks."""

from __future__ import annotations

from litestar import Controller, post
from litestar.di import NamedDependency

from backend.auth.access import PUBLIC
from backend.errors import Unauthorized
from backend.http import RAW_BODY, SIGNED, AnyRequest, answers
from backend.orders.webhooks import WebhookReceipt, WebhookService


class PaymentWebhookController(Controller):
    path = "/v1/webhooks/payments"
    tags = ["webhooks"]

    # Anonymous to the token middleware: the HMAC signature over the body is the credential,
    # checked by the service before the body is decoded or anything is read or written.
    @post(
        "/",
        opt=PUBLIC | RAW_BODY | SIGNED | answers(Unauthorized),
        status_code=200,
        summary="Signed payment events",
    )
    async def receive(
        self, request: AnyRequest, webhook_service: NamedDependency[WebhookService]
    ) -> WebhookReceipt:
        return await webhook_service.receive(
            signature=request.headers.get("x-signature"), body=await request.body()
        )
