"""Seed a database for the Locust scenarios (``loadtests/locustfile.py``), in bulk.

    python -m loadtests.seed --members 5000 --stores 20 --terminals-per-store 3 \\
        --out loadtests/.credentials.json

Creates, without one HTTP call per row (the stores, tills, members, accounts, starting
points and sessions with ``devkit.seed``, as the benches and the fault tests do):
  * stores (COPY) and their terminals with real API keys (``backend.auth.api_keys``: the key
    is random, only its SHA-256 is stored, exactly as ``create_terminal`` does);
  * one manager per store (what ``backend.staff.service.create_staff`` writes, validated by
    ``StaffCreate``; one argon2 hash for all of this seed's managers, who share a password);
  * members and their accounts (COPY), card numbers with their Luhn check digit, each with
    ``--starting-points`` available points written the way the ledger would (an
    ``adjustment`` ledger entry, its point lot and the accounting document), so that
    ``astrocoffee ledger verify`` agrees and tills can redeem from the first sale;
  * a login session per member in Redis (``backend.auth.sessions.SessionStore``) and an
    access token for it (``backend.auth.tokens.TokenIssuer`` with ASTROCOFFEE_SECRET_KEY);
  * three campaigns (published through ``CampaignAdmin``): double points on coffee that must
    be activated in the app, a bakery bonus, a tea stamp card; reused if already there.

Settings come from the environment exactly as for the app (``backend.settings``): DATABASE_URL,
REDIS_URL, ASTROCOFFEE_SECRET_KEY, ASTROCOFFEE_REDIS_PREFIX, the token lifetimes; with both URLs
unset it uses the embedded servers like the ``astrocoffee`` command. The server that the load
test targets must run with the same secret and Redis prefix, or the tokens are refused.

The output file holds secrets (API keys, tokens, passwords) and is written with mode 0600; it
is git-ignored (``loadtests/.credentials.json``). The base URL is not in it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "loadtests" / ".credentials.json"

CAMPAIGNS: list[dict[str, Any]] = [
    {
        "name": "Load test: double points on coffee",
        "description": "Activate in the app: coffee earns twice.",
        "rule": {"type": "multiplier", "factor": 2, "categories": ["coffee"]},
        "requires_activation": True,
    },
    {
        "name": "Load test: +10 points with a pastry",
        "rule": {"type": "bonus", "points": 10, "category": "bakery"},
    },
    {
        "name": "Load test: tea stamp card",
        "rule": {
            "type": "stamp_card",
            "category": "tea",
            "stamps_needed": 5,
            "reward_max_value": 20000,
        },
    },
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m loadtests.seed", description=__doc__)
    parser.add_argument("--members", type=int, default=5000)
    parser.add_argument("--stores", type=int, default=20)
    parser.add_argument("--terminals-per-store", type=int, default=3)
    parser.add_argument(
        "--starting-points",
        type=int,
        default=2000,
        help="available points of every member at the start (0: none)",
    )
    parser.add_argument(
        "--history",
        action="store_true",
        help="members with a year of history (purchases, ledger, lots, events, store days), "
        "written by set-based SQL (devkit.history): a 1M-member chain in minutes",
    )
    parser.add_argument(
        "--visits", type=int, default=10, help="with --history: mean visits per member"
    )
    parser.add_argument(
        "--sessions",
        type=int,
        help="members given a login session and written to --out (default: every member; "
        "with --history 5000)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--migrate", action="store_true", help="apply the migrations first (safe to repeat)"
    )
    args = parser.parse_args(argv)
    if args.members < 1 or args.stores < 1 or args.terminals_per_store < 1:
        parser.error("--members, --stores and --terminals-per-store must be at least 1")
    if args.members > 10_000_000:
        parser.error("at most 10,000,000 members (7 digits of the phone number)")
    if args.starting_points < 0:
        parser.error("--starting-points must not be negative")
    if args.sessions is None:
        args.sessions = min(args.members, 5000) if args.history else args.members
    if not 1 <= args.sessions <= args.members:
        parser.error("--sessions must be between 1 and --members")
    if args.history and args.starting_points < 500:
        parser.error("--history spends up to 500 points of the starting balance")
    return args


async def _campaigns(redis: Any, prefix: str) -> list[dict[str, Any]]:
    """The load test's campaigns, published (or the ones an earlier seed published)."""
    import msgspec

    from backend.campaigns.catalogue import Catalogue
    from backend.campaigns.schemas import CampaignIn
    from backend.campaigns.service import CampaignAdmin
    from db.tables import Campaign
    from realtime.publisher import EventPublisher

    admin = CampaignAdmin(
        catalogue=Catalogue(redis=redis, prefix=prefix),
        publisher=EventPublisher(redis=redis, prefix=prefix),
    )
    out = []
    for spec in CAMPAIGNS:
        row = (
            await Campaign.select(Campaign.id, Campaign.requires_activation)
            .where((Campaign.name == spec["name"]) & (Campaign.status == "active"))
            .first()
        )
        if row is None:
            created = await admin.create(msgspec.convert(spec, CampaignIn))
            published = await admin.move(created.id, "active")
            row = {"id": published.id, "requires_activation": published.requires_activation}
        out.append(
            {
                "id": str(row["id"]),
                "name": spec["name"],
                "requires_activation": bool(row["requires_activation"]),
            }
        )
    return out


