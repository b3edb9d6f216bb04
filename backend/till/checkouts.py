"""Two-phase checkouts: quote, hold points, complete (capture + earn) or cancel (void).

Lock order is always checkout row, then account row (the hold sweeper too), so checkout
operations cannot deadlock with each other or with one-shot purchases (account row only).
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from asyncpg.exceptions import UniqueViolationError

from backend.auth.callers import TerminalCaller
from backend.campaigns.at_sale import preview_offers
from backend.campaigns.catalogue import LiveCampaign
from backend.errors import CheckoutNotOpen, ExternalIdReused, NotFound, RedeemCapExceeded
from backend.idempotency import request_fingerprint, run_once
from backend.loyalty.book import AccountChange, Cause
from backend.loyalty.earning import (
    discount_for,
    eligible_amount,
    max_redeemable,
    points_earned,
)
from backend.loyalty.ledger import lock_account
from backend.loyalty.lots import TakenLots
from backend.loyalty.rules import RulesVersion, current_rules, rules_at
from backend.loyalty.schemas import Balance
from backend.sales.sale import Sale, check_currency, check_items, settle_sale
from backend.sales.schemas import PurchaseItem
from backend.stores.sale_cap import check_sale_amount
from backend.till.checkout_schemas import (
    CheckoutRequest,
    CheckoutResponse,
    CompleteRequest,
    HoldRequest,
)
from backend.till.selling import SellingService
from db import sql
from db.deferred import DeferredWrites, write
from db.pool import engine
from db.tables import Checkout, Member
from realtime.publisher import EventPublisher, Outgoing

log = logging.getLogger(__name__)
_Result = tuple[CheckoutResponse, list[Outgoing]]


# What opening a checkout checks first, in one round trip.
_OPEN_CHECKS = """
SELECT (SELECT currency FROM store WHERE id = {store_id}) AS currency,
       (SELECT max_sale_amount FROM store WHERE id = {store_id}) AS max_sale_amount,
       EXISTS (SELECT 1 FROM purchase WHERE store = {store_id} AND external_id = {external_id})
         AS sold,
       EXISTS (SELECT 1 FROM checkout WHERE store = {store_id} AND external_id = {external_id})
         AS opened,
       (SELECT id FROM member WHERE card_number = {card_number}) AS card_holder
