"""Two-phase checkouts: quote, hold points, complete (capture + earn) or cancel (void).

Lock order is always checkout row, then account row (the hold sweeper too), so checkout
operations cannot deadlock with each other or with one-shot purchases (account row only).

Each step runs once per Idempotency-Key (``backend.idempotency``'s semantics: a duplicate
while the first runs gets 409, a settled key replays its answer, another body 422): BEGIN;
the key's advisory lock, a statement of its own; one read of the key's stored answer with
everything the step checks, the checkout locked and then (in the same statement, a LATERAL
after it) its member's account; the step's writes, with the key's answer where it is known
before them (open, hold: one statement); COMMIT. Hand-written SQL (``db.sql``), no Piccolo
query building on these paths.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from asyncpg.exceptions import UniqueViolationError

from backend.auth.callers import TerminalCaller
from backend.campaigns.at_sale import preview_offers
from backend.campaigns.catalogue import LiveCampaign
from backend.errors import (
    CheckoutNotOpen,
    ExternalIdReused,
    RedeemCapExceeded,
)
from backend.idempotency import (
    lock_key,
    request_fingerprint,
)
from backend.loyalty.book import AccountChange, Cause
from backend.loyalty.earning import (
    discount_for,
    eligible_amount,
    max_redeemable,
    points_earned,
)
from backend.loyalty.ledger import lock_account
from backend.loyalty.rules import RulesVersion, current_rules, rules_at
from backend.loyalty.schemas import Balance
from backend.loyalty.tiers import tier_after
from backend.sales.sale import (
    Sale,
    check_currency,
    check_items,
    lock_buyer,
    read_buyer,
    settle_sale,
    tier_window,
)
from backend.stores.sale_cap import check_sale_amount
from backend.till.checkout_rows import (
    LOCK_ACCOUNT,
    LOCK_BUYER,
    OPEN_CHECKS,
    CheckoutRow,
    account_of,
    balance_of,
    begin_step,
    hold_event,
    insert,
    items_of,
    lots_of,
    remember_answer,
    save,
    send,
    step_fingerprint,
    stored_answer,
)
from backend.till.checkout_schemas import (
    CheckoutRequest,
    CheckoutResponse,
    CompleteRequest,
    HoldRequest,
)
from backend.till.selling import SellingService
from db import sql
from db.deferred import DeferredWrites
from db.ids import new_id
from db.pool import engine

_OPEN = ("open", "held")


class CheckoutService(SellingService):
    async def open(
        self, *, terminal: TerminalCaller, request: CheckoutRequest, key: str
    ) -> tuple[CheckoutResponse, bool]:
        check_items(request.items, request.amount)
        fingerprint = step_fingerprint(("open", request))
        async with engine().transaction():
            await lock_key(scope=terminal.scope, key=key)
            known = (
                await sql.fetch(
                    OPEN_CHECKS,
                    scope=terminal.scope,
                    key=key,
                    store_id=terminal.store_id,
                    external_id=request.external_id,
                    card_number=request.customer.card_number,
                )
            )[0]
            stored = stored_answer(known, fingerprint)
            if stored is not None:
                return stored, True
            check_currency(known["currency"], request.currency)
            check_sale_amount(request.amount, known["max_sale_amount"])
            if known["sold"]:
                raise ExternalIdReused(f"external_id {request.external_id!r} is already a sale")
            if known["opened"]:
                raise ExternalIdReused(
                    f"external_id {request.external_id!r} already has a checkout; a retry "
                    "replays with the same Idempotency-Key"
                )
            member_id = await self.customers.identify(
                request.customer, card_holder=known["card_holder"]
            )
            rules = await current_rules()
            now = datetime.now(UTC)
            checkout = CheckoutRow(
                id=new_id(),
                store=terminal.store_id,
                terminal=terminal.terminal_id,
                member=member_id,
                external_id=request.external_id,
                amount=request.amount,
                currency=request.currency,
                items=msgspec.to_builtins(request.items),
                rules_version=rules.version,
                status="open",
                hold_points=0,
                hold_lots=[],
                hold_expires_at=None,
                purchase=None,
            )
            if known["account_id"] is not None:  # the card's holder, locked by the read
                balance, tier = balance_of(known), str(known["tier"])
            else:  # a QR token's holder
                account = await lock_account(member_id)
                balance, tier = account.balance, account.tier
            live = await self.catalogue.live()
            response = await _describe(checkout, balance, live, tier=tier)
            writes = DeferredWrites()
            insert(checkout, now, into=writes)
            await remember_answer(terminal, key, fingerprint, response, status=201, into=writes)
            try:
                await send(writes)
            except UniqueViolationError as exc:
                if exc.constraint_name != "checkout_one_per_receipt":
                    raise
                # Another key opened a checkout for this receipt at the same moment.
                raise ExternalIdReused(
                    f"external_id {request.external_id!r} already has a checkout"
                ) from exc
        return response, False

    async def hold(
        self, *, terminal: TerminalCaller, checkout_id: uuid.UUID, request: HoldRequest, key: str
    ) -> tuple[CheckoutResponse, bool]:
        fingerprint = step_fingerprint(("hold", checkout_id, request))
        async with engine().transaction():
            row, checkout = await begin_step(
                LOCK_ACCOUNT, terminal, checkout_id, key, fingerprint, allowed=_OPEN
            )
            if isinstance(checkout, CheckoutResponse):
                return checkout, True  # the key's stored answer
            rules = await rules_at(checkout.rules_version)
            cap = max_redeemable(checkout.amount, rules)
            if request.points > cap:
                raise RedeemCapExceeded(
                    f"at most {cap} points may be spent on this check", max_redeemable_points=cap
                )
            now = datetime.now(UTC)
            change = AccountChange(account_of(row, checkout.member), now=now)
            cause = Cause("checkout", checkout.id)
            await change.void(checkout.hold_points, lots_of(checkout), cause)
            taken = await change.hold(request.points, cause)
            checkout.hold_points = request.points
            checkout.hold_lots = [[lot, points] for lot, points in taken]
            checkout.status = "held" if request.points else "open"
            checkout.hold_expires_at = (
                now + timedelta(seconds=rules.hold_ttl_s) if request.points else None
            )
            # The answer is known before the write (the balance is the change's own), so the
            # checkout's row and the key's answer go with the ledger's statement.
            live = await self.catalogue.live()
            response = await _describe(checkout, change.balance, live, tier=change.account.tier)
            writes = DeferredWrites()
            await save(checkout, now, into=writes)
            await remember_answer(terminal, key, fingerprint, response, into=writes)
            change.event("hold.updated", hold_event(checkout))
            _, envelopes = await change.finish(
                context={"checkout_id": str(checkout.id)}, writes=writes
            )
        await self.publisher.publish(envelopes)
        return response, False

    async def complete(
        self,
        *,
        terminal: TerminalCaller,
        checkout_id: uuid.UUID,
        request: CompleteRequest,
        key: str,
    ) -> tuple[CheckoutResponse, bool]:
        fingerprint = step_fingerprint(("complete", checkout_id, request))
        current = await current_rules()
        async with engine().transaction():
            row, checkout = await begin_step(
                LOCK_BUYER,
                terminal,
                checkout_id,
                key,
                fingerprint,
                allowed=_OPEN,
                since=tier_window(current),
            )
            if isinstance(checkout, CheckoutResponse):
                return checkout, True  # the key's stored answer
            now = datetime.now(UTC)
            if checkout.hold_expires_at is not None and checkout.hold_expires_at <= now:
                raise CheckoutNotOpen("the hold expired; open a new checkout")
            owed = checkout.amount - discount_for(checkout.hold_points)
            if request.paid_amount > owed:
                raise CheckoutNotOpen(
                    f"paid_amount {request.paid_amount} is more than the {owed} owed", owed=owed
                )
            rules = await rules_at(checkout.rules_version)
            sale = Sale(
                store_id=terminal.store_id,
                terminal_id=terminal.terminal_id,
                member_id=checkout.member,
                external_id=checkout.external_id,
                amount=checkout.amount,
                currency=checkout.currency,
                items=items_of(checkout),
                request_hash=request_fingerprint(msgspec.json.encode(["checkout", checkout.id])),
                rules=RulesVersion(version=checkout.rules_version, rules=rules),
                checkout_id=checkout.id,
                campaigns=await self.catalogue.live(),
            )
            buyer = None  # no account: settle_sale says so
            if row["account_id"] is not None:
                buyer = read_buyer(checkout.member, terminal.store_id, row, locked=True)
                if rules.tier_window_days != current.rules.tier_window_days:
                    # Read with the rules in force; the checkout's own decide the upgrade.
                    buyer = await lock_buyer(
                        checkout.member, store_id=terminal.store_id, since=tier_window(sale.rules)
                    )
            purchase, envelopes = await settle_sale(
                sale, captured=checkout.hold_points, paid_amount=request.paid_amount, buyer=buyer
            )
            assert buyer is not None  # settle_sale raised otherwise
            # The tier the sale left the member in, as settle_sale's upgrade_tier decided it.
            tier = tier_after(buyer.account.tier, buyer.spend_before + purchase.paid_amount, rules)
            checkout.status = "completed"
            checkout.purchase = purchase.purchase_id
            checkout.hold_expires_at = None
            response = await _describe(
                checkout,
                purchase.balance,
                await self.catalogue.live(),
                purchase=purchase,
                tier=tier,
            )
            writes = DeferredWrites()  # the checkout's row and the key's answer, one statement
            await save(checkout, now, into=writes)
            await remember_answer(terminal, key, fingerprint, response, into=writes)
            await send(writes)
        await self.publisher.publish(envelopes)
        return response, False

    async def cancel(
        self, *, terminal: TerminalCaller, checkout_id: uuid.UUID, key: str
    ) -> tuple[CheckoutResponse, bool]:
        fingerprint = step_fingerprint(("cancel", checkout_id))
        allowed = ("open", "held", "cancelled")
        async with engine().transaction():
            row, checkout = await begin_step(
                LOCK_ACCOUNT, terminal, checkout_id, key, fingerprint, allowed=allowed
            )
            if isinstance(checkout, CheckoutResponse):
                return checkout, True  # the key's stored answer
            now = datetime.now(UTC)
            change = AccountChange(account_of(row, checkout.member), now=now)
            if checkout.status != "cancelled":
                await change.void(
                    checkout.hold_points, lots_of(checkout), Cause("checkout", checkout.id)
                )
                if checkout.hold_points:
                    checkout.hold_points = 0
                    change.event("hold.updated", {**hold_event(checkout), "status": "cancelled"})
                checkout.status = "cancelled"
                checkout.hold_expires_at = None
                await save(checkout, now)
            _, envelopes = await change.finish(context={"checkout_id": str(checkout.id)})
            response = await _describe(
                checkout, change.balance, await self.catalogue.live(), tier=change.account.tier
            )
            await remember_answer(terminal, key, fingerprint, response)
        await self.publisher.publish(envelopes)
        return response, False


async def _describe(
    checkout: CheckoutRow,
    balance: Balance,
    campaigns: list[LiveCampaign],
    *,
    purchase: Any = None,
    tier: str,
) -> CheckoutResponse:
    """The checkout as the till sees it; ``tier``: the member's."""
    rules = await rules_at(checkout.rules_version)
    account_tier = tier
    owed = checkout.amount - discount_for(checkout.hold_points)
    eligible = eligible_amount(
        amount=checkout.amount, paid_amount=owed, items=items_of(checkout), rules=rules
    )
    to_earn = points_earned(eligible, rules.tier_earn_percent[account_tier])
    offers = (
        await preview_offers(
            campaigns,
            member_id=checkout.member,
            store_id=checkout.store,
            items=items_of(checkout),
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