async def _managers(connection: Any, stores: list[dict[str, Any]]) -> None:
    """One manager per store, in bulk: what ``create_staff`` writes, with one argon2 hash
    (of one password shared by this seed's managers) instead of one per store."""
    from backend.staff.passwords import hash_password
    from backend.staff.schemas import StaffCreate
    from db.ids import new_id

    password = secrets.token_urlsafe(18)
    password_hash = await hash_password(password)
    now = datetime.now(UTC)
    rows = []
    for store in stores:
        data = StaffCreate(
            email=f"manager-{store['code'].lower()}@loadtest.astrocoffee.test",
            name=f"Manager of {store['code']}",
            password=password,
            role="manager",
            store_ids=[uuid.UUID(store["id"])],
        )
        rows.append(
            (
                new_id(),
                data.email.lower(),
                data.name,
                password_hash,
                data.role,
                data.store_ids,
                True,
                now,
            )
        )
        store["manager"] = {"email": data.email.lower(), "password": password}
    await connection.copy_records_to_table(
        "staff_user",
        records=rows,
        columns=[
            "id",
            "email",
            "name",
            "password_hash",
            "role",
            "store_ids",
            "active",
            "created_at",
        ],
    )


async def seed(
    settings: Any,
    *,
    members: int,
    stores: int,
    terminals_per_store: int,
    starting_points: int,
    history: int = 0,
    sessions: int | None = None,
) -> dict[str, Any]:
    """Write everything; return what the locustfile needs (secrets included)."""
    import asyncpg
    from redis.asyncio import Redis

    from backend.loyalty.rules import current_rules
    from db.pool import close_pool, start_pool
    from devkit.history import analyze, chain_members, insert_chain
    from devkit.seed import free_run_number, insert_members, insert_stores, open_sessions

    timings: dict[str, float] = {}
    written: dict[str, int] = {}
    mark = time.perf_counter()
    await start_pool()
    redis = Redis.from_url(settings.redis_url)
    prefix = settings.redis_prefix
    try:
        now = datetime.now(UTC)
        rules = (await current_rules()).rules
        # A connection of its own: the pool's have a command timeout, and a 1M-member
        # history takes minutes in a few statements.
        connection = await asyncpg.connect(settings.database_url)
        async with connection.transaction():
            run = await free_run_number(connection, code_prefix="LT")
            out_stores = [
                {
                    "id": store.store_id,
                    "code": store.code,
                    "currency": "RUB",
                    "terminals": [
                        {"id": till.terminal_id, "key": till.key} for till in store.tills
                    ],
                }
                for store in await insert_stores(
                    connection,
                    stores,
                    run=run,
                    name="Astrocoffee load test",
                    tills_per_store=terminals_per_store,
                    code_prefix="LT",
                )
            ]
            timings["stores and terminals"] = time.perf_counter() - mark
            mark = time.perf_counter()
            if history:
                written = await insert_chain(
                    connection,
                    members,
                    run=run,
                    store_ids=[uuid.UUID(str(store["id"])) for store in out_stores],
                    starting_points=starting_points,
                    visits=history,
                    now=now,
                )
                seeded = await chain_members(connection, run=run, count=sessions or members)
                timings["members with a year of history"] = time.perf_counter() - mark
            else:
                seeded = (
                    await insert_members(
                        connection,
                        members,
                        run=run,
                        starting_points=starting_points,
                        points_expire_at=now + timedelta(days=rules.points_expire_after_days),
                    )
                )[: sessions or members]
                timings["members, accounts, starting points"] = time.perf_counter() - mark
            mark = time.perf_counter()
            await _managers(connection, out_stores)
            timings["managers"] = time.perf_counter() - mark
            mark = time.perf_counter()
        await connection.close()
        if history:
            await analyze(settings.database_url)
            timings["analyze"] = time.perf_counter() - mark
            mark = time.perf_counter()
        campaigns = await _campaigns(redis, prefix)
        timings["campaigns"] = time.perf_counter() - mark
        mark = time.perf_counter()
        issued = int(time.time())
        await open_sessions(
            seeded,
            redis=redis,
            prefix=prefix,
            secret_key=settings.secret_key,
            access_ttl_s=settings.access_token_ttl_s,
            refresh_ttl_s=settings.refresh_token_ttl_s,
            device="locust",
        )
        timings["sessions and tokens"] = time.perf_counter() - mark
    finally:
        await redis.aclose()
        await close_pool()
    out_members = [
        {
            "id": member.member_id,
            "phone": member.phone,
            "card_number": member.card_number,
            "access_token": member.token,
            "refresh_token": member.refresh_token,
            "access_expires_at": issued + settings.access_token_ttl_s,
        }
        for member in seeded
    ]
    return {
        "created_at": datetime.now(UTC).isoformat(),
        "members_in_database": members,
        "rows_written": written if history else {},
        "run": run,
        "redis_prefix": prefix,
        "access_token_ttl_s": settings.access_token_ttl_s,
        "starting_points": starting_points,
        "max_redeem_share_percent": rules.max_redeem_share_percent,
        "stores": out_stores,
        "members": out_members,
        "campaigns": campaigns,
        "timings_s": {name: round(seconds, 3) for name, seconds in timings.items()},
    }


