"""One-shot purchases at the till: earn (and optionally redeem) points in one transaction.

The purchase row carries the till's Idempotency-Key (``purchase.idempotency_key``, unique
per terminal) and its receipt (unique per store): no advisory lock and no idempotency record.
Two requests racing under one key, or with one receipt, both sell; the second's purchase
insert waits for the first's commit and fails on the unique constraint, and it runs again to
answer as the first did (same body: the first's answer, replayed; another body: 422).

A sale that only earns (a card, no points spent, no coupon, no campaign with a total limit
in effect: a campaign's uses, stamps and coupons are the buyer's own rows) is two statements
on one connection and no transaction around them: one read of everything it checks and of
its buyer, without a lock, and the ledger's one statement, written only if the buyer's
account has not moved since (``backend.loyalty.ledger``). When it has (another change to the
same member came between), nothing was written and the sale runs again the locked way:
BEGIN, the same read, the buyer locked, the other reads the sale needs, the write, COMMIT.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from asyncpg.exceptions import UniqueViolationError

from backend.auth.callers import TerminalCaller
from backend.campaigns.catalogue import LiveCampaign
from backend.errors import ExternalIdReused
from backend.idempotency import (
    StoredResponse,
    remember,
    request_fingerprint,
    stored_outcome,
)
from backend.loyalty.ledger import AccountMoved
from backend.loyalty.rules import RulesVersion, current_rules
from backend.ops.metrics import SALES_READ_AGAIN
from backend.sales.sale import (
    BUYER_COLUMNS,
    Sale,
    check_currency,
    check_items,
    read_buyer,
    settle_sale,
    tier_window,
)
from backend.sales.schemas import PurchaseResponse
from backend.stores.sale_cap import check_sale_amount
from backend.till.schemas import PurchaseRequest
from backend.till.selling import SellingService
from db import sql
from db.pool import engine
from realtime.publisher import Outgoing


@dataclass(frozen=True, slots=True)
class PurchaseOutcome:
    response: PurchaseResponse
    replayed: bool


# The key's answer: the purchase made under it, else a record (a key that retried a receipt
# sold under another key answers with that sale); and the card holder as the buyer
# (``BUYER_COLUMNS``): read without a lock for a sale that only earns, locked for any other.
_WHAT_IS_KNOWN = f"""
SELECT s.currency, s.max_sale_amount, s.time_zone AS store_zone, s.day_starts_at,
       COALESCE(kp.request_hash, k.request_hash) AS key_hash,
       COALESCE(CASE WHEN kp.id IS NOT NULL THEN 201 END, k.response_status) AS key_status,
       COALESCE(kp.result, k.response_body) AS key_body,
       p.id AS earlier_id, p.request_hash AS earlier_hash, p.result AS earlier_result,
       m.id AS card_holder, buyer.*
