"""Random sequences of every kind of points operation, checked after each step.

Driven through the real services on the real database: purchases (with and without
redemption), checkout holds, completions, cancellations, hold expiry, refunds, the return
window, expiry and staff adjustments. After every step:

* the cached balance equals the sum of the ledger, and lots and holds agree with it;
* no point is created or lost: the balance equals what the operations themselves reported
  (earned - redeemed - captured - reversed + returned + adjusted - expired);
* ``available`` goes below zero only through a refund reversal;
* the member's event seqs are 1..n without a gap.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.auth.callers import Role, StaffCaller, TerminalCaller
from backend.campaigns.catalogue import Catalogue
from backend.errors import DomainError
from backend.loyalty.adjustments import AdjustmentRequest, adjust_points
from backend.loyalty.expiry import expire_points, release_pending
from backend.loyalty.rules import ProgramRules, publish_rules
from backend.loyalty.verify import find_mismatches
from backend.members.qr import QrTokens
from backend.members.service import enrol_or_get_member
from backend.sales.customers import CustomerResolver
from backend.sales.schemas import Customer
from backend.till.checkout_expiry import expire_holds
from backend.till.checkout_schemas import (
    CheckoutRequest,
    CheckoutResponse,
    CompleteRequest,
    HoldRequest,
)
from backend.till.checkouts import CheckoutService
from backend.till.purchases import PurchaseService
from backend.till.refunds import RefundRequest, RefundService
from backend.till.schemas import PurchaseRequest
from db.tables import Account, Checkout, Member, MemberEvent, PointLot
from realtime.publisher import EventPublisher
from tests.conftest import LiveServer
from tests.factories import open_till, unique_phone


@dataclass
class Sale:
    id: str
    amount: int
    earned: int
    redeemed: int
    refunded: int = 0

    def refund(self, amount: int) -> tuple[int, int]:
        """What refunding ``amount`` more must reverse and return, computed independently:
        each cumulative share is rounded down."""
        before, self.refunded = self.refunded, self.refunded + amount
        reversed_ = self.earned * self.refunded // self.amount - self.earned * before // self.amount
        returned = (
            self.redeemed * self.refunded // self.amount - self.redeemed * before // self.amount
        )
        return reversed_, returned


@dataclass
class Model:
    """What the operations said they did; the balance must add up to this."""

    total: int = 0
    purchases: list[Sale] = field(default_factory=list)
    checkouts: list[str] = field(default_factory=list)
    clock: datetime = field(default_factory=lambda: datetime.now(UTC))


amounts = st.integers(min_value=100, max_value=200_000)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("purchase"), amounts, st.integers(0, 1000)),
        st.tuples(st.just("checkout"), amounts, st.integers(0, 1000)),
        st.tuples(st.just("complete"), st.integers(0, 10), st.floats(0, 1)),
        st.tuples(st.just("cancel"), st.integers(0, 10), st.just(0)),
        st.tuples(st.just("refund"), st.integers(0, 10), st.floats(0.01, 1)),
        st.tuples(st.just("adjust"), st.integers(-300, 300), st.just(0)),
        st.tuples(st.just("time"), st.integers(1, 400), st.just(0)),
    ),
    min_size=1,
    max_size=14,
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    steps=operations,
    return_window=st.sampled_from([0, 0, 7]),
    start=st.integers(min_value=1, max_value=600),
)
async def test_random_operations_never_lose_or_invent_a_point(
    live_server: LiveServer, steps: list[tuple[str, int, float]], return_window: int, start: int
) -> None:
    await publish_rules(
        ProgramRules(return_window_days=return_window, points_expire_after_days=90, hold_ttl_s=600),
        staff_id=uuid.uuid4(),
    )
    till = await open_till()
    terminal = TerminalCaller(terminal_id=till.terminal_id or uuid.uuid4(), store_id=till.store_id)
    member_id = await enrol_or_get_member(unique_phone())
    card = (await Member.select(Member.card_number).where(Member.id == member_id).first() or {})[
        "card_number"
    ]
    state = live_server.app.state  # the app's own Redis: events really are published
    publisher = EventPublisher(redis=state.redis, prefix=state.settings.redis_prefix)
    customers = CustomerResolver(
        qr_tokens=QrTokens(redis=state.redis, prefix=state.settings.redis_prefix)
    )
    catalogue = Catalogue(redis=state.redis, prefix=state.settings.redis_prefix)
    purchases = PurchaseService(customers=customers, publisher=publisher, catalogue=catalogue)
    checkouts = CheckoutService(customers=customers, publisher=publisher, catalogue=catalogue)
    refunds = RefundService(publisher=publisher)
    staff = StaffCaller(
        staff_id=uuid.uuid4(), role=Role.ADMIN, store_ids=frozenset(), session_id="p"
    )
    model = Model()
    # A starting balance, so that spending is possible from the first step.
    await adjust_points(
        staff=staff,
        member_id=member_id,
        request=AdjustmentRequest(points=start, reason="opening balance"),
        key=uuid.uuid4().hex,
        publisher=publisher,
    )
    model.total = start

    for kind, a, b in steps:
        before = await _available(member_id)
        key = uuid.uuid4().hex
        try:
            if kind == "purchase":
                done = await purchases.record_purchase(
                    terminal=terminal,
                    request=PurchaseRequest(
                        customer=Customer(card_number=card),
                        external_id=key,
                        amount=a,
                        redeem_points=min(int(b), a // 200),
                    ),
                    idempotency_key=key,
                )
                r = done.response
                model.total += r.points_earned - r.points_redeemed
                model.purchases.append(
                    Sale(str(r.purchase_id), a, r.points_earned, r.points_redeemed)
                )
            elif kind == "checkout":
                opened, _ = await checkouts.open(
                    terminal=terminal,
                    request=CheckoutRequest(
                        customer=Customer(card_number=card), external_id=key, amount=a
                    ),
                    key=key,
                )
                model.checkouts.append(str(opened.checkout_id))
                await checkouts.hold(
                    terminal=terminal,
                    checkout_id=opened.checkout_id,
                    request=HoldRequest(points=min(int(b), opened.max_redeemable_points)),
                    key=key + "h",
                )
            elif kind == "complete" and model.checkouts:
                checkout_id = uuid.UUID(model.checkouts[a % len(model.checkouts)])
                done, _ = await _complete(checkouts, terminal, checkout_id, b, key)
                if done is not None and done.purchase is not None:
                    p = done.purchase
                    model.total += p.points_earned - p.points_redeemed
                    model.purchases.append(
                        Sale(str(p.purchase_id), p.amount, p.points_earned, p.points_redeemed)
                    )
            elif kind == "cancel" and model.checkouts:
                checkout_id = uuid.UUID(model.checkouts[a % len(model.checkouts)])
                await checkouts.cancel(terminal=terminal, checkout_id=checkout_id, key=key)
            elif kind == "refund" and model.purchases:
                sale = model.purchases[a % len(model.purchases)]
                left = sale.amount - sale.refunded
                if left > 0:
                    amount = min(left, max(1, int(left * b)))
                    done, _ = await refunds.refund(
                        caller=terminal,
                        purchase_id=uuid.UUID(sale.id),
                        request=RefundRequest(amount=amount),
                        key=key,
                    )
                    reversed_, returned = sale.refund(amount)
                    assert (done.points_reversed, done.points_returned) == (reversed_, returned)
                    model.total += returned - reversed_
            elif kind == "adjust" and a != 0:
                done, _ = await adjust_points(
                    staff=staff,
                    member_id=member_id,
                    request=AdjustmentRequest(points=a, reason="property test"),
                    key=key,
                    publisher=publisher,
                )
                model.total += a
            elif kind == "time":
                model.clock += timedelta(days=a)
                await expire_holds(publisher, now=model.clock + timedelta(hours=1))
                await release_pending(publisher, now=model.clock)
                # The job serves every account; count what it reported for this member's.
                before_expiry = await _expired(member_id)
                await expire_points(publisher, now=model.clock)
                model.total -= await _expired(member_id) - before_expiry
        except DomainError:
            pass  # refused (insufficient points, closed checkout, ...): nothing may change

        await _check(member_id, model, before, refund_step=kind == "refund")


async def _complete(
    checkouts: CheckoutService,
    terminal: TerminalCaller,
    checkout_id: uuid.UUID,
    fraction: float,
    key: str,
) -> tuple[CheckoutResponse, bool]:

    row = (
        await Checkout.select(Checkout.amount, Checkout.hold_points)
        .where(Checkout.id == checkout_id)
        .first()
    )
    assert row is not None
    owed = row["amount"] - row["hold_points"] * 100
    return await checkouts.complete(
        terminal=terminal,
        checkout_id=checkout_id,
        request=CompleteRequest(payment_ref="p", paid_amount=int(owed * fraction)),
        key=key,
    )


async def _expired(member_id: uuid.UUID) -> int:
    from db.tables import LedgerEntry

    rows = await LedgerEntry.raw(
        "SELECT COALESCE(-SUM(e.available_delta), 0)::bigint AS points FROM ledger_entry e "
        "JOIN account a ON a.id = e.account WHERE a.member = {} AND e.kind = 'expiry'",
        member_id,
    )
    return int(rows[0]["points"])


async def _available(member_id: uuid.UUID) -> int:
    row = await Account.select(Account.available).where(Account.member == member_id).first()
    assert row is not None
    return int(row["available"])


async def _check(
    member_id: uuid.UUID, model: Model, available_before: int, *, refund_step: bool
) -> None:
    assert await find_mismatches() == []
    account = (
        await Account.select(
            Account.id, Account.available, Account.pending, Account.held, Account.last_event_seq
        )
        .where(Account.member == member_id)
        .first()
    )
    assert account is not None
    # Held points are still the member's until captured; they count.
    assert account["available"] + account["pending"] + account["held"] == model.total
    if not refund_step:
        assert account["available"] >= min(0, available_before)
    seqs = [
        e["seq"]
        for e in await MemberEvent.select(MemberEvent.seq)
        .where(MemberEvent.member == member_id)
        .order_by(MemberEvent.seq)
    ]
    assert seqs == list(range(1, account["last_event_seq"] + 1))
    negative_lots = await PointLot.count().where(PointLot.remaining < 0)
    assert negative_lots == 0
