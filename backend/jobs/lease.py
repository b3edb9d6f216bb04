"""A renewed, fenced lease: one scheduler at a time runs the periodic jobs.

The lease is a Redis key that holds its holder's random token for a time to live. While the
holder works it renews the key every third of that time with a compare-and-extend script, so a
run longer than the lease keeps it, and a holder that stalls past it (a long pause, a lost
network) loses it rather than running on beside its successor: the renewal fails and the run
is cancelled at its next await.

A holder that stalls may not notice in time, so every acquisition also draws a fencing number
(an INCR, never reused) and the holder advances the job fence in PostgreSQL to it before each
job (``job_fence``, one row per lease). Once a newer holder has advanced the fence, the stale
holder's advance matches no row and it stops before its next job ("How to do distributed
locking", M. Kleppmann). The jobs themselves stay safe to run twice (row locks, SKIP LOCKED);
the fence stops the duplicate work, and the ledger never depended on it.

redis-py's own ``Lock`` has the token and the extend, but no fencing number and no way to keep
the key for the rest of the interval after the work is done, which is what stops the other
processes from running the same jobs again straight away; hence these few lines of Lua.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from redis.asyncio import Redis

from db import sql

T = TypeVar("T")

# KEYS[1] the lease; ARGV[1] the holder's token, ARGV[2] milliseconds to keep it.
_EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
# The same, but a time of 0 or less gives the lease up at once.
_LET_GO = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if tonumber(ARGV[2]) <= 0 then return redis.call('DEL', KEYS[1]) end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
"""
_ADVANCE_FENCE = """
INSERT INTO job_fence (name, fence) VALUES ({name}, {fence})
ON CONFLICT (name) DO UPDATE SET fence = EXCLUDED.fence WHERE job_fence.fence <= EXCLUDED.fence
RETURNING fence
"""


class LeaseLost(Exception):
    """A newer holder has the lease: this one must stop."""


@dataclass(frozen=True, slots=True)
class HeldLease:
    token: str
    fence: int  # this holding's fencing number, larger than every earlier holding's
    since: float  # time.monotonic() when it was taken


class Lease:
    def __init__(self, *, redis: Redis, name: str, prefix: str, ttl_s: float) -> None:
        self._redis = redis
        self.name = name
        self._key = f"{prefix}lease:{name}"
        self._fence_key = f"{prefix}lease:{name}:fence"
        self.ttl_s = ttl_s
        self._extend = redis.register_script(_EXTEND)
        self._let_go = redis.register_script(_LET_GO)

    async def acquire(self) -> HeldLease | None:
        """The lease, when nobody holds it; None when somebody does."""
        token = secrets.token_hex(16)
        if not await self._redis.set(self._key, token, nx=True, px=self._ms(self.ttl_s)):
            return None
        fence = int(await self._redis.incr(self._fence_key))
        return HeldLease(token=token, fence=fence, since=time.monotonic())

    async def renew(self, held: HeldLease) -> bool:
        return bool(await self._extend(keys=[self._key], args=[held.token, self._ms(self.ttl_s)]))

    async def release(self, held: HeldLease, *, keep_until_s: float = 0) -> None:
        """Give the lease up, or keep it until ``keep_until_s`` after it was taken (no other
        process starts the same work before its time)."""
        left = keep_until_s - (time.monotonic() - held.since)
        await self._let_go(keys=[self._key], args=[held.token, self._ms(left)])

    async def check_fence(self, held: HeldLease) -> None:
        """Advance the job fence in PostgreSQL to this holding's number; LeaseLost when a
        newer holding already has."""
        if not await sql.fetch(_ADVANCE_FENCE, name=self.name, fence=held.fence):
            raise LeaseLost(f"lease {self.name}: fence {held.fence} is stale")

    async def hold_while(self, held: HeldLease, work: Callable[[], Awaitable[T]]) -> T:
        """Run ``work`` while renewing the lease; LeaseLost (and ``work`` cancelled) when a
        renewal finds the lease gone."""

        async def keep() -> None:
            while True:
                await asyncio.sleep(self.ttl_s / 3)
                if not await self.renew(held):
                    raise LeaseLost(f"lease {self.name} expired before it was renewed")

        keeper = asyncio.create_task(keep(), name=f"lease:{self.name}")
        worker = asyncio.ensure_future(work())
        try:
            await asyncio.wait({keeper, worker}, return_when=asyncio.FIRST_COMPLETED)
            if not worker.done():
                keeper.result()  # the keeper ended first: it raises why (LeaseLost, Redis)
            return worker.result()
        finally:
            for task in (keeper, worker):
                task.cancel()
            await asyncio.gather(keeper, worker, return_exceptions=True)

    @staticmethod
    def _ms(seconds: float) -> int:
        return max(0, int(seconds * 1000))