FROM (SELECT 1) AS one
LEFT JOIN store s ON s.id = {{store_id}}
LEFT JOIN purchase kp ON kp.terminal = {{terminal_id}} AND kp.idempotency_key = {{key}}
LEFT JOIN idempotency_record k ON kp.id IS NULL AND k.scope = {{scope}} AND k.key = {{key}}
LEFT JOIN purchase p ON p.store = {{store_id}} AND p.external_id = {{external_id}}
LEFT JOIN member m ON m.card_number = {{card_number}}
LEFT JOIN LATERAL (
    SELECT {BUYER_COLUMNS}
    FROM account a LEFT JOIN member_stats s ON s.member = a.member
    WHERE a.member = m.id
"""  # noqa: S608 (the fixed BUYER_COLUMNS, bound values)
_UNLOCKED = _WHAT_IS_KNOWN + ") AS buyer ON true"
_LOCKING = _WHAT_IS_KNOWN + "FOR UPDATE OF a) AS buyer ON true"

# A sale that lost a race to one of these runs again, to answer as the winner did.
_RACES_LOST = frozenset({"one_per_receipt", "one_key_per_terminal", "one_per_key"})


async def what_is_known(
    terminal: TerminalCaller,
    request: PurchaseRequest,
    idempotency_key: str,
    *,
    since: datetime,
    unlocked: bool,
) -> Mapping[str, Any]:
    """Everything a purchase checks before it sells, in one round trip: the key's stored
    outcome, an earlier purchase with this receipt, the store's currency, maximum sale and
    clock, the card's holder and that holder as the buyer (tier window from ``since``), read
    without a lock (``unlocked``) or with the account locked."""
    rows = await sql.fetch(
        _UNLOCKED if unlocked else _LOCKING,
        store_id=terminal.store_id,
        terminal_id=terminal.terminal_id,
        scope=terminal.scope,
        key=idempotency_key,
        external_id=request.external_id,
        card_number=request.customer.card_number,
        since=since,
    )
    return rows[0]


class PurchaseService(SellingService):
    async def record_purchase(
        self, *, terminal: TerminalCaller, request: PurchaseRequest, idempotency_key: str
    ) -> PurchaseOutcome:
        check_items(request.items, request.amount)
        try:
            return await self._record(terminal, request, idempotency_key)
        except UniqueViolationError as exc:
            if exc.constraint_name not in _RACES_LOST:
                raise
            # Another request with this key or receipt won the race; answer as it did.
            return await self._record(terminal, request, idempotency_key)

    async def _record(
        self, terminal: TerminalCaller, request: PurchaseRequest, idempotency_key: str
    ) -> PurchaseOutcome:
        rules = await current_rules()
        campaigns = await self.catalogue.live()
        # A sale that only earns (campaigns included, their uses and stamps are the buyer's
        # own rows) is read without a lock and written in one statement that fails if the
        # account moved meanwhile. Points spent, a coupon or a total limit's share take
        # rows that other changes contend for: read with the buyer locked.
        only_earns = (
            request.customer.card_number is not None
            and not request.redeem_points
            and not request.coupons
            and all(campaign.total_limit is None for campaign in campaigns)
        )
        if only_earns:
            try:
                async with sql.one_connection():
                    outcome, envelopes = await self._sell(
                        terminal, request, idempotency_key, rules, campaigns, unlocked=True
                    )
            except AccountMoved:
                # Another change to the buyer came between the read and the write.
                SALES_READ_AGAIN.inc()
            else:
                await self.publisher.publish(envelopes)
                return outcome
        async with engine().transaction():
            outcome, envelopes = await self._sell(
                terminal, request, idempotency_key, rules, campaigns, unlocked=False
            )
        await self.publisher.publish(envelopes)
        return outcome

    async def _sell(
        self,
        terminal: TerminalCaller,
        request: PurchaseRequest,
        idempotency_key: str,
        rules: RulesVersion,
        campaigns: list[LiveCampaign],
        *,
        unlocked: bool,
    ) -> tuple[PurchaseOutcome, list[Outgoing]]:
        """The sale, or the answer already given; ``unlocked``: its buyer read without a lock
        (the caller runs it outside a transaction), else locked in the caller's."""
        fingerprint = request_fingerprint(msgspec.json.encode(request))
        scope = terminal.scope
        known = await what_is_known(
            terminal, request, idempotency_key, since=tier_window(rules), unlocked=unlocked
        )
        stored = stored_outcome(
            request_hash=known["key_hash"],
            status=known["key_status"],
            body=sql.loaded_json(known["key_body"]),
            fingerprint=fingerprint,
        )
        if stored is not None:
            return _replay(stored), []
        if known["earlier_id"] is not None:
            # The till retried with a new key: same receipt, same answer, no double earn.
            if known["earlier_hash"] != fingerprint:
                raise ExternalIdReused(
                    f"external_id {request.external_id!r} belongs to another purchase",
                    purchase_id=str(known["earlier_id"]),
                )
            replay = StoredResponse(status=201, body=sql.loaded_json(known["earlier_result"]))
            await remember(
                scope=scope, key=idempotency_key, fingerprint=fingerprint, response=replay
            )
            return _replay(replay), []
        check_currency(known["currency"], request.currency)
        check_sale_amount(request.amount, known["max_sale_amount"])
        member_id = await self.customers.identify(
            request.customer, card_holder=known["card_holder"]
        )
        sale = Sale(
            store_id=terminal.store_id,
            terminal_id=terminal.terminal_id,
            member_id=member_id,
            external_id=request.external_id,
            amount=request.amount,
            currency=request.currency,
            items=request.items,
            request_hash=fingerprint,
            rules=rules,
            campaigns=campaigns,
            coupons=request.coupons,
            idempotency_key=idempotency_key,
        )
        buyer = None  # a QR token's holder: locked by settle_sale
        if known["account_id"] is not None:
            buyer = read_buyer(member_id, terminal.store_id, known, locked=not unlocked)
        elif unlocked:
            raise AccountMoved(f"member {member_id} has no account to read")
        response, envelopes = await settle_sale(sale, redeem=request.redeem_points, buyer=buyer)
        return PurchaseOutcome(response=response, replayed=False), envelopes


def _replay(stored: StoredResponse) -> PurchaseOutcome:
    return PurchaseOutcome(response=msgspec.convert(stored.body, PurchaseResponse), replayed=True)
