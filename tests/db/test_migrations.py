"""The committed migrations build exactly the schema that ``db/tables/`` declares.

Two scratch databases on the tests' server:

* ``migrated``: empty, then migrated by two ``astrocoffee migrate`` processes at once (as two
  replicas starting together would);
* ``declared``: built straight from the table classes (Piccolo's ``create_table`` DDL), plus
  the SQL of the hand-written migrations (the modules that define ``FORWARDS_SQL``: triggers,
  partial and ordered indexes, which the tables cannot declare).

Their catalogs (columns with types, nullability and defaults; constraints; indexes; triggers;
functions; sequences) must be equal, and the migrated one is also read against the tables'
metadata column by column, so a mismatch names the table and column at fault.
"""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
import re
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from piccolo.columns import Column, ForeignKey
from piccolo.constraints import Check, Unique
from piccolo.table import Table

import db.migrations
from db.tables import ALL_TABLES
from tests.cli import astrocoffee, run_env
from tests.db.scratch import declared_schema, scratch_database
from tests.servers import RunServers

# Piccolo's own bookkeeping: only in a migrated database.
_PICCOLO_TABLES = {"migration"}
# A ``UUID(default=new_id)`` column gets, as its database default, one id drawn when the DDL
# was written; the two databases draw different ones.
_DRAWN_UUID = re.compile(r"'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'::uuid")
_FK_ACTIONS = {
    "a": "NO ACTION",
    "r": "RESTRICT",
    "c": "CASCADE",
    "n": "SET NULL",
    "d": "SET DEFAULT",
}
_PG_TYPES = {
    "BIGINT": "bigint",
    "BOOLEAN": "boolean",
    "DATE": "date",
    "INTEGER": "integer",
    "JSONB": "jsonb",
    "SERIAL": "integer",
    "TEXT": "text",
    "TIMESTAMPTZ": "timestamp with time zone",
    "UUID": "uuid",
    "VARCHAR": "character varying",
}


APPEND_ONLY_TABLES = (
    "ledger_entry",
    "member_event",
    "store_event",
    "broadcast_event",
    "marketing_consent",
)
# Append-only but for the retention purge: table -> the trigger's function.
PURGED_TABLES = {"audit_entry": "keep_audit_entry"}
# Hand-written indexes: name -> (table, key columns, predicate or None).
HAND_WRITTEN_INDEXES = {
    "point_lot_spendable": (
        "point_lot",
        ["account", "status", "expires_at", "created_at"],
        "remaining > 0",
    ),
    "point_lot_expiring": ("point_lot", ["expires_at"], "remaining > 0"),
    "point_lot_releasing": ("point_lot", ["available_at"], "status::text = 'pending'::text"),
    "point_lot_purchase": ("point_lot", ["purchase"], "purchase IS NOT NULL"),
    "ledger_entry_history": ("ledger_entry", ["account", "id DESC"], None),
    "member_event_recent": ("member_event", ["created_at"], None),
    "outbox_message_due": ("outbox_message", ["next_attempt_at"], "status::text = 'pending'::text"),
    "member_above_green": ("member", ["id"], "tier::text <> 'green'::text"),
    "campaign_telling_unfinished": ("campaign_telling", ["id"], "finished_at IS NULL"),
    "ledger_entry_campaign": (
        "ledger_entry",
        ["cause_id", "created_at"],
        "cause_type::text = 'campaign'::text",
    ),
    "outbox_message_open": (
        "outbox_message",
        ["status", "created_at"],
        "status::text = ANY (ARRAY['pending'::character varying, 'dead'::character varying]::text[])",
    ),
    "partner_delivery_due": (
        "partner_delivery",
        ["next_attempt_at"],
        "status::text = 'pending'::text",
    ),
    "partner_delivery_queue": (
        "partner_delivery",
        ["endpoint", "member", "seq"],
        "status::text = 'pending'::text",
    ),
    "partner_delivery_history": ("partner_delivery", ["endpoint", "id DESC"], None),
    "partner_delivery_delivered": (
        "partner_delivery",
        ["delivered_at"],
        "status::text = 'delivered'::text",
    ),
    "member_birthday": (
        "member",
        ["EXTRACT(month FROM birth_date)", "EXTRACT(day FROM birth_date)"],
        "birth_date IS NOT NULL",
    ),
    "member_enrolled": ("member", ["created_at"], None),
    "purchase_member_recent": ("purchase", ["member", "created_at"], None),
    "member_offer_use": ("member_offer", ["member", "campaign"], "coupon_code IS NULL"),
    "marketing_consent_latest": (
        "marketing_consent",
        ["member", "channel", "at DESC", "id DESC"],
        None,
    ),
}


