"""The sockets of a process share their stored-event reads: asks of the same moment for the
newest seqs go out as one batch, the same replay is read once, and one socket leaving does
not cancel the read the others wait for."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from realtime.shared_reads import SharedReads


class CountingSource:
    """Stored events whose newest seq is each stream's length of name (reads counted)."""

    def __init__(self, *, fail: bool = False, slow_s: float = 0.0) -> None:
        self.batches: list[int] = []
        self.replays = 0
        self.fail = fail
        self.slow_s = slow_s

    async def events_after(self, stream: str, after_seq: int, limit: int) -> list[bytes]:
        self.replays += 1
        await asyncio.sleep(self.slow_s)
        return [b"%d" % seq for seq in range(after_seq + 1, after_seq + 3)]

    async def current_seq(self, stream: str) -> int:
        raise AssertionError("asked one by one")

    async def current_seqs(self, streams: Sequence[str]) -> dict[str, int]:
        self.batches.append(len(streams))
        await asyncio.sleep(0)
        if self.fail:
            raise ConnectionError("primary away")
        return {name: len(name) for name in streams if name != "member:unknown"}


async def test_asks_of_one_moment_are_one_read_per_batch() -> None:
    source = CountingSource()
    shared = SharedReads(source, batch_size=500)
    names = [f"member:{i:04d}" for i in range(1_200)] + ["member:unknown"]
    seqs = await asyncio.gather(*(shared.current_seq(name) for name in names * 2))
    assert seqs == [0 if name == "member:unknown" else len(name) for name in names * 2]
    assert source.batches == [500, 500, 201]  # asked twice, read once


async def test_the_same_replay_is_read_once_for_every_socket_asking() -> None:
    source = CountingSource(slow_s=0.01)
    shared = SharedReads(source)
    same = await asyncio.gather(*(shared.events_after("broadcast", 4, 100) for _ in range(50)))
    assert same == [[b"5", b"6"]] * 50
    assert source.replays == 1
    await shared.events_after("broadcast", 5, 100)  # another position: its own read
    assert source.replays == 2


async def test_a_failed_read_reaches_every_asker() -> None:
    shared = SharedReads(CountingSource(fail=True))
    results = await asyncio.gather(
        shared.current_seq("member:a"), shared.current_seq("store:b"), return_exceptions=True
    )
    assert all(isinstance(r, ConnectionError) for r in results)


async def test_a_socket_that_leaves_does_not_cancel_the_others_read() -> None:
    source = CountingSource(slow_s=0.05)
    shared = SharedReads(source)
    leaving = asyncio.create_task(shared.events_after("broadcast", 0, 10))
    staying = asyncio.create_task(shared.events_after("broadcast", 0, 10))
    await asyncio.sleep(0.01)
    leaving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leaving
    assert await staying == [b"1", b"2"]
    assert source.replays == 1
