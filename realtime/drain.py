"""A stopping process closes its WebSockets spread over a window, not all in one instant.

uvicorn, on SIGTERM, closes every socket of the process at once (1012 "service restart").
Clients wait a random 1-8 s after a 1012 (``realtime.client``), so a pod of 20,000 sockets
would land on the others at ~2,900 reconnects a second, each with its authentication,
subscription and resume read. The drain goes first: on SIGTERM it closes each open socket
with 1012 at its own random moment of ``window_s`` (uniform, so the closes arrive at a steady
rate), and only then hands the signal to uvicorn, whose shutdown finishes the HTTP requests
in flight and closes what is left (a socket opened meanwhile). With the clients' spread on
top, reconnects arrive over 1 to ``window_s`` + 8 s, at ``sockets / window_s`` a second at most:
20,000 sockets over a 20 s window is 1,000 a second, not 2,900.

Kubernetes gives the pod ``terminationGracePeriodSeconds`` for the preStop sleep, this window,
uvicorn's 10 s and the lifespan's close (deploy/k8s/base/deployment-app.yaml).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from litestar import WebSocket

from realtime.protocol import CLOSE_SERVICE_RESTART

log = logging.getLogger(__name__)

# A close is one frame; one that cannot be written in this time (a client that reads nothing)
# is left to uvicorn's shutdown rather than holding up the others.
_CLOSE_TIMEOUT_S = 1.0

Handler = Callable[[int, FrameType | None], Any]


class SocketDrain:
    """The open sockets of one process, and closing them over ``window_s`` when it stops."""

    def __init__(self, *, window_s: float, rng: random.Random | None = None) -> None:
        self.window_s = window_s
        self._rng = rng or random.Random()  # noqa: S311 (spread, not secrecy)
        self._open: set[WebSocket[Any, Any, Any]] = set()
        self._signalled = False
        self._task: asyncio.Task[None] | None = None

    @property
    def open_count(self) -> int:
        return len(self._open)

    def opened(self, socket: WebSocket[Any, Any, Any]) -> None:
        self._open.add(socket)

    def closed(self, socket: WebSocket[Any, Any, Any]) -> None:
        self._open.discard(socket)

    async def close_all(self) -> int:
        """Close every socket open now with 1012, each at a random moment of the window;
        return how many were closed here (those that left by themselves meanwhile are not)."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        plan = sorted(
            ((self._rng.uniform(0, self.window_s), n, s) for n, s in enumerate(self._open)),
            key=lambda step: step[:2],
        )
        closed = 0
        for moment, _, socket in plan:
            delay = started + moment - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if socket in self._open:
                self._open.discard(socket)
                with contextlib.suppress(Exception):  # gone already: nothing to close
                    await asyncio.wait_for(
                        socket.close(code=CLOSE_SERVICE_RESTART, reason="server restarting"),
                        _CLOSE_TIMEOUT_S,
                    )
                closed += 1
        return closed

    def drain_on_sigterm(self) -> bool:
        """Put the drain in front of the server's SIGTERM handler (uvicorn's): the first
        SIGTERM drains, then calls it; a second one calls it at once. Installed only over a
        Python handler, in the main thread, with a window: under a test client or plain
        asyncio there is no server handler, and the signal keeps its meaning. Whether it was
        installed."""
        if self.window_s <= 0 or threading.current_thread() is not threading.main_thread():
            return False
        server_handler = signal.getsignal(signal.SIGTERM)
        if not callable(server_handler):
            return False
        loop = asyncio.get_running_loop()

        def on_sigterm(signum: int, frame: FrameType | None) -> None:
            if self._signalled:
                server_handler(signum, frame)
                return
            self._signalled = True
            loop.call_soon_threadsafe(self._start, server_handler, signum)

        signal.signal(signal.SIGTERM, on_sigterm)
        return True

    def _start(self, server_handler: Handler, signum: int) -> None:
        self._task = asyncio.get_running_loop().create_task(
            self._drain_then(server_handler, signum), name="websocket-drain"
        )

    async def _drain_then(self, server_handler: Handler, signum: int) -> None:
        count = len(self._open)
        log.info("draining %d WebSocket(s) over %.0f s before stopping", count, self.window_s)
        try:
            await self.close_all()
        finally:
            server_handler(signum, None)
