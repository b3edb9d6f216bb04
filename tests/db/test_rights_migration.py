"""The migration of members' rights and staff accountability keeps existing staff accounts
as they were (no failures counted, not locked) and adds its tables empty; run twice, it
changes nothing more."""

from __future__ import annotations

import importlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from tests.db.scratch import declared_schema
from tests.servers import RunServers

rights = importlib.import_module("db.migrations.db_2026_12_07t00_40_00_000000")
NEW_TABLES = ("audit_entry", "blocked_card", "marketing_consent")


@pytest.fixture
async def before_rights(servers: RunServers) -> AsyncIterator[asyncpg.Connection]:
    """A database as it was before the migration: without its tables and staff columns."""
    async with declared_schema(
        servers,
        "rights",
        leaving_out=NEW_TABLES,
        then=(
            *(
                f"ALTER TABLE staff_user DROP COLUMN {column}"
                for column in ("failed_logins", "failures_since", "locked_until")
            ),
            "CREATE FUNCTION reject_change_to_append_only() RETURNS trigger AS $$"
            " BEGIN RAISE EXCEPTION 'append-only'; END; $$ LANGUAGE plpgsql",
        ),
    ) as connection:
        yield connection


async def test_existing_staff_keep_their_accounts(before_rights: asyncpg.Connection) -> None:
    db = before_rights
    staff_id = uuid.uuid4()
    joined = datetime(2026, 11, 2, 9, tzinfo=UTC)
    await db.execute(
        "INSERT INTO staff_user (id, email, name, password_hash, role, store_ids, active,"
        " created_at) VALUES ($1, 'anna@astrocoffee.test', 'Anna', 'argon2-hash', 'admin',"
        " '{}', true, $2)",
        staff_id,
        joined,
    )
    for _ in range(2):  # a second run changes nothing
        for statement in rights.FORWARDS_SQL:
            await db.execute(statement)
    row = await db.fetchrow("SELECT * FROM staff_user")
    assert dict(row) == {
        "id": staff_id,
        "email": "anna@astrocoffee.test",
        "name": "Anna",
        "password_hash": "argon2-hash",
        "role": "admin",
        "store_ids": [],
        "active": True,
        "created_at": joined,
        "failed_logins": 0,
        "failures_since": None,
        "locked_until": None,
    }
    for table in NEW_TABLES:
        assert await db.fetchval(f"SELECT count(*) FROM {table}") == 0
