"""What the live-socket record (``realtime.live_sockets``) costs a socket's writer: the same
run sends N one-event batches through a ``StreamFollower`` whose socket costs nothing, first
without a record, then with one (a real Redis), and prints the CPU per batch of each and
their ratio. Batches are apart (as a member's sales are), so every batch writes the record
once, in its own task: the difference is the gateway's CPU for one write; the Redis round
trip is waited out in the event loop's select, not counted.

    python -m loadtests.bench_live_sockets [--batches 2000] [--redis redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from redis.asyncio import Redis

from realtime.follower import GatewayConfig, StreamFollower
from realtime.live_sockets import LiveMark, LiveSockets

STREAM = "member:bench"
PAUSE_S = 0.002


class _FreeSocket:
    async def send_data(self, data: str, mode: str = "text") -> None:
        return None


class _CountingRedis:
    """The client, counting the record's writes."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.writes = 0

    async def set(self, key: str, value: int, *, px: int) -> Any:
        self.writes += 1
        return await self.redis.set(key, value, px=px)


class _NoReplay:
    async def current_seq(self, stream: str) -> int:
        return 0

    async def events_after(self, stream: str, after_seq: int, limit: int) -> list[bytes]:
        return []


def _envelope(seq: int) -> bytes:
    return b'{"type":"balance.updated","seq":%d,"ts":"2026-12-07T00:00:00+00:00","data":{}}' % seq


async def _cpu_per_batch(live: LiveMark | None, batches: int) -> float:
    follower = StreamFollower(
        socket=_FreeSocket(),
        stream=STREAM,
        replay=_NoReplay(),
        config=GatewayConfig(),
        last_seq=0,
        live=live,
    )
    follower.release()
    started = time.process_time()
    for seq in range(1, batches + 1):
        follower.deliver(_envelope(seq))
        # A pause between batches, as between a member's sales, spent in the event loop's
        # select (no CPU): the batch is sent and its record written before the next.
        await asyncio.sleep(PAUSE_S)
    assert follower.idle and (live is None or live.written == batches)
    return (time.process_time() - started) / batches


async def _bench(redis_url: str, batches: int) -> dict[str, Any]:
    redis = Redis.from_url(redis_url)
    counting = _CountingRedis(redis)
    sockets = LiveSockets(counting, prefix="bench-live:")
    try:
        without = await _cpu_per_batch(None, batches)
        mark = sockets.mark(STREAM, "device")
        with_record = await _cpu_per_batch(mark, batches)
        await redis.delete(mark.key)
    finally:
        await redis.aclose()
    return {"without_us": without * 1e6, "with_us": with_record * 1e6, "writes": counting.writes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=2000)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    figures = asyncio.run(_bench(args.redis, args.batches))
    print(
        f"{args.batches} one-event batches: {figures['without_us']:.1f} us CPU each without "
        f"a record, {figures['with_us']:.1f} us with one "
        f"({figures['with_us'] / figures['without_us']:.2f}x, same run); "
        f"{figures['writes']} record writes"
    )


if __name__ == "__main__":
    main()
