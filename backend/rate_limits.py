"""Rate limits (Litestar's limiter, counting in Redis so every process shares the budget)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from litestar import Request
from litestar.middleware.rate_limit import RateLimitConfig, get_remote_address
from litestar.stores.redis import RedisStore
from redis.exceptions import RedisError

from backend.auth.api_keys import hash_api_key
from backend.auth.middleware import API_KEY_HEADER

STORE_NAME = "rate_limit"
log = logging.getLogger(__name__)


class FailOpenRedisStore(RedisStore):
    """Litestar's Redis store, but a Redis outage lets requests through unthrottled.

    PostgreSQL is the truth and Redis only an aid: a sale must not fail because the counter
    that throttles tills is unreachable. The outage is logged; throttling resumes with Redis.
    """

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        try:
            return await super().get(key, renew_for)
        except (RedisError, OSError) as exc:
            log.warning("rate limit store unavailable, not throttling: %s", exc)
            return None

    async def set(
        self, key: str, value: str | bytes, expires_in: int | timedelta | None = None
    ) -> None:
        try:
            await super().set(key, value, expires_in)
        except (RedisError, OSError) as exc:
            log.warning("rate limit store unavailable, not counting: %s", exc)


def per_client_ip(per_minute: int) -> RateLimitConfig:
    """For logins and code requests: per client address (behind nginx, the forwarded one)."""
    return RateLimitConfig(rate_limit=("minute", per_minute), store=STORE_NAME)


def _terminal_or_ip(request: Request[Any, Any, Any]) -> str:
    key = request.headers.get(API_KEY_HEADER)
    # Hashed: the raw key must not become part of a Redis key name.
    return "terminal:" + hash_api_key(key) if key else get_remote_address(request)


def per_terminal(per_minute: int) -> RateLimitConfig:
    """For the POS API: a till is one key, however many addresses it comes from."""
    return RateLimitConfig(
        rate_limit=("minute", per_minute),
        store=STORE_NAME,
        identifier_for_request=_terminal_or_ip,
    )
