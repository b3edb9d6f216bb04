"""Rate limits (Litestar's limiter, counting in Redis so every process shares the budget)."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.middleware.rate_limit import RateLimitConfig, get_remote_address

from backend.auth.api_keys import hash_api_key
from backend.auth.middleware import API_KEY_HEADER

STORE_NAME = "rate_limit"


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
