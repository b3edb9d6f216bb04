"""Rotating QR identification: a short-lived, single-use token the POS scans."""

from __future__ import annotations

import secrets
import uuid

from redis.asyncio import Redis

QR_PREFIX = "acq_"


class QrTokens:
    def __init__(self, *, redis: Redis, prefix: str, ttl_s: int = 60) -> None:
        self._redis = redis
        self._prefix = prefix
        self.ttl_s = ttl_s

    def _key(self, token: str) -> str:
        return f"{self._prefix}qr:{token}"

    async def issue(self, member_id: uuid.UUID) -> str:
        token = QR_PREFIX + secrets.token_urlsafe(18)
        await self._redis.set(self._key(token), str(member_id), ex=self.ttl_s)
        return token

    async def consume(self, token: str) -> uuid.UUID | None:
        """The member behind the token, once: a second use (a screenshot) finds nothing."""
        value = await self._redis.getdel(self._key(token))
        if value is None:
            return None
        return uuid.UUID(value.decode() if isinstance(value, bytes) else str(value))

    async def forget_member(self, member_id: uuid.UUID) -> int:
        """Void the member's unused tokens (an erased member is nobody at the till); the
        tokens live a minute, so there are few to look through."""
        wanted = {str(member_id), str(member_id).encode()}
        voided = 0
        async for key in self._redis.scan_iter(match=self._key("*"), count=500):
            if await self._redis.get(key) in wanted:
                voided += await self._redis.delete(key)
        return voided


def qr_svg(token: str) -> bytes:
    """The token as a QR code, SVG (segno: a maintained, pure-Python encoder)."""
    import io

    import segno

    out = io.BytesIO()
    segno.make(token, error="m").save(out, kind="svg", scale=6, border=2, xmldecl=False)
    return out.getvalue()
