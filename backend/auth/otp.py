"""One-time login codes: random, hashed at rest in Redis, expiring, with limited attempts."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass, field
from typing import Literal, Protocol, get_args

from redis.asyncio import Redis

from backend.errors import InvalidOtp, TooManyRequests

log = logging.getLogger(__name__)

Purpose = Literal["login", "erasure"]
PURPOSES: tuple[Purpose, ...] = get_args(Purpose)


class OtpSender(Protocol):
    async def send(self, *, phone: str, code: str) -> None: ...


class LoggingOtpSender:
    """Development sender: writes the code to the log instead of sending an SMS."""

    async def send(self, *, phone: str, code: str) -> None:
        log.warning("one-time code for %s is %s (development sender, not sent)", phone, code)


@dataclass(frozen=True, slots=True, kw_only=True)
class OtpService:
    redis: Redis
    sender: OtpSender
    secret: str = field(repr=False)  # keys the codes' digests
    prefix: str
    ttl_s: int
    max_attempts: int
    sends_per_phone: int
    send_window_s: int
    fixed_code: str | None = None

    def _key(self, phone: str, purpose: Purpose = "login") -> str:
        # A code confirms one thing: a login code cannot confirm an erasure, nor the reverse.
        if purpose == "login":
            return f"{self.prefix}otp:{phone}"
        return f"{self.prefix}otp:{purpose}:{phone}"

    def _sends_key(self, phone: str) -> str:
        return f"{self.prefix}otp-sends:{phone}"

    def _digest(self, phone: str, code: str, purpose: Purpose = "login") -> str:
        # Keyed so that a Redis dump does not reveal codes by brute-forcing 10^6 hashes.
        said = f"{phone}:{code}" if purpose == "login" else f"{purpose}:{phone}:{code}"
        return hmac.new(self.secret.encode(), said.encode(), hashlib.sha256).hexdigest()

    async def forget_phone(self, phone: str) -> None:
        """Remove every key that names ``phone`` (codes of every purpose, the send counter):
        an erased member's number must not stay behind in Redis."""
        keys = [*(self._key(phone, purpose) for purpose in PURPOSES), self._sends_key(phone)]
        # One DEL each (pipelined): the keys lie on different slots of a Redis Cluster, which
        # refuses a multi-key DEL across slots; nothing needs them gone at the same instant.
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.delete(key)
            await pipe.execute()

    async def request_code(self, phone: str, purpose: Purpose = "login") -> None:
        # Per phone, on top of the per-IP limit on the route: Litestar's limiter keys on the
        # request, not on a field of the body, so this counter is our own (fixed window).
        sends_key = self._sends_key(phone)
        async with self.redis.pipeline(transaction=True) as pipe:
            # SET NX starts the window; INCR keeps its expiry (works on Redis 6, unlike EXPIRE NX).
            pipe.set(sends_key, 0, ex=self.send_window_s, nx=True)
            pipe.incr(sends_key)
            _, sends = await pipe.execute()
        if sends > self.sends_per_phone:
            raise TooManyRequests("too many codes sent to this phone; try again later")
        code = self.fixed_code or f"{secrets.randbelow(10**6):06d}"
        key = self._key(phone, purpose)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"digest": self._digest(phone, code, purpose), "attempts": 0})
            pipe.expire(key, self.ttl_s)
            await pipe.execute()
        await self.sender.send(phone=phone, code=code)

    async def verify(self, phone: str, code: str, purpose: Purpose = "login") -> None:
        """Consume a correct code; raise ``InvalidOtp`` otherwise."""
        key = self._key(phone, purpose)
        found = await self.redis.eval(_COUNT_ATTEMPT, 1, key)
        if found is None:
            raise InvalidOtp("no code was requested for this phone, or it expired")
        attempts, digest = int(found[0]), found[1]
        if attempts > self.max_attempts:
            await self.redis.delete(key)
            raise InvalidOtp("too many attempts; request a new code")
        expected = digest.decode() if isinstance(digest, bytes) else str(digest)
        if not hmac.compare_digest(expected, self._digest(phone, code, purpose)):
            raise InvalidOtp("the code is wrong")
        # Only one caller may consume it, even if two arrive with the right code at once.
        if not await self.redis.delete(key):
            raise InvalidOtp("the code was already used")


# Counting the attempt only when a code exists keeps a stray verify from leaving a key with
# no expiry behind.
_COUNT_ATTEMPT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return nil end
local attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
return {attempts, redis.call('HGET', KEYS[1], 'digest')}
"""
