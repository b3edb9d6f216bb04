"""Demo data for development (``astrocoffee seed-demo``): a store, a terminal, a few members."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from backend.accounting.documents import program_day, record_document
from backend.auth.terminals import create_terminal
from backend.loyalty.book import AccountChange, Cause
from backend.loyalty.ledger import lock_account
from backend.loyalty.rules import current_rules
from backend.members.service import enrol_or_get_member
from backend.settings import Settings
from backend.staff.schemas import PASSWORD_MIN_LENGTH
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
        store = Store(
            code=DEMO_STORE_CODE,
            name="Astrocoffee Demo, Tverskaya 1",
            currency="RUB",
            time_zone="Europe/Moscow",
        )
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
            business_date=program_day(change.now),
            points_liability_delta=WELCOME_POINTS,
        )
        await change.finish(context={"reason": "adjustment"})


def how_to_try(settings: Settings, seed: DemoSeed) -> str:
    """What to do with the demo data: the lines ``seed-demo`` prints."""
    base = f"http://{settings.host}:{settings.port}"
    member = seed.members[0]
    lines = ["", "=== Astrocoffee demo ===", f"store {seed.store_code}; members:"]
    lines += [f"  phone {m.phone}  card {m.card_number}" for m in seed.members]
    if seed.terminal_key:
        lines += [
            f"demo terminal key (shown once, keep it): {seed.terminal_key}",
            f"  (README.md, 'First ten minutes', step 2: KEY={seed.terminal_key})",
            "",
            # A new receipt and key on every run: a repeated one is an idempotent replay, and
            # running the command again would move nothing.
            "Record a purchase (350.00 RUB earns 17 points; each run is a new sale):",
            f"  curl -s -X POST {base}/v1/purchases -H 'X-Api-Key: {seed.terminal_key}' \\",
            "    -H \"Idempotency-Key: demo-$(date +%s%N)\" -H 'Content-Type: application/json' \\",
            f'    -d \'{{"customer": {{"card_number": "{member.card_number}"}}, '
            '"external_id": "receipt-\'$(date +%s%N)\'", "amount": 35000, "currency": "RUB"}\'',
        ]
    else:
        lines += [
            "the demo terminal key was printed when the demo data was created;",
            "for a new one run: .venv/bin/astrocoffee seed-demo --new-terminal",
        ]
    code = settings.dev_otp_code or "<the code in the log>"
    lines += [
        "",
        "Log in as a demo member (at most "
        f"{settings.otp_sends_per_phone} codes per phone per {settings.otp_send_window_s // 60} "
        "minutes; then use another demo phone):",
        f"  curl -s -X POST {base}/v1/auth/otp -H 'Content-Type: application/json' "
        f'-d \'{{"phone": "{member.phone}"}}\'',
        f"  curl -s -X POST {base}/v1/auth/token -H 'Content-Type: application/json' "
        f'-d \'{{"phone": "{member.phone}", "code": "{code}"}}\'',
        f"  curl -s {base}/v1/me -H 'Authorization: Bearer <access_token>'",
        "Watch the balance live:",
        f"  .venv/bin/python -m websockets 'ws://{settings.host}:{settings.port}/v1/ws?token=<access_token>'",
        '  then type {"type":"resume","last_seq":<last_seq of ready>} (live events wait for it)',
        "Staff: .venv/bin/astrocoffee create-admin --email you@example.com --name You "
        f"(password: at least {PASSWORD_MIN_LENGTH} characters), then log in at {base}/staff",
        "The whole tour, step by step: README.md, 'First ten minutes'.",
        "",
    ]
    return "\n".join(lines)