"""


class CheckoutService(SellingService):
    async def open(
        self, *, terminal: TerminalCaller, request: CheckoutRequest, key: str
    ) -> tuple[CheckoutResponse, bool]:
        check_items(request.items, request.amount)

        async def work() -> _Result:
            known = (
                await sql.fetch(
                    _OPEN_CHECKS,
                    store_id=terminal.store_id,
                    external_id=request.external_id,
                    card_number=request.customer.card_number,
                )
            )[0]
            check_currency(known["currency"], request.currency)
            check_sale_amount(request.amount, known["max_sale_amount"])
            if known["sold"]:
                raise ExternalIdReused(f"external_id {request.external_id!r} is already a sale")
            if known["opened"]:
                raise ExternalIdReused(
                    f"external_id {request.external_id!r} already has a checkout; a retry "
                    "replays with the same Idempotency-Key"
                )
            member_id = await self._customers.identify(
                request.customer, card_holder=known["card_holder"]
            )
            rules = await current_rules()
            checkout = Checkout(
                store=terminal.store_id,
                terminal=terminal.terminal_id,
                member=member_id,
                external_id=request.external_id,
                amount=request.amount,
                currency=request.currency,
                items=msgspec.to_builtins(request.items),
                rules_version=rules.version,
                status="open",
                hold_lots=[],
            )
            try:
                await checkout.save()
            except UniqueViolationError as exc:
                if exc.constraint_name != "checkout_one_per_receipt":
                    raise
                # Another key opened a checkout for this receipt at the same moment.
                raise ExternalIdReused(
                    f"external_id {request.external_id!r} already has a checkout"
                ) from exc
            account = await lock_account(member_id)
            live = await self._catalogue.live()
            return await _describe(checkout, account.balance, live, tier=account.tier), []

        return await self._once(terminal, key, ("open", request), work, status=201)

    async def hold(
        self, *, terminal: TerminalCaller, checkout_id: uuid.UUID, request: HoldRequest, key: str
    ) -> tuple[CheckoutResponse, bool]:
        async def work() -> _Result:
            checkout = await _lock(terminal, checkout_id, allowed=("open", "held"))
            rules = await rules_at(checkout.rules_version)
            cap = max_redeemable(checkout.amount, rules)
            if request.points > cap:
                raise RedeemCapExceeded(
                    f"at most {cap} points may be spent on this check", max_redeemable_points=cap
                )
            now = datetime.now(UTC)
            change = AccountChange(await lock_account(checkout.member), now=now)
            cause = Cause("checkout", checkout.id)
            await change.void(checkout.hold_points, _lots(checkout), cause)
            taken = await change.hold(request.points, cause)
            checkout.hold_points = request.points
            checkout.hold_lots = [[lot, points] for lot, points in taken]  # type: ignore[assignment]
            checkout.status = "held" if request.points else "open"
            checkout.hold_expires_at = (
                now + timedelta(seconds=rules.hold_ttl_s) if request.points else None
            )
            writes = DeferredWrites()  # the checkout's row, sent with the ledger's statement
            await _save(checkout, now, into=writes)
            change.event("hold.updated", _hold_event(checkout))
            _, envelopes = await change.finish(
                context={"checkout_id": str(checkout.id)}, writes=writes
            )
            live = await self._catalogue.live()
            described = await _describe(checkout, change.balance, live, tier=change.account.tier)
            return described, envelopes

        return await self._once(terminal, key, ("hold", checkout_id, request), work)

    async def complete(
        self,
        *,
        terminal: TerminalCaller,
        checkout_id: uuid.UUID,
        request: CompleteRequest,
        key: str,
    ) -> tuple[CheckoutResponse, bool]:
        async def work() -> _Result:
            checkout = await _lock(terminal, checkout_id, allowed=("open", "held"))
            now = datetime.now(UTC)
            if checkout.hold_expires_at is not None and checkout.hold_expires_at <= now:
                raise CheckoutNotOpen("the hold expired; open a new checkout")
            owed = checkout.amount - discount_for(checkout.hold_points)
            if request.paid_amount > owed:
                raise CheckoutNotOpen(
                    f"paid_amount {request.paid_amount} is more than the {owed} owed", owed=owed
                )
            sale = Sale(
                store_id=terminal.store_id,
                terminal_id=terminal.terminal_id,
                member_id=checkout.member,
                external_id=checkout.external_id,
                amount=checkout.amount,
                currency=checkout.currency,
                items=_items(checkout),
                request_hash=request_fingerprint(msgspec.json.encode(["checkout", checkout.id])),
                rules=RulesVersion(
                    version=checkout.rules_version, rules=await rules_at(checkout.rules_version)
                ),
                checkout_id=checkout.id,
                campaigns=await self._catalogue.live(),
            )
            purchase, envelopes = await settle_sale(
                sale, captured=checkout.hold_points, paid_amount=request.paid_amount
            )
            checkout.status = "completed"
            checkout.purchase = purchase.purchase_id
            checkout.hold_expires_at = None
            await _save(checkout, now)
            response = await _describe(
                checkout, purchase.balance, await self._catalogue.live(), purchase=purchase
            )
            return response, envelopes

        return await self._once(terminal, key, ("complete", checkout_id, request), work)

    async def cancel(
        self, *, terminal: TerminalCaller, checkout_id: uuid.UUID, key: str
    ) -> tuple[CheckoutResponse, bool]:
        async def work() -> _Result:
            checkout = await _lock(terminal, checkout_id, allowed=("open", "held", "cancelled"))
            now = datetime.now(UTC)
            change = AccountChange(await lock_account(checkout.member), now=now)
            if checkout.status != "cancelled":
                await change.void(
                    checkout.hold_points, _lots(checkout), Cause("checkout", checkout.id)
                )
                if checkout.hold_points:
                    checkout.hold_points = 0
                    change.event("hold.updated", {**_hold_event(checkout), "status": "cancelled"})
                checkout.status = "cancelled"
                checkout.hold_expires_at = None
                await _save(checkout, now)
            _, envelopes = await change.finish(context={"checkout_id": str(checkout.id)})
            return await _describe(
                checkout, change.balance, await self._catalogue.live()
            ), envelopes

        return await self._once(terminal, key, ("cancel", checkout_id), work)

    async def _once(
        self, terminal: TerminalCaller, key: str, request: Any, work: Any, status: int = 200
    ) -> tuple[CheckoutResponse, bool]:
        return await run_once(
            scope=terminal.scope,
            key=key,
            fingerprint=request_fingerprint(msgspec.json.encode(request)),
            work=work,
            response_type=CheckoutResponse,
            publish=self._publisher.publish,
            status=status,
        )


async def expire_holds(publisher: EventPublisher, *, now: datetime, batch: int = 100) -> int:
    """Void holds whose time ran out (the sweeper); safe to run from several processes."""
    expired = 0
    while True:
        async with engine().transaction():
            rows = await sql.fetch(
                "SELECT id FROM checkout WHERE status = 'held' AND hold_expires_at <= {now} "
                "ORDER BY hold_expires_at LIMIT 1 FOR UPDATE SKIP LOCKED",
                now=now,
            )
            if not rows:
                return expired
            checkout = (
                await Checkout.objects()
                .where(Checkout.id == rows[0]["id"])
                .first()
                .output(load_json=True)
            )
            assert checkout is not None
            change = AccountChange(await lock_account(checkout.member), now=now)
            await change.void(checkout.hold_points, _lots(checkout), Cause("checkout", checkout.id))
            checkout.status = "expired"
            checkout.hold_points = 0
            checkout.hold_expires_at = None
            await _save(checkout, now)
            change.event("hold.updated", {**_hold_event(checkout), "status": "expired"})
            _, envelopes = await change.finish(context={"checkout_id": str(checkout.id)})
        await publisher.publish(envelopes)
        expired += 1
        if expired >= batch:
            return expired


async def _lock(
    terminal: TerminalCaller, checkout_id: uuid.UUID, *, allowed: tuple[str, ...]
) -> Checkout:
    checkout = (
        await Checkout.objects()
        .where(Checkout.id == checkout_id)
        .lock_rows("UPDATE")
        .first()
        .output(load_json=True)
    )
    # Another store's checkout is answered as if it did not exist.
    if checkout is None or checkout.store != terminal.store_id:
        raise NotFound(f"checkout {checkout_id} does not exist")
    if checkout.status not in allowed:
        raise CheckoutNotOpen(f"the checkout is {checkout.status}", status=checkout.status)
    found: Checkout = checkout
    return found


_SAVE = """
UPDATE checkout SET status = {status}, hold_points = {hold_points},
                    hold_lots = {hold_lots}::jsonb, hold_expires_at = {hold_expires_at},
                    purchase = {purchase}, updated_at = {updated_at}
