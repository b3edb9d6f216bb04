"""Orders paid in the app: hold points, ask the provider for a payment, then complete or fail.

The provider's answer arrives by signed webhook; a missed one is recovered by the poller,
which asks the provider. Either path takes the order row lock and acts only on an order
still awaiting payment, so duplicates and reordered events capture once. A webhook is a
hint: what it says is checked against the provider's own view of the payment.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from backend.campaigns.catalogue import Catalogue, LiveCampaign
from backend.errors import (
    CurrencyMismatch,
    IdempotencyKeyReused,
    NotFound,
    PaymentProviderUnavailable,
    PaymentRefused,
    RedeemCapExceeded,
)
from backend.idempotency import request_fingerprint
from backend.loyalty.book import AccountChange, Cause
from backend.loyalty.earning import discount_for, max_redeemable
from backend.loyalty.ledger import lock_account
from backend.loyalty.lots import TakenLots
from backend.loyalty.rules import RulesVersion, current_rules, rules_at
from backend.loyalty.schemas import Balance
from backend.orders.payment_provider import (
    PaymentProvider,
    ProviderPayment,
    ProviderRefused,
    ProviderUnavailable,
)
from backend.orders.schemas import OrderOut, OrderRequest
from backend.sales.sale import Sale, check_items, settle_sale
from backend.sales.schemas import PurchaseItem
from backend.stores.sale_cap import check_sale_amount
from db import sql
from db.ids import new_id
from db.pool import engine
from db.tables import Order, Store
from realtime.publisher import EventPublisher, Outgoing

log = logging.getLogger(__name__)

# The poller looks at orders awaiting payment once they are this old (webhooks come first).
POLL_AFTER = timedelta(seconds=30)


@dataclass(frozen=True, kw_only=True)
class OrderService:
    provider: PaymentProvider | None
    publisher: EventPublisher
    catalogue: Catalogue

    @property
    def has_provider(self) -> bool:
        return self.provider is not None

    async def place(
        self, *, member_id: uuid.UUID, request: OrderRequest, key: str
    ) -> tuple[OrderOut, bool]:
        """Create the order and its payment; return it and whether it already existed."""
        check_items(request.items, request.amount)
        fingerprint = request_fingerprint(msgspec.json.encode(request))
        order, created = await self._create(member_id, request, key, fingerprint)
        if not created:
            return await describe(order), True
        if order.payable_amount == 0:  # paid entirely with points: nothing to charge
            return await self._settle(order.id, "succeeded"), False
        try:
            payment = await self._require_provider().create_payment(
                order_id=order.id,
                amount=order.payable_amount,
                currency=order.currency,
                description=f"Astrocoffee order {order.id}",
            )
        except ProviderUnavailable as exc:
            await self._fail(order.id, "the payment provider is unavailable")
            raise PaymentProviderUnavailable(
                "the payment provider is unavailable; the order failed and its points were "
                "given back",
                order_id=str(order.id),
                status="failed",
            ) from exc
        except ProviderRefused as exc:
            await self._fail(order.id, "the payment provider refused the payment")
            raise PaymentRefused(str(exc), order_id=str(order.id), status="failed") from exc
        return await self._attach(order.id, payment), False

    async def get(self, *, member_id: uuid.UUID, order_id: uuid.UUID) -> OrderOut:
        order = await Order.objects().where(Order.id == order_id).first()
        if order is None or order.member != member_id:
            raise NotFound(f"order {order_id} does not exist")
        return await describe(order)

    async def on_payment_event(self, data: dict[str, Any]) -> None:
        """A webhook said something happened to a payment: find out what, and apply it."""
        payment_id = data.get("payment_id")
        if not isinstance(payment_id, str) or self.provider is None:
            log.warning("payment event not applied (no payment id, or no provider configured)")
            return
        try:
            payment = await self.provider.get_payment(payment_id)
        except (ProviderUnavailable, ProviderRefused) as exc:
            # The poller asks again; the event itself is stored already.
            log.warning("could not confirm payment %s with the provider: %s", payment_id, exc)
            return
        await self._apply(payment)

    async def poll(self, *, now: datetime, limit: int = 100) -> int:
        """Settle orders whose webhook is late or lost; return how many changed."""
        rows = (
            await Order.select(Order.id, Order.payment_id)
            .where((Order.status == "awaiting_payment") & (Order.updated_at < now - POLL_AFTER))
            .limit(limit)
        )
        changed = 0
        provider = self._require_provider()
        for row in rows:
            try:
                if row["payment_id"] is None:
                    # Created, but the process stopped before the payment was recorded:
                    # asking again with the same key returns the same payment.
                    order = await Order.objects().where(Order.id == row["id"]).first()
                    assert order is not None
                    payment = await provider.create_payment(
                        order_id=order.id,
                        amount=order.payable_amount,
                        currency=order.currency,
                        description=f"Astrocoffee order {order.id}",
                    )
                    await self._attach(order.id, payment)
                else:
                    payment = await provider.get_payment(row["payment_id"])
            except ProviderUnavailable as exc:
                log.warning("order poller: provider unavailable: %s", exc)
                return changed
            except ProviderRefused as exc:
                log.warning("order poller: provider refused order %s: %s", row["id"], exc)
                continue
            if await self._apply(payment):
                changed += 1
            else:
                await Order.update({Order.updated_at: now}).where(
                    (Order.id == row["id"]) & (Order.status == "awaiting_payment")
                )
        return changed

    async def _apply(self, payment: ProviderPayment) -> bool:
        if payment.status == "pending":
            return False
        order = await Order.select(Order.id).where(Order.id == uuid.UUID(payment.reference)).first()
        if order is None:
            log.warning("provider payment %s names an unknown order", payment.payment_id)
            return False
        await self._settle(order["id"], payment.status, payment_id=payment.payment_id)
        return True

    def _require_provider(self) -> PaymentProvider:
        if self.provider is None:
            raise PaymentProviderUnavailable(
                "no payment provider is configured (ASTROCOFFEE_PAYMENT_PROVIDER_URL)"
            )
        return self.provider

    async def _create(
        self, member_id: uuid.UUID, request: OrderRequest, key: str, fingerprint: str
    ) -> tuple[Order, bool]:
        async with engine().transaction():
            account = await lock_account(member_id)  # also serialises one member's orders
            earlier = (
                await Order.objects()
                .where((Order.member == member_id) & (Order.idempotency_key == key))
                .first()
            )
            if earlier is not None:
                if earlier.request_hash != fingerprint:
                    raise IdempotencyKeyReused("this Idempotency-Key was used for another order")
                return earlier, False
            store = (
                await Store.select(Store.currency, Store.max_sale_amount)
                .where(Store.id == request.store_id)
                .first()
            )
            if store is None:
                raise NotFound(f"store {request.store_id} does not exist")
            if store["currency"] != request.currency:
                raise CurrencyMismatch(f"this store takes {store['currency']}")
            check_sale_amount(request.amount, store["max_sale_amount"])
            rules = await current_rules()
            cap = max_redeemable(request.amount, rules.rules)
            if request.redeem_points > cap:
                raise RedeemCapExceeded(
                    f"at most {cap} points may be spent on this order", max_redeemable_points=cap
                )
            now = datetime.now(UTC)
            order_id = new_id()
            change = AccountChange(account, now=now)
            taken = await change.hold(request.redeem_points, Cause("order", order_id))
            order = Order(
                id=order_id,
                member=member_id,
                store=request.store_id,
                amount=request.amount,
                currency=request.currency,
                items=msgspec.json.encode(request.items).decode(),
                rules_version=rules.version,
                hold_points=request.redeem_points,
                hold_lots=msgspec.json.encode([[lot, p] for lot, p in taken]).decode(),
                payable_amount=request.amount - discount_for(request.redeem_points),
                status="awaiting_payment",
                idempotency_key=key,
                request_hash=fingerprint,
                created_at=now,
                updated_at=now,
            )
            await order.save()
            change.event("order.updated", _order_event(order))
            _, events = await change.finish(context={"order_id": str(order_id)})
        await self.publisher.publish(events)
        return order, True

    async def _attach(self, order_id: uuid.UUID, payment: ProviderPayment) -> OrderOut:
        async with engine().transaction():
            order = await _lock(order_id)
            if order.payment_id is None:
                order.payment_id = payment.payment_id
                order.updated_at = datetime.now(UTC)
                await order.save()
        if payment.status != "pending":  # the provider already knows the outcome
            return await self._settle(order_id, payment.status, payment_id=payment.payment_id)
        return await describe(order)

    async def _fail(self, order_id: uuid.UUID, reason: str) -> OrderOut:
        return await self._settle(order_id, "failed", reason=reason)

    async def _settle(
        self,
        order_id: uuid.UUID,
        outcome: str,
        *,
        payment_id: str | None = None,
        reason: str | None = None,
    ) -> OrderOut:
        """Capture (paid) or void (failed) once; later calls find it settled and do nothing."""
        events: list[Outgoing] = []
        async with engine().transaction():
            order = await _lock(order_id)
            if order.status != "awaiting_payment":
                return await describe(order)
            now = datetime.now(UTC)
            cause = Cause("order", order.id)
            balance: Balance
            if outcome == "succeeded":
                rules = await rules_at(order.rules_version)
                purchase, events = await settle_sale(
                    _sale(order, rules, await self.catalogue.live()),
                    captured=order.hold_points,
                    paid_amount=order.payable_amount,
                )
                order.status = "paid"
                order.purchase = purchase.purchase_id
                balance = purchase.balance
                change = AccountChange(await lock_account(order.member), now=now)
            else:
                change = AccountChange(await lock_account(order.member), now=now)
                await change.void(order.hold_points, _lots(order), cause)
                order.status = "failed"
                order.failure_reason = reason or "the payment failed"
                balance = change.balance
            if payment_id and order.payment_id is None:
                order.payment_id = payment_id
            order.updated_at = now
            await order.save()
            change.event("order.updated", _order_event(order))
            _, more = await change.finish(context={"order_id": str(order.id)})
            events += more
        await self.publisher.publish(events)
        return await describe(order, balance=balance)


def _sale(order: Order, rules: Any, campaigns: list[LiveCampaign]) -> Sale:
    return Sale(
        store_id=order.store,
        terminal_id=None,
        member_id=order.member,
        external_id=f"order:{order.id}",
        amount=order.amount,
        currency=order.currency,
        items=_items(order),
        request_hash=order.request_hash,
        rules=RulesVersion(version=order.rules_version, rules=rules),
        order_id=order.id,
        campaigns=campaigns,
    )


async def _lock(order_id: uuid.UUID) -> Order:
    await sql.fetch("SELECT id FROM customer_order WHERE id = {id} FOR UPDATE", id=order_id)
    order = await Order.objects().where(Order.id == order_id).first().output(load_json=True)
    if order is None:
        raise NotFound(f"order {order_id} does not exist")
    found: Order = order
    return found


def _lots(order: Order) -> TakenLots:
    pairs: Any = order.hold_lots or []
    return [(str(lot), int(points)) for lot, points in pairs]


def _items(order: Order) -> list[PurchaseItem]:
    return msgspec.convert(sql.loaded_json(order.items) or [], list[PurchaseItem])


def _order_event(order: Order) -> dict[str, Any]:
    return {
        "order_id": str(order.id),
        "status": order.status,
        "amount": order.amount,
        "payable_amount": order.payable_amount,
        "points_redeemed": order.hold_points,
        "payment_id": order.payment_id,
        "purchase_id": str(order.purchase) if order.purchase else None,
    }


async def describe(order: Order, *, balance: Balance | None = None) -> OrderOut:
    return OrderOut(
        order_id=order.id,
        status=order.status,  # type: ignore[arg-type]
        store_id=order.store,
        amount=order.amount,
        currency=order.currency,
        points_redeemed=order.hold_points,
        payable_amount=order.payable_amount,
        payment_id=order.payment_id,
        purchase_id=order.purchase,
        failure_reason=order.failure_reason,
        created_at=order.created_at,
        updated_at=order.updated_at,
        balance=balance,
    )