def write_credentials(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump(data, file)
    os.replace(temporary, path)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("PICCOLO_CONF", "db.piccolo_conf")
    from backend.servers import ensure_servers
    from backend.settings import SettingsError, load_settings

    try:
        settings, handles = ensure_servers(load_settings())
    except SettingsError as exc:
        print(f"loadtests.seed: {exc}", file=sys.stderr)
        return 2
    assert settings.database_url is not None
    try:
        if args.migrate:
            from db.migrate import apply_migrations

            asyncio.run(apply_migrations(settings.database_url))
        started = time.perf_counter()
        data = asyncio.run(
            seed(
                settings,
                members=args.members,
                stores=args.stores,
                terminals_per_store=args.terminals_per_store,
                starting_points=args.starting_points,
                history=args.visits if args.history else 0,
                sessions=args.sessions,
            )
        )
        elapsed = time.perf_counter() - started
        write_credentials(args.out, data)
    finally:
        del handles  # keeps embedded servers up until the seed is written
    terminals = sum(len(store["terminals"]) for store in data["stores"])
    if data["rows_written"]:
        rows = data["rows_written"]
        print(
            f"history: {sum(rows.values()):,} rows ({', '.join(f'{k} {v:,}' for k, v in rows.items())})"
        )
    print(
        f"seeded {args.members} members ({len(data['members'])} with a session; "
        f"{args.starting_points} points each to start), "
        f"{len(data['stores'])} stores with {terminals} terminals and a manager each, "
        f"{len(data['campaigns'])} campaigns in {elapsed:.1f} s "
        f"({', '.join(f'{k} {v:.1f} s' for k, v in data['timings_s'].items())})"
    )
    print(f"credentials (secrets, mode 0600): {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
