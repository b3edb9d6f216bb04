"""Bulk seeding for load tests, benches and the fault tests: stores with their tills, members
with their accounts (and, if asked, a starting balance written as the ledger would write it)
and a login session each, straight into PostgreSQL (COPY) and Redis, without one HTTP call
per row.

- ``seed``: all of it on a fresh database in one call (the benches, the fault tests);
- ``insert_stores``, ``insert_members``, ``open_sessions``: the parts, on a connection (and
  transaction) of the caller's (``loadtests/seed.py`` adds managers and campaigns).

What is written is what the services write: API keys are random and only their SHA-256 is
stored (``backend.auth.api_keys``, as ``create_terminal``); card numbers carry their Luhn
check digit; sessions and tokens come from ``SessionStore`` and ``TokenIssuer``, so that a
server with the same secret key and Redis prefix accepts them.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg

DAY_S = 24 * 3600


@dataclass(frozen=True)
class SeededTill:
    terminal_id: str
    key: str  # its API key (secret)


@dataclass(frozen=True)
class SeededStore:
    store_id: str
    code: str
    tills: list[SeededTill]


@dataclass
class SeededMember:
    member_id: str
    account_id: str
    phone: str
    card_number: str
    token: str = ""  # the access token of its login session (``open_sessions``)
    refresh_token: str = ""


@dataclass
class Seeded:
    stores: list[SeededStore]
    members: list[SeededMember] = field(default_factory=list)

    @property
    def store_id(self) -> str:
        """The first store's id."""
        return self.stores[0].store_id

    @property
    def till_keys(self) -> list[str]:
        """Every till's API key, store by store."""
        return [till.key for store in self.stores for till in store.tills]


async def seed(
    database_url: str,
    redis_url: str,
    *,
    redis_prefix: str,
    secret_key: str,
    members: int,
    stores: int = 1,
    tills_per_store: int = 1,
    store_name: str = "Seeded store",
    code_prefix: str = "S",
    token_ttl_s: int = DAY_S,
    device: str = "devkit",
) -> Seeded:
    """``stores`` stores (codes ``<code_prefix><run>-0000``...) with ``tills_per_store``
    tills each and ``members`` members with a login session each (their tokens valid for
    ``token_ttl_s``), on a migrated database."""
    from devkit.redis_cluster import client_of

    connection = await asyncpg.connect(database_url)
    try:
        async with connection.transaction():
            run = await free_run_number(connection, code_prefix=code_prefix)
            seeded = Seeded(
                await insert_stores(
                    connection,
                    stores,
                    run=run,
                    name=store_name,
                    tills_per_store=tills_per_store,
                    code_prefix=code_prefix,
                ),
                await insert_members(connection, members, run=run),
            )
    finally:
        await connection.close()
    redis = await client_of(redis_url)  # a cluster's node too (the fault tests' cluster)
    try:
        await open_sessions(
            seeded.members,
            redis=redis,
            prefix=redis_prefix,
            secret_key=secret_key,
            access_ttl_s=token_ttl_s,
            refresh_ttl_s=token_ttl_s,
            device=device,
        )
    finally:
        await redis.aclose()
    return seeded


async def free_run_number(connection: Any, *, code_prefix: str) -> int:
    """Three digits that no earlier seed of this database used in phones and store codes."""
    for _ in range(50):
        run = 100 + secrets.randbelow(900)
        taken = await connection.fetchval(
            "SELECT EXISTS (SELECT 1 FROM member WHERE phone LIKE $1)"
            " OR EXISTS (SELECT 1 FROM store WHERE code LIKE $2)",
            f"+7{run}%",
            f"{code_prefix}{run}-%",
        )
        if not taken:
            return int(run)
    raise RuntimeError("no free run number left: seed a fresh database")


def card_number(run: int, index: int) -> str:
    """The ``index``-th card number of seed ``run``, with its check digit."""
    from backend.members.card_numbers import CARD_PREFIX, luhn_check_digit

    body = f"{CARD_PREFIX}{run:03d}{index:010d}"
    return body + luhn_check_digit(body)


async def insert_stores(
    connection: Any,
    count: int,
    *,
    run: int,
    name: str,
    tills_per_store: int,
    code_prefix: str,
    currency: str = "RUB",
    time_zone: str = "Europe/Moscow",
) -> list[SeededStore]:
    """Stores ``<code_prefix><run>-0000``... named ``<name> 1``..., each with its tills."""
    from backend.auth.api_keys import display_prefix, hash_api_key, new_api_key
    from db.ids import new_id

    now = datetime.now(UTC)
    store_rows, terminal_rows, stores = [], [], []
    for s in range(count):
        store_id = new_id()
        code = f"{code_prefix}{run}-{s:04d}"
        store_rows.append((store_id, code, f"{name} {s + 1}", currency, time_zone, now, 0))
        tills = []
        for t in range(tills_per_store):
            key, terminal_id = new_api_key(), new_id()
            terminal_rows.append(
                (
                    terminal_id,
                    store_id,
                    f"Till {t + 1}",
                    display_prefix(key),
                    hash_api_key(key),
                    None,
                    now,
                )
            )
            tills.append(SeededTill(str(terminal_id), key))
        stores.append(SeededStore(str(store_id), code, tills))
    await connection.copy_records_to_table(
        "store",
        records=store_rows,
        columns=["id", "code", "name", "currency", "time_zone", "created_at", "last_event_seq"],
    )
    await connection.copy_records_to_table(
        "terminal",
        records=terminal_rows,
        columns=["id", "store", "name", "key_prefix", "key_hash", "revoked_at", "created_at"],
    )
    return stores


