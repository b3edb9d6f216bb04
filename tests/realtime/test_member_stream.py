from __future__ import annotations

from typing import Any

from realtime.gateway import GatewayConfig, StreamFollower


class NeverSends:
    """A socket whose client stopped reading; the stream's writer is never started."""

    async def send_data(self, data: Any, mode: str = "text") -> None:
        raise AssertionError("not reached")


class NoReplay:
    async def events_after(self, member_id: str, after_seq: int, limit: int) -> list[bytes]:
        return []

    async def current_seq(self, member_id: str) -> int:
        return 0


def test_a_client_that_cannot_keep_up_is_marked_too_slow_instead_of_buffering() -> None:
    stream = StreamFollower(
        socket=NeverSends(),  # type: ignore[arg-type]
        stream="member:m",
        replay=NoReplay(),
        config=GatewayConfig(queue_size=8),
        last_seq=0,
    )
    for seq in range(1, 9):
        stream.deliver(b'{"seq": %d}' % seq)
    assert not stream.too_slow.is_set()
    stream.deliver(b'{"seq": 9}')
    assert stream.too_slow.is_set()
