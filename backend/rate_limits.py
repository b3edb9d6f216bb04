"""Rate limits counted in Redis, so that every process shares one budget per caller.

Written here rather than taken from Litestar's ``RateLimitMiddleware``: that one keeps every
request's timestamp of the window in one Redis value and reads, decodes, extends, encodes and
writes it back on each request, under a lock that serializes the process's requests. At a
till's rate that was ~6 % of a purchase's CPU and grows with the limit, and two processes
could both read the same history and count one request. This one is a sliding-window
estimate over two fixed one-minute counters (the current minute's count plus the previous
minute's, weighted by how much of it is still inside the last 60 s): one round trip of one
command (a Lua script run by its SHA: increment, expire a new counter, read the previous
minute's) and constant work whatever the limit. A MULTI/INCR/EXPIRE/GET/EXEC pipeline cost
five commands to pack and parse in the server process, on every request. A caller's two
counters share a hash tag, so the script's keys stay on one slot of a Redis Cluster.

On the POS API the terminal's key is looked up in the same round trip: authentication runs
the limit's ``count_reading`` (a script that reads the key's cache entry and counts the request
when it is a valid terminal's) and hands the tally to the limit's middleware in the ASGI
scope, which then counts nothing itself. Without a tally there (a cache miss, a caller by
address, Redis away) the middleware counts as before; a request is counted once either way.

PostgreSQL is the truth and Redis only an aid: when Redis is unreachable requests pass
unthrottled (logged) rather than sales failing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.exceptions import TooManyRequestsException
from litestar.middleware import ASGIMiddleware
from litestar.middleware.rate_limit import get_remote_address
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from redis.asyncio import Redis
from redis.exceptions import RedisError

from backend.auth.api_keys import hash_api_key
from backend.auth.middleware import API_KEY_HEADER, COUNT_AT_AUTHENTICATION
from backend.auth.terminals import counted_caller

WINDOW_S = 60
COUNTER_STATE_KEY = "request_counter"
# Scope key: (limit name, Tally) of a request counted at authentication.
TALLY_SCOPE_KEY = "astrocoffee.counted"
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Tally:
    used: int  # requests in the last minute, this one included (estimated)
    reset_s: int  # seconds until the current minute's counter starts again


# KEYS: this minute's counter, the previous minute's; ARGV: the counter's lifetime (s).
_COUNT = """
local used = redis.call('INCR', KEYS[1])
if used == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return {used, tonumber(redis.call('GET', KEYS[2]) or '0')}
"""

# The same count, done only when KEYS[1] holds a value other than ARGV[2], which it returns
# first: {} (missing, not counted), {ARGV[2]} (not counted), {value, used, previous}.
_COUNT_IF_HELD = """
local held = redis.call('GET', KEYS[1])
if not held then return {} end
if held == ARGV[2] then return {held} end
local used = redis.call('INCR', KEYS[2])
if used == 1 then redis.call('EXPIRE', KEYS[2], ARGV[1]) end
return {held, used, tonumber(redis.call('GET', KEYS[3]) or '0')}
"""


class RequestCounter:
    """Per-caller request counts in Redis (one key per caller and minute)."""

    def __init__(self, redis: Redis, *, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix
        # Run by SHA, loaded again by redis-py if Redis has forgotten it (a restart).
        self._count = redis.register_script(_COUNT)
        self._count_if_held = redis.register_script(_COUNT_IF_HELD)

    def _counters(self, limit_name: str, caller: str, now: float) -> list[str]:
        """This minute's counter and the previous minute's (hash tag: the caller)."""
        minute = int(now // WINDOW_S)
        key = f"{self._prefix}{limit_name}:{{{caller}}}:"
        return [key + str(minute), key + str(minute - 1)]

    @staticmethod
    def _tally(this_minute: Any, last_minute: Any, now: float) -> Tally:
        into = now % WINDOW_S
        earlier = int(last_minute or 0) * (WINDOW_S - into) / WINDOW_S
        return Tally(used=int(this_minute) + int(earlier), reset_s=int(WINDOW_S - into) or 1)

    async def count(
        self, limit_name: str, caller: str, *, now: float | None = None
    ) -> Tally | None:
        """Count one request of ``caller``; None when Redis cannot count (not throttled)."""
        now = time.time() if now is None else now
        try:
            this_minute, last_minute = await self._count(
                keys=self._counters(limit_name, caller, now), args=[2 * WINDOW_S]
            )
        except (RedisError, OSError) as exc:
            log.warning("rate limit counter unavailable, not throttling: %s", exc)
            return None
        return self._tally(this_minute, last_minute, now)

    async def count_if_held(
        self, limit_name: str, caller: str, *, key: str, unless: bytes, now: float | None = None
    ) -> tuple[bytes | None, Tally | None]:
        """The value at ``key``, read in the round trip that counts one request of ``caller``
        when that value is there and is not ``unless`` (else the Tally is None and nothing is
        counted). ``key`` must carry the caller's hash tag. Redis errors propagate."""
        now = time.time() if now is None else now
        found = await self._count_if_held(
            keys=[key, *self._counters(limit_name, caller, now)], args=[2 * WINDOW_S, unless]
        )
        if not found:
            return None, None
        held = found[0] if isinstance(found[0], bytes) else str(found[0]).encode()
        if len(found) < 3:
            return held, None
        return held, self._tally(found[1], found[2], now)


