"""One-shot purchases at the till: earn (and optionally redeem) points in one transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import msgspec
from asyncpg.exceptions import UniqueViolationError

from backend.auth.callers import TerminalCaller
from backend.errors import (
    CurrencyMismatch,
    ExternalIdReused,
    InsufficientPoints,
    MemberNotFound,
    Unprocessable,
    ValidationFailed,
)
from backend.idempotency import StoredResponse, claim, remember, request_fingerprint
from backend.loyalty.earning import discount_for, max_redeemable, points_earned
from backend.loyalty.events import append_member_event
from backend.loyalty.ledger import EntryDraft, lock_account, post_entries
from backend.loyalty.tiers import earn_percent
from backend.members.card_numbers import is_valid_card_number
from backend.members.qr import QrTokens
from backend.payments.schemas import Customer, PurchaseRequest, PurchaseResponse
from db.ids import new_id
from db.pool import engine
from db.tables import Member, Purchase, Store
from realtime.publisher import EventPublisher


@dataclass(frozen=True, slots=True)
class PurchaseOutcome:
    response: PurchaseResponse
    replayed: bool


class PurchaseService:
    def __init__(self, *, qr_tokens: QrTokens, publisher: EventPublisher) -> None:
        self._qr_tokens = qr_tokens
        self._publisher = publisher

    async def record_purchase(
        self, *, terminal: TerminalCaller, request: PurchaseRequest, idempotency_key: str
    ) -> PurchaseOutcome:
        _check_items(request)
        try:
            return await self._record(terminal, request, idempotency_key)
        except UniqueViolationError as exc:
            if exc.constraint_name != "one_per_receipt":
                raise
            # Another key raced us to the same receipt and won; run again to answer as it did.
            return await self._record(terminal, request, idempotency_key)

    async def _record(
        self, terminal: TerminalCaller, request: PurchaseRequest, idempotency_key: str
    ) -> PurchaseOutcome:
        fingerprint = request_fingerprint(msgspec.json.encode(request))
        scope = terminal.scope
        async with engine().transaction():
            stored = await claim(scope=scope, key=idempotency_key, fingerprint=fingerprint)
            if stored is not None:
                return _replay(stored)
            earlier = await _purchase_by_external_id(terminal.store_id, request.external_id)
            if earlier is not None:
                # The till retried with a new key: same receipt, same answer, no double earn.
                if earlier["request_hash"] != fingerprint:
                    raise ExternalIdReused(
                        f"external_id {request.external_id!r} belongs to another purchase",
                        purchase_id=str(earlier["id"]),
                    )
                replay = StoredResponse(status=201, body=earlier["result"])
                await remember(
                    scope=scope, key=idempotency_key, fingerprint=fingerprint, response=replay
                )
                return _replay(replay)
            await _check_currency(terminal.store_id, request.currency)
            member_id = await self._identify(request.customer)
            response, envelopes = await _settle(terminal, member_id, request, fingerprint)
            await remember(
                scope=scope,
                key=idempotency_key,
                fingerprint=fingerprint,
                response=StoredResponse(status=201, body=msgspec.to_builtins(response)),
            )
        await self._publisher.publish_member_events(str(member_id), envelopes)
        return PurchaseOutcome(response=response, replayed=False)

    async def _identify(self, customer: Customer) -> uuid.UUID:
        if (customer.card_number is None) == (customer.qr_token is None):
            raise ValidationFailed("customer needs exactly one of card_number and qr_token")
        if customer.qr_token is not None:
            member_id = await self._qr_tokens.consume(customer.qr_token)
            if member_id is None:
                raise MemberNotFound("the QR token is unknown, expired or already used")
            return member_id
        assert customer.card_number is not None
        if not is_valid_card_number(customer.card_number):
            raise ValidationFailed("card_number fails its check digit")
        row = (
            await Member.select(Member.id).where(Member.card_number == customer.card_number).first()
        )
        if row is None:
            raise MemberNotFound("no member has this card number")
        return uuid.UUID(str(row["id"]))


async def _settle(
    terminal: TerminalCaller, member_id: uuid.UUID, request: PurchaseRequest, fingerprint: str
) -> tuple[PurchaseResponse, list[bytes]]:
    account = await lock_account(member_id)
    redeem = request.redeem_points
    if redeem > max_redeemable(request.amount):
        raise Unprocessable(
            f"at most {max_redeemable(request.amount)} points may be spent on this check",
            max_redeemable_points=max_redeemable(request.amount),
        )
    if redeem > account.balance.available:
        raise InsufficientPoints(
            f"{redeem} points requested, {account.balance.available} available",
            available=account.balance.available,
        )
    paid_amount = request.amount - discount_for(redeem)
    earned = points_earned(paid_amount, earn_percent(account.tier))
    purchase_id = new_id()
    entries = []
    if redeem:
        entries.append(EntryDraft("redeem", "purchase", purchase_id, available_delta=-redeem))
    if earned:
        entries.append(EntryDraft("earn", "purchase", purchase_id, available_delta=earned))
    balance = await post_entries(account, entries) if entries else account.balance
    response = PurchaseResponse(
        purchase_id=purchase_id,
        member_id=member_id,
        external_id=request.external_id,
        amount=request.amount,
        paid_amount=paid_amount,
        currency=request.currency,
        points_redeemed=redeem,
        points_earned=earned,
        offers_applied=[],
        balance=balance,
    )
    await Purchase(
        id=purchase_id,
        store=terminal.store_id,
        terminal=terminal.terminal_id,
        member=member_id,
        external_id=request.external_id,
        amount=request.amount,
        paid_amount=paid_amount,
        currency=request.currency,
        points_earned=earned,
        points_redeemed=redeem,
        request_hash=fingerprint,
        result=msgspec.to_builtins(response),
    ).save()
    envelopes = []
    if entries:
        summary = {
            "purchase_id": str(purchase_id),
            "store_id": str(terminal.store_id),
            "points_earned": earned,
            "points_redeemed": redeem,
            "paid_amount": paid_amount,
            "currency": request.currency,
        }
        _, created = await append_member_event(
            member_id=member_id, type="transaction.created", data=summary
        )
        _, updated = await append_member_event(
            member_id=member_id,
            type="balance.updated",
            data={**msgspec.to_builtins(balance), "reason": "purchase", **summary},
        )
        envelopes = [created, updated]
    return response, envelopes


def _check_items(request: PurchaseRequest) -> None:
    if request.items:
        total = sum(item.quantity * item.unit_price for item in request.items)
        if total != request.amount:
            raise ValidationFailed(
                f"items add up to {total}, but amount is {request.amount}", items_total=total
            )


async def _purchase_by_external_id(
    store_id: uuid.UUID, external_id: str
) -> dict[str, object] | None:
    row: dict[str, object] | None = (
        await Purchase.select(Purchase.id, Purchase.request_hash, Purchase.result)
        .where((Purchase.store == store_id) & (Purchase.external_id == external_id))
        .first()
        .output(load_json=True)
    )
    return row


async def _check_currency(store_id: uuid.UUID, currency: str) -> None:
    row = await Store.select(Store.currency).where(Store.id == store_id).first()
    if row is not None and row["currency"] != currency:
        raise CurrencyMismatch(f"this store takes {row['currency']}, not {currency}")


def _replay(stored: StoredResponse) -> PurchaseOutcome:
    return PurchaseOutcome(response=msgspec.convert(stored.body, PurchaseResponse), replayed=True)