def hand_written_sql() -> list[str]:
    """``FORWARDS_SQL`` of every migration that has one, in migration order."""
    modules = [
        importlib.import_module(f"db.migrations.{info.name}")
        for info in pkgutil.iter_modules(db.migrations.__path__)
    ]
    return [
        statement
        for module in sorted(modules, key=lambda module: str(module.ID))
        for statement in getattr(module, "FORWARDS_SQL", ())
    ]


def pg_type(column: Column) -> str:
    """How ``format_type`` spells a Piccolo column type: ``VARCHAR(16)`` is
    ``character varying(16)``, ``UUID[]`` is ``uuid[]``."""
    match = re.fullmatch(r"([A-Z]+)(\(\d+\))?((?:\[\])*)", column.column_type)
    assert match, f"unknown column type {column.column_type!r}: add it to _PG_TYPES"
    name, size, array = match.groups()
    return _PG_TYPES[name] + (size or "") + array


@pytest.fixture(scope="module")
async def migrated(servers: RunServers) -> AsyncIterator[asyncpg.Connection]:
    async with scratch_database(servers, "migrated") as url:
        env = run_env(servers, DATABASE_URL=url)
        runs = await asyncio.gather(
            asyncio.to_thread(astrocoffee, "migrate", env=env),
            asyncio.to_thread(astrocoffee, "migrate", env=env),
        )
        for run in runs:
            assert run.returncode == 0, run.stderr
        # One applied everything; the other waited for it and found nothing left to do.
        said = sorted(run.stdout.strip() for run in runs)
        assert re.fullmatch(r"applied \d+ migrations \(last: .+\)", said[0]), said
        assert said[1] == "database already up to date", said
        connection = await asyncpg.connect(url)
        try:
            yield connection
        finally:
            await connection.close()


@pytest.fixture(scope="module")
async def declared(servers: RunServers) -> AsyncIterator[asyncpg.Connection]:
    async with declared_schema(servers, "declared", then=hand_written_sql()) as connection:
        yield connection


async def catalog(connection: asyncpg.Connection) -> dict[str, dict[Any, Any]]:
    """The public schema, as comparable dictionaries keyed by table and object name."""

    async def rows(sql: str) -> dict[Any, Any]:
        found = await connection.fetch(sql)
        return {tuple(row)[:-1]: tuple(row)[-1] for row in found}

    columns = await rows(
        """
        SELECT c.relname, a.attname,
               format_type(a.atttypid, a.atttypmod)
               || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE ' NULL' END
               || COALESCE(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '')
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
        """
    )
    return {
        "tables": await rows("SELECT tablename, 1 FROM pg_tables WHERE schemaname = 'public'"),
        "columns": {
            key: _DRAWN_UUID.sub("'<drawn id>'::uuid", value) for key, value in columns.items()
        },
        "constraints": await rows(
            """
            SELECT c.relname, k.conname, k.contype::text || ' ' || pg_get_constraintdef(k.oid)
            FROM pg_constraint k
            JOIN pg_class c ON c.oid = k.conrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public'
            """
        ),
        "indexes": await rows(
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
        ),
        "triggers": await rows(
            """
            SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid)
            FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND NOT t.tgisinternal
            """
        ),
        "functions": await rows(
            """
            SELECT p.proname, pg_get_functiondef(p.oid)
            FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = 'public'
            """
        ),
        "sequences": await rows(
            "SELECT sequencename, data_type::text FROM pg_sequences WHERE schemaname = 'public'"
        ),
    }


def without_piccolo_bookkeeping(found: dict[str, dict[Any, Any]]) -> dict[str, dict[Any, Any]]:
    return {
        kind: {
            key: value
            for key, value in objects.items()
            if key[0] not in _PICCOLO_TABLES and not str(key[0]).startswith("migration_")
        }
        for kind, objects in found.items()
    }


async def test_migrated_schema_is_the_declared_schema(
    migrated: asyncpg.Connection, declared: asyncpg.Connection
) -> None:
    have = without_piccolo_bookkeeping(await catalog(migrated))
    want = await catalog(declared)
    for kind in want:
        extra = {key: have[kind][key] for key in have[kind].keys() - want[kind].keys()}
        missing = {key: want[kind][key] for key in want[kind].keys() - have[kind].keys()}
        differ = {
            key: (have[kind][key], want[kind][key])
            for key in have[kind].keys() & want[kind].keys()
            if have[kind][key] != want[kind][key]
        }
        assert not (extra or missing or differ), (
            f"{kind}: migrations make {extra or 'nothing extra'}, "
            f"lack {missing or 'nothing'}, differ in {differ or 'nothing'} (migrated, declared)"
        )


