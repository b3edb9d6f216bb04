"""The drain (realtime/drain.py): a stopping process closes its sockets over a window, with
1012, and only then lets the server's own SIGTERM handling go on."""

from __future__ import annotations

import asyncio
import random
import signal
from collections.abc import Iterator
from types import FrameType
from typing import Any, cast

import pytest
from litestar import WebSocket

from realtime.drain import SocketDrain
from realtime.protocol import CLOSE_SERVICE_RESTART


class FakeSocket:
    """Records when and how it was closed."""

    def __init__(self) -> None:
        self.closes: list[tuple[float, int]] = []

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.closes.append((asyncio.get_running_loop().time(), code))


def as_socket(fake: FakeSocket) -> WebSocket[Any, Any, Any]:
    return cast("WebSocket[Any, Any, Any]", fake)


@pytest.fixture
def sigterm_restored() -> Iterator[None]:
    """Whatever a test installs for SIGTERM is undone after it."""
    before = signal.getsignal(signal.SIGTERM)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


async def test_every_open_socket_is_closed_with_1012_spread_over_the_window() -> None:
    drain = SocketDrain(window_s=0.6, rng=random.Random(7))
    sockets = [FakeSocket() for _ in range(40)]
    for fake in sockets:
        drain.opened(as_socket(fake))
    left_by_itself = sockets.pop()
    drain.closed(as_socket(left_by_itself))
    started = asyncio.get_running_loop().time()

    assert await drain.close_all() == 39

    assert all(len(fake.closes) == 1 for fake in sockets)
    assert {code for fake in sockets for _, code in fake.closes} == {CLOSE_SERVICE_RESTART}
    assert not left_by_itself.closes
    moments = sorted(at - started for fake in sockets for at, _ in fake.closes)
    assert moments[-1] <= 0.6 + 0.3  # within the window (a busy machine's lateness aside)
    # Spread, not in one instant: a third of the window apart at least, first to last.
    assert moments[-1] - moments[0] >= 0.2
    assert drain.open_count == 0


async def test_sigterm_drains_first_then_calls_the_servers_handler(sigterm_restored: None) -> None:
    handled: list[tuple[int, float]] = []
    loop = asyncio.get_running_loop()

    def server_handler(signum: int, _: FrameType | None) -> None:
        handled.append((signum, loop.time()))

    signal.signal(signal.SIGTERM, server_handler)
    drain = SocketDrain(window_s=0.3)
    phone = FakeSocket()
    drain.opened(as_socket(phone))
    assert drain.drain_on_sigterm()

    signal.raise_signal(signal.SIGTERM)
    for _ in range(100):
        if handled:
            break
        await asyncio.sleep(0.02)

    assert [signum for signum, _ in handled] == [signal.SIGTERM]
    assert len(phone.closes) == 1
    assert phone.closes[0][0] <= handled[0][1]  # closed before the server took over
    # A second SIGTERM goes straight to the server (an impatient operator, the kubelet).
    signal.raise_signal(signal.SIGTERM)
    await asyncio.sleep(0)
    assert len(handled) == 2


@pytest.mark.parametrize(
    ("window_s", "handler"),
    [(10.0, signal.SIG_DFL), (0.0, lambda *_: None)],
    ids=["no server handler", "no window"],
)
async def test_the_drain_is_not_installed_without_a_server_handler_or_a_window(
    sigterm_restored: None, window_s: float, handler: Any
) -> None:
    signal.signal(signal.SIGTERM, handler)
    assert not SocketDrain(window_s=window_s).drain_on_sigterm()
    assert signal.getsignal(signal.SIGTERM) is handler