async def insert_members(
    connection: Any,
    count: int,
    *,
    run: int,
    starting_points: int = 0,
    points_expire_at: datetime | None = None,
) -> list[SeededMember]:
    """``count`` members (phones ``+7<run><0000000>``..., tier green) and their accounts.

    ``starting_points``: each account's available points, written the way the ledger would
    (what ``AccountChange.adjust`` and ``record_document`` write for a staff adjustment: an
    ``adjustment`` ledger entry, its point lot expiring at ``points_expire_at``, and the
    accounting document in the outbox), so that ``astrocoffee ledger verify`` agrees."""
    from db.ids import new_id

    now = datetime.now(UTC)
    member_rows, account_rows, members = [], [], []
    for i in range(count):
        member_id, account_id = new_id(), new_id()
        phone, card = f"+7{run:03d}{i:07d}", card_number(run, i)
        member_rows.append((member_id, phone, card, "green", now))
        account_rows.append((account_id, member_id, starting_points, 0, 0, 0, 0, now))
        members.append(SeededMember(str(member_id), str(account_id), phone, card))
    await connection.copy_records_to_table(
        "member",
        records=member_rows,
        columns=["id", "phone", "card_number", "tier", "created_at"],
    )
    await connection.copy_records_to_table(
        "account",
        records=account_rows,
        columns=[
            "id",
            "member",
            "available",
            "pending",
            "held",
            "lifetime_earned",
            "last_event_seq",
            "updated_at",
        ],
    )
    if starting_points:
        assert points_expire_at is not None, "starting points need their expiry"
        await _starting_points(connection, members, starting_points, points_expire_at, now)
    return members


async def _starting_points(
    connection: Any,
    members: list[SeededMember],
    points: int,
    expires_at: datetime,
    now: datetime,
) -> None:
    import msgspec

    from backend.accounting.documents import ACCOUNTING, AccountingDocument, program_day
    from db.ids import new_id

    entry_rows, lot_rows, outbox_rows = [], [], []
    for member in members:
        account = uuid.UUID(member.account_id)
        entry_rows.append(
            (
                new_id(),
                account,
                "adjustment",
                points,
                0,
                0,
                "seed",
                None,
                "load test starting balance",
                now,
            )
        )
        lot_rows.append(
            (
                new_id(),
                account,
                "adjustment",
                None,
                points,
                points,
                "available",
                now,
                expires_at,
                now,
            )
        )
        document = AccountingDocument(
            id=new_id(),
            type="points_adjustment",
            business_date=program_day(now),  # a staff adjustment: no store made it
            reference=member.member_id,
            store_id=None,
            currency=None,
            gross_amount=0,
            loyalty_discount=0,
            net_amount=0,
            points_issued=0,
            points_redeemed=0,
            points_liability_delta=points,
            occurred_at=now,
        )
        outbox_rows.append(
            (
                document.id,
                ACCOUNTING,
                document.type,
                document.reference,
                document.business_date,
                msgspec.json.encode(document).decode(),
                "pending",
                0,
                now,
                now,
            )
        )
    await connection.copy_records_to_table(
        "ledger_entry",
        records=entry_rows,
        columns=[
            "id",
            "account",
            "kind",
            "available_delta",
            "pending_delta",
            "held_delta",
            "cause_type",
            "cause_id",
            "note",
            "created_at",
        ],
    )
    await connection.copy_records_to_table(
        "point_lot",
        records=lot_rows,
        columns=[
            "id",
            "account",
            "source",
            "purchase",
            "points",
            "remaining",
            "status",
            "available_at",
            "expires_at",
            "created_at",
        ],
    )
    # payload is jsonb: COPY takes its text form.
    await connection.executemany(
        "INSERT INTO outbox_message (id, destination, kind, reference, business_date,"
        " payload, status, attempts, next_attempt_at, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10)",
        outbox_rows,
    )


async def open_sessions(
    members: list[SeededMember],
    *,
    redis: Any,
    prefix: str,
    secret_key: str,
    access_ttl_s: int,
    refresh_ttl_s: int,
    device: str,
) -> None:
    """A login session per member in Redis and an access token for it (``member.token``,
    ``member.refresh_token``)."""
    from backend.auth.sessions import SessionStore
    from backend.auth.tokens import MEMBER, TokenIssuer

    sessions = SessionStore(redis=redis, prefix=prefix, ttl_s=refresh_ttl_s)
    tokens = TokenIssuer(secret=secret_key, ttl_s=access_ttl_s)
    limit = asyncio.Semaphore(50)  # the client's connection pool is bounded

    async def one(member: SeededMember) -> None:
        subject = uuid.UUID(member.member_id)
        async with limit:
            session = await sessions.open(subject=subject, kind=MEMBER, device=device)
        member.token = tokens.access_token(
            subject=subject, kind=MEMBER, session_id=session.session_id
        )
        member.refresh_token = session.refresh_token

    await asyncio.gather(*(one(member) for member in members))
