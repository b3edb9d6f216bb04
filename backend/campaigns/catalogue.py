"""The campaigns in effect, cached so that a sale evaluates them in memory.

Redis holds the encoded list (shared by every process; dropped whenever a campaign
changes), and each process keeps what it read for ``LOCAL_TTL_S``, so a sale costs no query
at all for campaigns, and a change reaches every process within that second. Scheduled
campaigns are in the list too: whether one is in effect is decided by its start and end at
the moment of the sale, so a campaign starts and ends on time, not when a job gets to it.
"""

from __future__ import annotations

import contextlib
import logging
import time
import weakref
from datetime import datetime

import msgspec
from redis.asyncio import Redis
from redis.exceptions import RedisError

from backend.campaigns.terms import CampaignTerms
from db.tables import Campaign

log = logging.getLogger(__name__)
LOCAL_TTL_S = 1.0
REDIS_TTL_S = 300


class LiveCampaign(CampaignTerms, frozen=True):
    """A campaign scheduled or active, as the catalogue keeps it for sales."""

    description: str = ""
    per_member_period: str | None = None  # day, week, month, year; None: lifetime

    def in_effect(self, at: datetime) -> bool:
        if self.status not in ("scheduled", "active"):
            return False
        if self.starts_at is not None and at < self.starts_at:
            return False
        return self.ends_at is None or at < self.ends_at


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(list[LiveCampaign])


# Every catalogue of the process, for forget_local_copies.
_CATALOGUES: weakref.WeakSet[Catalogue] = weakref.WeakSet()


def forget_local_copies() -> None:
    """Make every catalogue of this process read again on its next use: for whoever empties
    the tables under them (the tests, between two tests), as ``forget_cached_rules`` does."""
    for catalogue in _CATALOGUES:
        catalogue._read_at = float("-inf")


class Catalogue:
    def __init__(self, *, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._key = f"{prefix}campaigns:live"
        self._local: list[LiveCampaign] = []
        self._read_at = float("-inf")
        _CATALOGUES.add(self)

    async def live(self) -> list[LiveCampaign]:
        """Campaigns scheduled or active (not draft, paused or ended), best first."""
        if time.monotonic() - self._read_at < LOCAL_TTL_S:
            return self._local
        campaigns: list[LiveCampaign] | None = None
        try:
            cached = await self._redis.get(self._key)
            if cached is not None:
                campaigns = _decoder.decode(cached)
        except (RedisError, OSError, msgspec.DecodeError) as exc:
            log.warning("campaign cache unavailable, reading PostgreSQL: %s", exc)
        if campaigns is None:
            campaigns = await load_live_campaigns()
            # PostgreSQL answered; if Redis does not take it, the cache fills next time.
            with contextlib.suppress(RedisError, OSError):
                await self._redis.set(self._key, _encoder.encode(campaigns), ex=REDIS_TTL_S)
        self._local = campaigns
        self._read_at = time.monotonic()
        return campaigns

    async def forget(self) -> None:
        """After a change: drop the shared copy and this process's one."""
        self._read_at = float("-inf")
        try:
            await self._redis.delete(self._key)
        except (RedisError, OSError) as exc:
            # Others keep the old list until the key's TTL; say so loudly.
            log.error("campaign cache not dropped (%s); it expires in %d s", exc, REDIS_TTL_S)


async def load_live_campaigns() -> list[LiveCampaign]:
    rows = (
        await Campaign.select()
        .where(Campaign.status.is_in(["scheduled", "active"]))
        .order_by(Campaign.priority, ascending=False)
        .order_by(Campaign.created_at)
        .output(load_json=True)
    )
    return [to_live(row) for row in rows]


def to_live(row: dict[str, object]) -> LiveCampaign:
    """The campaign's row as a sale uses it (the columns only an admin reads are left out)."""
    return msgspec.convert(row, LiveCampaign, from_attributes=False)