WHERE id = {id}
"""


async def _save(checkout: Checkout, now: datetime, *, into: DeferredWrites | None = None) -> None:
    """Write what a checkout's steps change (with ``into``: with the change's last statement)."""
    checkout.updated_at = now
    await write(
        _SAVE,
        into,
        status=checkout.status,
        hold_points=checkout.hold_points,
        hold_lots=msgspec.json.encode(checkout.hold_lots or []).decode(),
        hold_expires_at=checkout.hold_expires_at,
        purchase=checkout.purchase,
        updated_at=now,
        id=checkout.id,
    )


def _lots(checkout: Checkout) -> TakenLots:
    pairs: Any = checkout.hold_lots or []  # loaded as JSON: [[lot id, points], ...]
    return [(str(lot), int(points)) for lot, points in pairs]


def _items(checkout: Checkout) -> list[PurchaseItem]:
    return msgspec.convert(checkout.items or [], list[PurchaseItem])


def _hold_event(checkout: Checkout) -> dict[str, Any]:
    return {
        "checkout_id": str(checkout.id),
        "points": checkout.hold_points,
        "status": checkout.status,
        "expires_at": checkout.hold_expires_at.isoformat() if checkout.hold_expires_at else None,
    }


async def _describe(
    checkout: Checkout,
    balance: Balance,
    campaigns: list[LiveCampaign],
    *,
    purchase: Any = None,
    tier: str | None = None,
) -> CheckoutResponse:
    """The checkout as the till sees it; ``tier``: the member's, when the caller read it."""
    rules = await rules_at(checkout.rules_version)
    account_tier = tier or await _tier(checkout.member)
    owed = checkout.amount - discount_for(checkout.hold_points)
    eligible = eligible_amount(
        amount=checkout.amount, paid_amount=owed, items=_items(checkout), rules=rules
    )
    to_earn = points_earned(eligible, rules.tier_earn_percent[account_tier])
    offers = (
        await preview_offers(
            campaigns,
            member_id=checkout.member,
            store_id=checkout.store,
            items=_items(checkout),
            amount=checkout.amount,
            base_points=to_earn,
        )
        if checkout.status in ("open", "held")
        else list(purchase.offers_applied if purchase else [])
    )
    return CheckoutResponse(
        checkout_id=checkout.id,
        member_id=checkout.member,
        status=checkout.status,
        amount=checkout.amount,
        currency=checkout.currency,
        max_redeemable_points=max(
            0, min(max_redeemable(checkout.amount, rules), balance.available + checkout.hold_points)
        ),
        points_to_earn=to_earn + sum(offer.points for offer in offers),
        held_points=checkout.hold_points,
        hold_expires_at=checkout.hold_expires_at,
        offers=offers,
        balance=balance,
        purchase=purchase,
    )


async def _tier(member_id: uuid.UUID) -> str:
    row = await Member.select(Member.tier).where(Member.id == member_id).first()
    return str(row["tier"]) if row else "green"