@dataclass(frozen=True, slots=True)
class RateLimit:
    """``per_minute`` requests per caller, callers told apart by ``caller_of``."""

    name: str
    per_minute: int
    caller_of: Callable[[Request[Any, Any, Any]], str]

    @property
    def middleware(self) -> RateLimitMiddleware:
        return RateLimitMiddleware(self)

    @property
    def opt(self) -> dict[str, Any]:
        """Options for the router this limit guards: authentication counts a terminal's
        request for it while reading the key's cache entry (one round trip for both). Only
        for a limit that counts terminals by their key: its counters share the entry's slot."""
        return {COUNT_AT_AUTHENTICATION: self} if self.caller_of is _terminal_or_ip else {}

    async def count_reading(
        self, connection: ASGIConnection[Any, Any, Any, Any], key: str, tombstone: bytes
    ) -> bytes | None:
        scope = connection.scope
        request: Request[Any, Any, Any] = scope["litestar_app"].request_class(scope)
        counter: RequestCounter = request.app.state[COUNTER_STATE_KEY]
        held, tally = await counter.count_if_held(
            self.name, self.caller_of(request), key=key, unless=tombstone
        )
        if tally is not None:
            cast("dict[str, Any]", scope)[TALLY_SCOPE_KEY] = (self.name, tally)
        return held


class RateLimitMiddleware(ASGIMiddleware):
    """Refuses with 429 (problem+json, Retry-After) past the limit; tells the caller its
    budget in the IETF draft's RateLimit-* headers on every answer."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, limit: RateLimit) -> None:
        # Only the limit lives here: Litestar deep-copies routers and their middleware, so
        # the counter (which holds the Redis client) is found in the app's state instead.
        self._limit = limit

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        limit = self._limit
        request: Request[Any, Any, Any] = scope["litestar_app"].request_class(scope)
        counted = cast("dict[str, Any]", scope).pop(TALLY_SCOPE_KEY, None)
        if counted is not None and counted[0] == limit.name:
            tally: Tally | None = counted[1]  # counted at authentication
        else:
            counter: RequestCounter = request.app.state[COUNTER_STATE_KEY]
            tally = await counter.count(limit.name, limit.caller_of(request))
        if tally is None:
            await next_app(scope, receive, send)
            return
        headers = {
            "RateLimit-Policy": f"{limit.per_minute}; w={WINDOW_S}",
            "RateLimit-Limit": str(limit.per_minute),
            "RateLimit-Remaining": str(max(limit.per_minute - tally.used, 0)),
            "RateLimit-Reset": str(tally.reset_s),
        }
        if tally.used > limit.per_minute:
            raise TooManyRequestsException(headers={**headers, "Retry-After": str(tally.reset_s)})

        async def send_with_budget(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_headers = MutableScopeHeaders.from_message(message)
                for name, value in headers.items():
                    response_headers[name] = value
            await send(message)

        await next_app(scope, receive, send_with_budget)


def per_client_ip(per_minute: int) -> RateLimit:
    """For logins and code requests: per client address (behind nginx, the forwarded one)."""
    return RateLimit("login", per_minute, get_remote_address)


def _terminal_or_ip(request: Request[Any, Any, Any]) -> str:
    key = request.headers.get(API_KEY_HEADER)
    # Hashed: the raw key must not become part of a Redis key name.
    return counted_caller(hash_api_key(key)) if key else get_remote_address(request)


def per_terminal(per_minute: int) -> RateLimit:
    """For the POS API: a till is one key, however many addresses it comes from."""
    return RateLimit("pos", per_minute, _terminal_or_ip)
