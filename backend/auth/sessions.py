"""Login sessions in Redis, with refresh tokens that rotate on every use.

A refresh token is ``<session id>.<secret>``; Redis keeps only the secret's hash. Using a
token that was already rotated away means it leaked: the whole session is revoked. Each
subject's sessions are also indexed, so a member can list their devices and end one.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from redis.asyncio import Redis

from backend.errors import NotFound, Unauthorized


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@dataclass(frozen=True, slots=True)
class IssuedSession:
    session_id: str
    refresh_token: str


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """What a member is shown of one of their sessions (the session list, their data export):
    its fields are those of both answers."""

    session_id: str
    device: str
    created_at: datetime
    last_used_at: datetime


class SessionStore:
    def __init__(self, *, redis: Redis, prefix: str, ttl_s: int) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl_s = ttl_s

    def _key(self, session_id: str) -> str:
        return f"{self._prefix}session:{session_id}"

    def _index(self, kind: str, subject: uuid.UUID | str) -> str:
        return f"{self._prefix}sessions:{kind}:{subject}"

    async def open(self, *, subject: uuid.UUID, kind: str, device: str = "") -> IssuedSession:
        session_id = secrets.token_urlsafe(16)
        secret = secrets.token_urlsafe(32)
        key = self._key(session_id)
        now = int(time.time())
        index = self._index(kind, subject)
        # Two transactions, index first: the session and its subject's index are on different
        # slots of a Redis Cluster, which refuses one MULTI across them. A session is thus
        # never live unlisted; a failure in between leaves an id in the index that ``list``
        # drops (its session hash is missing).
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.sadd(index, session_id)
            pipe.expire(index, self._ttl_s)
            await pipe.execute()
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                key,
                mapping={
                    "subject": str(subject),
                    "kind": kind,
                    "refresh_hash": _hash(secret),
                    "device": device[:200],
                    "created_at": now,
                    "last_used_at": now,
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
        new_secret = secrets.token_urlsafe(32)
        # Compare-and-swap in one step, so two concurrent refreshes cannot both win.
        result = await self._redis.eval(
            _ROTATE_SCRIPT,
            1,
            self._key(session_id),
            _hash(secret),
            _hash(new_secret),
            self._ttl_s,
            int(time.time()),
        )
        if result is None:
            raise Unauthorized("session expired or revoked")
        if isinstance(result, bytes | str) and _text(result) == "reused":
            raise Unauthorized("refresh token reuse detected; the session is revoked")
        subject, kind = (_text(v) for v in result)
        return (
            uuid.UUID(subject),
            kind,
            IssuedSession(session_id=session_id, refresh_token=f"{session_id}.{new_secret}"),
        )

    async def list(self, *, subject: uuid.UUID, kind: str) -> list[SessionInfo]:
        index = self._index(kind, subject)
        sessions = []
        for raw_id in await self._redis.smembers(index):
            session_id = _text(raw_id)
            fields = await self._redis.hmget(
                self._key(session_id), ["device", "created_at", "last_used_at"]
            )
            if fields[1] is None:
                await self._redis.srem(index, session_id)
                continue
            sessions.append(
                SessionInfo(
                    session_id=session_id,
                    device=_text(fields[0] or b""),
                    created_at=datetime.fromtimestamp(int(fields[1]), UTC),
                    last_used_at=datetime.fromtimestamp(int(fields[2] or fields[1]), UTC),
                )
            )
        return sorted(sessions, key=lambda s: s.created_at)

    async def revoke(self, session_id: str) -> None:
        key = self._key(session_id)
        owner = await self._redis.hmget(key, ["subject", "kind"])
        await self._redis.delete(key)
        if owner[0] is not None and owner[1] is not None:
            await self._redis.srem(self._index(_text(owner[1]), _text(owner[0])), session_id)

    async def revoke_owned(self, *, subject: uuid.UUID, kind: str, session_id: str) -> None:
        """End one of the subject's own sessions; someone else's looks like a missing one."""
        owner = await self._redis.hget(self._key(session_id), "subject")
        if owner is None or _text(owner) != str(subject):
            raise NotFound("no such session")
        await self.revoke(session_id)


_ROTATE_SCRIPT = """
local current = redis.call('HGET', KEYS[1], 'refresh_hash')
if not current then return nil end
if current ~= ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 'reused'
end
redis.call('HSET', KEYS[1], 'refresh_hash', ARGV[2], 'last_used_at', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return redis.call('HMGET', KEYS[1], 'subject', 'kind')
"""
