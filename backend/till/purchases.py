"""One-shot purchases at the till: earn (and optionally redeem) points in one transaction.

The purchase row carries the till's Idempotency-Key (``purchase.idempotency_key``, unique
per terminal) and its receipt (unique per store): no advisory lock and no idempotency record.
Two requests racing under one key, or with one receipt, both sell; the second's purchase
insert waits for the first's commit and fails on the unique constraint, and it runs again to
answer as the first did (same body: the first's answer, replayed; another body: 422).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
from asyncpg.exceptions import UniqueViolationError

from backend.auth.callers import TerminalCaller
from backend.errors import ExternalIdReused
from backend.idempotency import (
    StoredResponse,
    remember,
    request_fingerprint,
    stored_outcome,
)
from backend.loyalty.rules import current_rules
from backend.sales.sale import Sale, check_currency, check_items, settle_sale
from backend.sales.schemas import PurchaseResponse
from backend.stores.sale_cap import check_sale_amount
from backend.till.schemas import PurchaseRequest
from backend.till.selling import SellingService
from db import sql
from db.pool import engine


@dataclass(frozen=True, slots=True)
class PurchaseOutcome:
    response: PurchaseResponse
    replayed: bool


# The key's answer: the purchase made under it, else a record (a key that retried a receipt
# sold under another key answers with that sale).
_WHAT_IS_KNOWN = """
SELECT s.currency, s.max_sale_amount,
       COALESCE(kp.request_hash, k.request_hash) AS key_hash,
       COALESCE(CASE WHEN kp.id IS NOT NULL THEN 201 END, k.response_status) AS key_status,
       COALESCE(kp.result, k.response_body) AS key_body,
       p.id AS earlier_id, p.request_hash AS earlier_hash, p.result AS earlier_result,
       m.id AS card_holder
FROM (SELECT 1) AS one
LEFT JOIN store s ON s.id = {store_id}
LEFT JOIN purchase kp ON kp.terminal = {terminal_id} AND kp.idempotency_key = {key}
LEFT JOIN idempotency_record k ON kp.id IS NULL AND k.scope = {scope} AND k.key = {key}
LEFT JOIN purchase p ON p.store = {store_id} AND p.external_id = {external_id}
LEFT JOIN member m ON m.card_number = {card_number}
"""

# A sale that lost a race to one of these runs again, to answer as the winner did.
_RACES_LOST = frozenset({"one_per_receipt", "one_key_per_terminal", "one_per_key"})


async def what_is_known(
    terminal: TerminalCaller, request: PurchaseRequest, idempotency_key: str
) -> Mapping[str, Any]:
    """Everything a purchase checks before it sells, in one round trip: the key's stored
    outcome, an earlier purchase with this receipt, the store's currency and maximum sale, the
    card's holder."""
    rows = await sql.fetch(
        _WHAT_IS_KNOWN,
        store_id=terminal.store_id,
        terminal_id=terminal.terminal_id,
        scope=terminal.scope,
        key=idempotency_key,
        external_id=request.external_id,
        card_number=request.customer.card_number,
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
        fingerprint = request_fingerprint(msgspec.json.encode(request))
        scope = terminal.scope
        async with engine().transaction():
            known = await what_is_known(terminal, request, idempotency_key)
            stored = stored_outcome(
                request_hash=known["key_hash"],
                status=known["key_status"],
                body=sql.loaded_json(known["key_body"]),
                fingerprint=fingerprint,
            )
            if stored is not None:
                return _replay(stored)
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
                return _replay(replay)
            check_currency(known["currency"], request.currency)
            check_sale_amount(request.amount, known["max_sale_amount"])
            member_id = await self._customers.identify(
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
                rules=await current_rules(),
                campaigns=await self._catalogue.live(),
                coupons=request.coupons,
                idempotency_key=idempotency_key,
            )
            response, envelopes = await settle_sale(sale, redeem=request.redeem_points)
        await self._publisher.publish(envelopes)
        return PurchaseOutcome(response=response, replayed=False)


def _replay(stored: StoredResponse) -> PurchaseOutcome:
    return PurchaseOutcome(response=msgspec.convert(stored.body, PurchaseResponse), replayed=True)
