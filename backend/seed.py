"""Demo data for development (``astrocoffee seed-demo``): a store, a terminal, a few members."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from backend.accounting.documents import record_document
from backend.auth.terminals import create_terminal
from backend.loyalty.book import AccountChange, Cause
from backend.loyalty.ledger import lock_account
from backend.loyalty.rules import current_rules
from backend.members.service import enrol_or_get_member
from db.pool import engine
from db.tables import Member, Store

DEMO_STORE_CODE = "DEMO-1"
DEMO_PHONES = ("+79990000001", "+79990000002", "+79990000003")
WELCOME_POINTS = 150


@dataclass(frozen=True, slots=True)
class DemoMember:
    phone: str
    card_number: str


@dataclass(frozen=True, slots=True)
class DemoSeed:
    created: bool
    store_code: str
    terminal_key: str | None
    members: tuple[DemoMember, ...]


async def seed_demo(*, new_terminal: bool = False) -> DemoSeed:
    """Create the demo data if missing. The terminal key is returned only when one is made."""
    store = await Store.objects().where(Store.code == DEMO_STORE_CODE).first()
    created = store is None
    if store is None:
        store = Store(code=DEMO_STORE_CODE, name="Astrocoffee Demo, Tverskaya 1", currency="RUB")
        await store.save()
    key = None
    if created or new_terminal:
        _, key = await create_terminal(store=store, name="Demo till")
    members = []
    for phone in DEMO_PHONES:
        if created:
            member_id = await enrol_or_get_member(phone)
            await _welcome(member_id)
        row = await Member.select(Member.card_number).where(Member.phone == phone).first()
        if row is not None:
            members.append(DemoMember(phone=phone, card_number=row["card_number"]))
    return DemoSeed(
        created=created, store_code=DEMO_STORE_CODE, terminal_key=key, members=tuple(members)
    )


async def _welcome(member_id: uuid.UUID) -> None:
    async with engine().transaction():
        change = AccountChange(await lock_account(member_id), now=datetime.now(UTC))
        await change.credit(
            "adjustment", WELCOME_POINTS, Cause("seed", None, "demo"), (await current_rules()).rules
        )
        # Points owed are a liability the accounting system books, demo points included.
        await record_document(
            type="points_adjustment",
            reference=member_id,
            occurred_at=change.now,
            points_liability_delta=WELCOME_POINTS,
        )
        await change.finish(context={"reason": "adjustment"})