async def columns_of(connection: asyncpg.Connection, table: str) -> dict[str, asyncpg.Record]:
    found = await connection.fetch(
        """
        SELECT column_name, is_nullable = 'YES' AS nullable,
               format_type(a.atttypid, a.atttypmod) AS type
        FROM information_schema.columns i
        JOIN pg_attribute a
          ON a.attrelid = ('public.' || quote_ident(i.table_name))::regclass
         AND a.attname = i.column_name
        WHERE i.table_schema = 'public' AND i.table_name = $1
        """,
        table,
    )
    return {row["column_name"]: row for row in found}


async def constraints_of(connection: asyncpg.Connection, table: str) -> list[asyncpg.Record]:
    return list(
        await connection.fetch(
            """
            SELECT k.conname, k.contype::text, k.confdeltype::text, k.confupdtype::text,
                   ref.relname AS target,
                   ARRAY(SELECT attname FROM unnest(k.conkey) WITH ORDINALITY AS u(num, i)
                         JOIN pg_attribute ON attrelid = k.conrelid AND attnum = u.num
                         ORDER BY u.i)::text[] AS columns,
                   ARRAY(SELECT attname FROM unnest(k.confkey) WITH ORDINALITY AS u(num, i)
                         JOIN pg_attribute ON attrelid = k.confrelid AND attnum = u.num
                         ORDER BY u.i)::text[] AS target_columns
            FROM pg_constraint k
            LEFT JOIN pg_class ref ON ref.oid = k.confrelid
            WHERE k.conrelid = ('public.' || quote_ident($1))::regclass
            """,
            table,
        )
    )


async def plain_indexes_of(connection: asyncpg.Connection, table: str) -> dict[str, list[str]]:
    """Indexes that no constraint owns: name -> key columns (expressions as written)."""
    found = await connection.fetch(
        """
        SELECT i.relname AS name,
               ARRAY(SELECT pg_get_indexdef(x.indexrelid, k, true)
                          || CASE WHEN x.indoption[k - 1] & 1 = 1 THEN ' DESC' ELSE '' END
                     FROM generate_series(1, x.indnkeyatts) AS k ORDER BY k)::text[] AS keys
        FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
        WHERE x.indrelid = ('public.' || quote_ident($1))::regclass
          AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid)
        """,
        table,
    )
    return {row["name"]: list(row["keys"]) for row in found}


@pytest.mark.parametrize("table", ALL_TABLES, ids=lambda table: table._meta.tablename)
async def test_each_table_is_as_its_class_declares(
    migrated: asyncpg.Connection, table: type[Table]
) -> None:
    name = table._meta.tablename
    columns = await columns_of(migrated, name)
    declared_columns = {column._meta.db_column_name: column for column in table._meta.columns}
    assert set(columns) == set(declared_columns), name
    for column_name, column in declared_columns.items():
        found = columns[column_name]
        assert found["type"] == pg_type(column), (name, column_name)
        assert found["nullable"] == column._meta.null, (name, column_name)

    constraints = await constraints_of(migrated, name)
    by_type: dict[str, list[asyncpg.Record]] = {}
    for constraint in constraints:
        by_type.setdefault(constraint["contype"], []).append(constraint)

    (primary_key,) = by_type["p"]
    assert primary_key["columns"] == [table._meta.primary_key._meta.db_column_name]

    foreign_keys = {tuple(fk["columns"]): fk for fk in by_type.get("f", [])}
    declared_fks = {
        column._meta.db_column_name: column
        for column in table._meta.columns
        if isinstance(column, ForeignKey)
    }
    assert set(foreign_keys) == {(column,) for column in declared_fks}, name
    for column_name, column in declared_fks.items():
        meta = column._foreign_key_meta
        fk = foreign_keys[(column_name,)]
        assert fk["target"] == meta.resolved_references._meta.tablename, (name, column_name)
        assert fk["target_columns"] == [meta.resolved_target_column._meta.db_column_name]
        assert _FK_ACTIONS[fk["confdeltype"]] == meta.on_delete.value, (name, column_name)
        assert _FK_ACTIONS[fk["confupdtype"]] == meta.on_update.value, (name, column_name)

    declared_unique = [c for c in table._meta.constraints if isinstance(c, Unique)]
    declared_checks = [c for c in table._meta.constraints if isinstance(c, Check)]
    assert len(declared_unique) + len(declared_checks) == len(table._meta.constraints), name
    unique = {(c["conname"], tuple(c["columns"])) for c in by_type.get("u", [])}
    assert unique == {
        (f"{name}_{column._meta.db_column_name}_key", (column._meta.db_column_name,))
        for column in table._meta.columns
        if column._meta.unique
    } | {(c._meta.name, tuple(c.get_column_names())) for c in declared_unique}, name
    checks = {c["conname"] for c in by_type.get("c", [])}
    assert checks == {c._meta.name for c in declared_checks}, name
    assert set(by_type) <= {"p", "f", "u", "c"}, name

    indexes = await plain_indexes_of(migrated, name)
    column_indexes = {
        f"{name}_{column._meta.db_column_name}": [column._meta.db_column_name]
        for column in table._meta.columns
        if column._meta.index
    }
    hand_written = {
        index: keys for index, (on, keys, _) in HAND_WRITTEN_INDEXES.items() if on == name
    }
    # Column indexes as Piccolo names them, and the hand-written ones (checked further in
    # the next test): nothing else.
    assert indexes == column_indexes | hand_written, name


