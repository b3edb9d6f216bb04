"""How many round trips to PostgreSQL one sale makes, counted on asyncpg's side.

docs/architecture.md states these counts; the test keeps them true. A round trip is one
statement asyncpg sends for the request (BEGIN and COMMIT included), counted only in the
tasks that serve HTTP requests, so nothing else the process does is counted.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg
import httpx
import pytest

from backend.loyalty.earning import discount_for
from backend.loyalty.rules import ProgramRules, publish_rules
from tests.backend.campaigns.helpers import launch, line
from tests.conftest import LiveServer
from tests.factories import (
    LoggedInMember,
    SignedInStaff,
    Till,
    buy,
    grant,
    log_in,
    on_checkout,
    open_checkout,
    purchase_body,
)

LATTE = line("latte", "coffee", 20000)


@contextmanager
def round_trips() -> Iterator[list[str]]:
    """Statements sent while the block runs, by tasks serving an HTTP request."""
    sent: list[str] = []
    original_execute = asyncpg.Connection.execute
    original_inner = asyncpg.Connection._execute

    def serving_a_request() -> bool:
        task = asyncio.current_task()
        return task is not None and "run_asgi" in task.get_coro().__qualname__

    async def execute(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        if not args and serving_a_request():  # with args, execute goes through _execute
            sent.append(query)
        return await original_execute(self, query, *args, **kwargs)

    async def inner(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
        if serving_a_request():
            sent.append(query)
        return await original_inner(self, query, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(asyncpg.Connection, "execute", execute)
        patch.setattr(asyncpg.Connection, "_execute", inner)
        yield sent


async def _trips(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember, **extra: Any
) -> int:
    """Round trips of one sale, after a first one has filled the caches it reads (the
    terminal's key, the campaign catalogue, the rules in force)."""
    assert (await buy(client, till, purchase_body(member.card_number))).status_code == 201
    body = purchase_body(member.card_number, amount=20000, items=[LATTE], **extra)
    with round_trips() as sent:
        response = await buy(client, till, body)
    assert response.status_code == 201, response.text
    return len(sent)


async def test_round_trips_of_a_sale(
    client: httpx.AsyncClient,
    live_server: LiveServer,
    admin: SignedInStaff,
    till: Till,
    member: LoggedInMember,
) -> None:
    counts: dict[str, int] = {}
    counts["plain"] = await _trips(client, till, member)
    await grant(member.member_id, 300)
    counts["redeeming points"] = await _trips(client, till, member, redeem_points=50)

    # A new member whose second sale crosses the gold threshold (the first is _trips' own).
    climber = await log_in(client, live_server.sms)
    await publish_rules(
        ProgramRules(tier_thresholds={"gold": 50000, "platinum": 500000}), staff_id=uuid.uuid4()
    )
    counts["an upgrade"] = await _trips(client, till, climber)
    assert (await client.get("/v1/me", headers=climber.headers)).json()["tier"] == "gold"

    reward = {"type": "reward", "cost_points": 150, "category": "coffee", "max_value": 20000}
    offer = await launch(client, admin, name="Free latte", rule=reward)
    bought = await client.post(
        f"/v1/me/offers/{offer['id']}/redeem",
        headers={**member.headers, "Idempotency-Key": "latte"},
    )
    assert bought.status_code == 201, bought.text
    code = bought.json()["offer"]["coupon_code"]
    counts["a coupon"] = await _trips(client, till, member, coupons=[code])

    await launch(client, admin, name="Double", rule={"type": "multiplier", "factor": 2})
    counts["a campaign"] = await _trips(client, till, member)
    capped = {"type": "bonus", "points": 5, "min_amount": 100}
    await launch(client, admin, name="Capped", rule=capped, total_limit=100)
    counts["a campaign with a total limit"] = await _trips(client, till, member)
    assert counts == {
        # No transaction around it: what the sale checks (the key's answer carried by its
        # purchase) with the buyer, read without a lock; the ledger and every write nobody
        # reads back, in one statement written only if the account has not moved since
        # (backend.till.purchases). The store's figures and stream are folded after commit
        # (backend.stores.folding).
        "plain": 2,
        "an upgrade": 2,  # the member's new tier is one more write of the ledger's statement
        # The member's campaign state (uses, stamps, activations) comes with the buyer, and
        # what a campaign writes (uses counted, the visit, coupons earned) goes with the
        # ledger's statement: a sale that only earns stays at two.
        "a campaign": 2,
        # Locked: BEGIN; what the sale checks with the buyer, the account locked; the lots
        # taken, oldest first; the ledger and every write; COMMIT.
        "redeeming points": 5,
        "a coupon": 6,  # BEGIN, read, the coupon read, then marked used, the ledger, COMMIT
        "a campaign with a total limit": 5,  # BEGIN, read, a share taken, the ledger, COMMIT
    }


async def test_round_trips_of_a_checkout(
    client: httpx.AsyncClient, till: Till, member: LoggedInMember
) -> None:
    # A first checkout, all the way, fills the caches its steps read (the terminal's key, the
    # campaign catalogue, the rules in force).
    await grant(member.member_id, 300)
    for points in (50, 60):
        counts: dict[str, int] = {}
        with round_trips() as sent:
            checkout = await open_checkout(client, till, member)
        counts["open"] = len(sent)
        with round_trips() as sent:
            held = await on_checkout(client, till, checkout, "hold", {"points": points})
        assert held.status_code == 200, held.text
        counts["hold"] = len(sent)
        with round_trips() as sent:
            owed = held.json()["amount"] - discount_for(points)
            body = {"payment_ref": "pay", "paid_amount": owed}
            done = await on_checkout(client, till, checkout, "complete", body)
        assert done.status_code == 200, done.text
        counts["complete"] = len(sent)
    # BEGIN; the key locked (its own statement: backend.idempotency.lock_key); its stored
    # answer read with what the step checks, the checkout locked, then its member's account
    # (backend.till.checkouts); the step's writes; COMMIT.
    assert counts == {
        "open": 5,  # the checkout inserted with the key's answer
        "hold": 6,  # the lots taken; the ledger with the checkout's row and the key's answer
        "complete": 6,  # the ledger; then the checkout's row with the key's answer
    }
