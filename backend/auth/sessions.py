"""Login sessions in Redis, with refresh tokens that rotate on every use.

A refresh token is ``<session id>.<secret>``; Redis keeps only the secret's hash. Using a
token that was already rotated away means it leaked: the whole session is revoked.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass

from redis.asyncio import Redis

from backend.errors import Unauthorized


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class IssuedSession:
    session_id: str
    refresh_token: str


class SessionStore:
    def __init__(self, *, redis: Redis, prefix: str, ttl_s: int) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl_s = ttl_s

    def _key(self, session_id: str) -> str:
        return f"{self._prefix}session:{session_id}"

    async def open(self, *, subject: uuid.UUID, kind: str) -> IssuedSession:
        session_id = secrets.token_urlsafe(16)
        secret = secrets.token_urlsafe(32)
        key = self._key(session_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                key,
                mapping={
                    "subject": str(subject),
                    "kind": kind,
                    "refresh_hash": _hash(secret),
                    "created_at": int(time.time()),
                },
            )
            pipe.expire(key, self._ttl_s)
            await pipe.execute()
        return IssuedSession(session_id=session_id, refresh_token=f"{session_id}.{secret}")

    async def is_active(self, session_id: str) -> bool:
        return bool(await self._redis.exists(self._key(session_id)))

    async def rotate(self, refresh_token: str) -> tuple[uuid.UUID, str, IssuedSession]:
        """Swap a refresh token for a new one; return (subject, kind, new session token)."""
        session_id, _, secret = refresh_token.partition(".")
        if not session_id or not secret:
            raise Unauthorized("malformed refresh token")
        key = self._key(session_id)
        new_secret = secrets.token_urlsafe(32)
        # Compare-and-swap in one step, so two concurrent refreshes cannot both win.
        result = await self._redis.eval(
            _ROTATE_SCRIPT, 1, key, _hash(secret), _hash(new_secret), self._ttl_s
        )
        if result is None:
            raise Unauthorized("session expired or revoked")
        if result == b"reused" or result == "reused":
            raise Unauthorized("refresh token reuse detected; the session is revoked")
        subject, kind = (v.decode() if isinstance(v, bytes) else str(v) for v in result)
        return (
            uuid.UUID(subject),
            kind,
            IssuedSession(session_id=session_id, refresh_token=f"{session_id}.{new_secret}"),
        )

    async def revoke(self, session_id: str) -> None:
        await self._redis.delete(self._key(session_id))


_ROTATE_SCRIPT = """
local current = redis.call('HGET', KEYS[1], 'refresh_hash')
if not current then return nil end
if current ~= ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 'reused'
end
redis.call('HSET', KEYS[1], 'refresh_hash', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return redis.call('HMGET', KEYS[1], 'subject', 'kind')
"""
