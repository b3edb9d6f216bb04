"""Terminals: created for one store, authenticated by API key through a short Redis cache.

Revocation beats the cache: revoking replaces the cache entry with a tombstone that outlives
any cached copy, and the cache is only ever filled with ``SET NX``, so a lookup that read the
database just before the revocation cannot write a stale "valid" back over the tombstone.

On a rate-limited route the cache is read by the limit's own counter (``read``, see
``backend.rate_limits``): one script counts the request and returns the entry, so a till's
request costs one Redis round trip before its handler, not two. It counts only when the entry
is a valid terminal's (a miss or a tombstone is not counted; the limiter counts a miss after
the database has answered), so exactly the requests counted before are counted now. The entry's
key carries the hash tag of the terminal's rate-limit counters (``{terminal:<key hash>}``), so
the script's keys stay on one slot of a Redis Cluster.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from redis.asyncio import Redis
from redis.exceptions import RedisError

from backend.auth.api_keys import display_prefix, hash_api_key, new_api_key
from backend.auth.callers import TerminalCaller
from backend.errors import NotFound
from db.tables import Store, Terminal

log = logging.getLogger(__name__)
CACHE_TTL_S = 60
_TOMBSTONE = b"revoked"
_TOMBSTONE_TTL_S = CACHE_TTL_S * 10

# Reads a cache entry (key, tombstone value); may count the request as it reads.
CacheRead = Callable[[str, bytes], Awaitable[bytes | str | None]]


def counted_caller(key_hash: str) -> str:
    """The name a terminal is counted under by rate limits; its cache entry's hash tag."""
    return f"terminal:{key_hash}"


class TerminalDirectory:
    def __init__(self, *, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    def _key(self, key_hash: str) -> str:
        return f"{self._prefix}terminal:{{{counted_caller(key_hash)}}}"

    def _legacy_key(self, key_hash: str) -> str:
        # The key's name before it had a hash tag: processes of the previous release, during a
        # rolling deploy, read it; revocation writes its tombstone there too.
        return f"{self._prefix}terminal:{key_hash}"

    async def _get(self, key: str, tombstone: bytes) -> bytes | str | None:
        value: bytes | str | None = await self._redis.get(key)
        return value

    async def authenticate(
        self, api_key: str, *, read: CacheRead | None = None
    ) -> TerminalCaller | None:
        """The terminal of ``api_key``; None if unknown or revoked. ``read`` reads the cache
        entry in place of a plain GET (a rate limit counting the request as it reads)."""
        key_hash = hash_api_key(api_key)
        try:
            cached = await (read or self._get)(self._key(key_hash), _TOMBSTONE)
        except (RedisError, OSError) as exc:
            # The database alone can answer (revocation is stored there too): tills keep
            # selling while Redis is away.
            log.warning("terminal cache unavailable, asking the database: %s", exc)
            return await self._from_database(key_hash, cache=False)
        if cached == _TOMBSTONE:
            return None
        if cached is not None:
            text = cached.decode() if isinstance(cached, bytes) else str(cached)
            terminal_id, _, store_id = text.partition(":")
            return TerminalCaller(terminal_id=uuid.UUID(terminal_id), store_id=uuid.UUID(store_id))
        return await self._from_database(key_hash, cache=True)

    async def _from_database(self, key_hash: str, *, cache: bool) -> TerminalCaller | None:
        row = (
            await Terminal.select(Terminal.id, Terminal.store, Terminal.revoked_at)
            .where(Terminal.key_hash == key_hash)
            .first()
        )
        if row is None:
            return None
        if row["revoked_at"] is not None:
            if cache:
                await self._redis.set(self._key(key_hash), _TOMBSTONE, ex=_TOMBSTONE_TTL_S)
            return None
        if cache:
            await self._redis.set(
                self._key(key_hash), f"{row['id']}:{row['store']}", ex=CACHE_TTL_S, nx=True
            )
        return TerminalCaller(terminal_id=row["id"], store_id=row["store"])

    async def revoke(self, terminal_id: uuid.UUID) -> Terminal:
        terminal = await Terminal.objects().where(Terminal.id == terminal_id).first()
        if terminal is None:
            raise NotFound(f"terminal {terminal_id} does not exist")
        if terminal.revoked_at is None:
            terminal.revoked_at = datetime.now(UTC)
            await terminal.save([Terminal.revoked_at])
        for key in (self._key(terminal.key_hash), self._legacy_key(terminal.key_hash)):
            await self._redis.set(key, _TOMBSTONE, ex=_TOMBSTONE_TTL_S)
        return terminal


async def create_terminal(*, store: Store, name: str) -> tuple[Terminal, str]:
    """Create a terminal; return it with its key, which is never stored or shown again."""
    key = new_api_key()
    terminal = Terminal(
        store=store.id, name=name, key_prefix=display_prefix(key), key_hash=hash_api_key(key)
    )
    await terminal.save()
    return terminal, key
