"""Scratch databases on any PostgreSQL server (the embedded one, an external one, a private
cluster), and a Redis key prefix forgotten: what a test run, a bench or a load test makes
for itself and removes after, so that it never touches anyone else's data."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import asyncpg


def with_database(url: str, database: str) -> str:
    """``url`` with its database (its path) replaced."""
    return urlunsplit(urlsplit(url)._replace(path="/" + database))


async def create_database(admin_url: str, name: str, *, template: str | None = None) -> str:
    """``CREATE DATABASE name`` (a copy of ``template`` if given) on the server of
    ``admin_url``; the new database's URL."""
    suffix = f' TEMPLATE "{template}"' if template else ""
    await _execute(admin_url, f'CREATE DATABASE "{name}"{suffix}')
    return with_database(admin_url, name)


async def drop_database(admin_url: str, database: str) -> None:
    """Drop a database (its name or URL) of the server of ``admin_url``, sessions and all."""
    name = urlsplit(database).path.lstrip("/") if "://" in database else database
    await _execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _execute(url: str, sql: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def forget_prefix(redis_url: str, prefix: str) -> None:
    """Delete every Redis key under ``prefix`` (sessions live for weeks otherwise)."""
    from redis import Redis

    client = Redis.from_url(redis_url)
    try:
        batch = []
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                client.delete(*batch)
                batch.clear()
        if batch:
            client.delete(*batch)
    finally:
        client.close()