async def test_the_hand_written_objects_exist(migrated: asyncpg.Connection) -> None:
    triggers = {
        (row["table"], row["name"]): row["definition"]
        for row in await migrated.fetch(
            """
            SELECT c.relname AS table, t.tgname AS name, pg_get_triggerdef(t.oid) AS definition
            FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal
            """
        )
    }
    functions = dict.fromkeys(APPEND_ONLY_TABLES, "reject_change_to_append_only")
    functions.update(PURGED_TABLES)
    assert set(triggers) == {(table, f"{table}_append_only") for table in functions}
    for (table, name), definition in triggers.items():
        assert definition == (
            f"CREATE TRIGGER {name} BEFORE DELETE OR UPDATE ON public.{table}"
            f" FOR EACH ROW EXECUTE FUNCTION {functions[table]}()"
        )

    for name, (table, keys, predicate) in HAND_WRITTEN_INDEXES.items():
        row = await migrated.fetchrow(
            """
            SELECT c.relname AS table,
                   ARRAY(SELECT pg_get_indexdef(x.indexrelid, k, true)
                          || CASE WHEN x.indoption[k - 1] & 1 = 1 THEN ' DESC' ELSE '' END
                         FROM generate_series(1, x.indnkeyatts) AS k ORDER BY k)::text[] AS keys,
                   pg_get_expr(x.indpred, x.indrelid, true) AS predicate
            FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
            JOIN pg_class c ON c.oid = x.indrelid
            WHERE i.relname = $1
            """,
            name,
        )
        assert row is not None, f"index {name} is missing"
        assert (row["table"], list(row["keys"]), row["predicate"]) == (table, keys, predicate)


async def test_an_append_only_table_rejects_updates_and_deletes(
    migrated: asyncpg.Connection,
) -> None:
    await migrated.execute(
        "INSERT INTO broadcast_event (id, seq, type, data, created_at)"
        " VALUES (gen_random_uuid(), 1, 'test', '{}', now())"
    )
    try:
        with pytest.raises(asyncpg.RestrictViolationError, match="append-only: UPDATE"):
            await migrated.execute("UPDATE broadcast_event SET seq = 2")
        with pytest.raises(asyncpg.RestrictViolationError, match="append-only: DELETE"):
            await migrated.execute("DELETE FROM broadcast_event")
    finally:
        await migrated.execute("TRUNCATE broadcast_event")


async def test_no_column_has_a_fixed_uuid_as_its_default(migrated: asyncpg.Connection) -> None:
    """Ids come from the application; a fixed default would let a forgetful INSERT pass once."""
    fixed = await migrated.fetch(
        "SELECT table_name, column_name, column_default FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND data_type = 'uuid'"
        " AND column_default IS NOT NULL"
    )
    assert [dict(row) for row in fixed] == []


async def test_a_database_of_an_earlier_history_is_refused_and_left_alone(
    servers: RunServers,
) -> None:
    """A development database migrated before the migrations were squashed (issue #25) has
    tables and migration rows this code's first migration would collide with: ``migrate``
    refuses it, says how to start again, and writes nothing."""
    async with scratch_database(servers, "earlier") as url:
        connection = await asyncpg.connect(url)
        try:
            await connection.execute(
                "CREATE TABLE migration (id serial PRIMARY KEY, name varchar(200),"
                " app_name varchar(200), ran_on timestamp DEFAULT now())"
            )
            await connection.execute(
                "INSERT INTO migration (name, app_name) VALUES ('2026-12-06T21:34:23:207984', 'db')"
            )
            run = await asyncio.to_thread(
                astrocoffee, "migrate", env=run_env(servers, DATABASE_URL=url)
            )
            assert run.returncode == 1, run.stdout
            assert "earlier, pre-release schema history" in run.stderr
            assert "remove the data folder" in run.stderr
            tables = await connection.fetchval(
                "SELECT array_agg(tablename::text) FROM pg_tables WHERE schemaname = 'public'"
            )
            assert tables == ["migration"]
        finally:
            await connection.close()
