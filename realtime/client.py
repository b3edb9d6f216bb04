"""Reference client for ``/v1/ws``: authenticate, resume, reconnect. asyncio + websockets.

Used by the tests and the benchmark, and the model for the mobile apps: remember the last
``seq`` you handled (and, for a member, the last broadcast seq: envelopes with
``"stream": "broadcast"``); on every reconnect give them on the URL (``?last_seq=`` and
``&broadcast_last_seq=``), so the server replays what was missed at once and no live event
waits for a first frame; on a first connect (no position yet) send ``resume`` with
``ready``'s; drop anything at or below them; on ``resync`` refetch state over REST and carry
on from its ``last_seq``. A phone registered for push names its device in the URL
(``/v1/ws?device=<device id>``) and pings after 20 s of quiet: push then skips what the open
socket showed (``realtime.live_sockets``).

Reconnecting: a process that restarts (close 1012) drops all its sockets at once, and a
client that came straight back would land on the other processes together with every other
socket of it (50,000 at a large chain's peak). So after 1012 a client waits a random time
in ``restart_spread_s`` (1-8 s), and after a failed connect an exponential backoff with full
jitter (0.5-1 s, then up to 2, 4 ... 30 s): seconds, not hundreds of milliseconds, spread.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from dataclasses import KW_ONLY, dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import websockets
from websockets.exceptions import ConnectionClosed

from realtime.protocol import CLOSE_SERVICE_RESTART, CLOSE_UNAUTHORIZED

RESTART_SPREAD_S = (1.0, 8.0)
FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 30.0


def reconnect_delay_s(
    attempt: int,
    *,
    restarted: bool = False,
    restart_spread_s: tuple[float, float] = RESTART_SPREAD_S,
    first_backoff_s: float = FIRST_BACKOFF_S,
    max_backoff_s: float = MAX_BACKOFF_S,
) -> float:
    """How long to wait before connect attempt ``attempt`` (1: the first after a drop)."""
    if restarted and attempt == 1:
        return random.uniform(*restart_spread_s)  # noqa: S311 (spread, not secrecy)
    ceiling = min(max_backoff_s, first_backoff_s * 2 ** (attempt - 1))
    return random.uniform(min(ceiling, first_backoff_s) / 2, ceiling)  # noqa: S311


class NotAuthorized(Exception):
    """The server refused the token (4401): get a new one, reconnecting will not help."""


@dataclass(eq=False)
class MemberStreamClient:
    url: str
    token: str = field(repr=False)
    _: KW_ONLY
    last_seq: int | None = None
    broadcast_last_seq: int | None = None
    first_backoff_s: float = FIRST_BACKOFF_S
    max_backoff_s: float = MAX_BACKOFF_S
    restart_spread_s: tuple[float, float] = RESTART_SPREAD_S
    connections: int = field(default=0, init=False)
    _socket: Any = field(default=None, init=False, repr=False)

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        """Every event once, in seq order, across reconnects; ``resync`` frames too."""
        attempt = 0
        while True:
            restarted = False
            try:
                url, told = self._url()
                async with websockets.connect(
                    url, additional_headers={"Authorization": f"Bearer {self.token}"}
                ) as socket:
                    self._socket = socket
                    self.connections += 1
                    attempt = 0
                    await self._start(socket, json.loads(await socket.recv()), told=told)
                    async for raw in socket:
                        frame = json.loads(raw)
                        if frame["type"] == "resync":
                            self._advance(frame.get("stream"), int(frame["last_seq"]))
                            yield frame
                        elif "seq" in frame:
                            stream, seq = frame.get("stream"), int(frame["seq"])
                            if seq <= self._position(stream):
                                continue  # already handled before a reconnect
                            self._advance(stream, seq)
                            yield frame
            except ConnectionClosed as closed:
                if closed.rcvd is not None and closed.rcvd.code == CLOSE_UNAUTHORIZED:
                    raise NotAuthorized(closed.rcvd.reason) from closed
                restarted = closed.rcvd is not None and closed.rcvd.code == CLOSE_SERVICE_RESTART
            except OSError:
                pass  # server unreachable: retry below
            finally:
                self._socket = None
            attempt += 1
            await asyncio.sleep(
                reconnect_delay_s(
                    attempt,
                    restarted=restarted,
                    restart_spread_s=self.restart_spread_s,
                    first_backoff_s=self.first_backoff_s,
                    max_backoff_s=self.max_backoff_s,
                )
            )

    def _url(self) -> tuple[str, bool]:
        """The URL to connect to, with the position when there is one (and whether)."""
        if self.last_seq is None:
            return self.url, False
        position = {"last_seq": self.last_seq}
        if self.broadcast_last_seq is not None:
            position["broadcast_last_seq"] = self.broadcast_last_seq
        separator = "&" if urlsplit(self.url).query else "?"
        return f"{self.url}{separator}{urlencode(position)}", True

    async def _start(self, socket: Any, ready: dict[str, Any], *, told: bool) -> None:
        """After ``ready``: nothing to say when the URL gave the position, else ``resume``."""
        if told:
            if self.broadcast_last_seq is None and ready.get("broadcast_last_seq") is not None:
                self.broadcast_last_seq = int(ready["broadcast_last_seq"])
            return
        if self.last_seq is None:
            self.last_seq = int(ready["last_seq"])
        if self.broadcast_last_seq is None and ready.get("broadcast_last_seq") is not None:
            self.broadcast_last_seq = int(ready["broadcast_last_seq"])
        resume: dict[str, Any] = {"type": "resume", "last_seq": self.last_seq}
        if self.broadcast_last_seq is not None and "broadcast_last_seq" in ready:
            resume["broadcast_last_seq"] = self.broadcast_last_seq
        await socket.send(json.dumps(resume))

    def _position(self, stream: str | None) -> int:
        if stream == "broadcast":
            return self.broadcast_last_seq or 0
        return self.last_seq or 0

    def _advance(self, stream: str | None, seq: int) -> None:
        if stream == "broadcast":
            self.broadcast_last_seq = seq
        else:
            self.last_seq = seq

    async def drop_connection(self) -> None:
        """Break the current connection (tests: a phone losing its network)."""
        if self._socket is not None:
            await self._socket.close()
