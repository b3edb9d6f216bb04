"""Reference client for ``/v1/ws``: authenticate, resume, reconnect. asyncio + websockets.

Used by the tests and the benchmark, and the model for the mobile apps: remember the last
``seq`` you handled (and, for a member, the last broadcast seq: envelopes with
``"stream": "broadcast"``); on every (re)connect send ``resume`` with them; drop anything at
or below them; on ``resync`` refetch state over REST and carry on from its ``last_seq``.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from typing import Any

import websockets
from websockets.exceptions import ConnectionClosed

from realtime.protocol import CLOSE_UNAUTHORIZED


class NotAuthorized(Exception):
    """The server refused the token (4401): get a new one, reconnecting will not help."""


class MemberStreamClient:
    def __init__(
        self,
        url: str,
        token: str,
        *,
        last_seq: int | None = None,
        broadcast_last_seq: int | None = None,
        max_backoff_s: float = 5.0,
    ) -> None:
        self.url = url
        self.token = token
        self.last_seq = last_seq
        self.broadcast_last_seq = broadcast_last_seq
        self.max_backoff_s = max_backoff_s
        self.connections = 0
        self._socket: Any = None

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        """Every event once, in seq order, across reconnects; ``resync`` frames too."""
        attempt = 0
        while True:
            try:
                async with websockets.connect(
                    self.url, additional_headers={"Authorization": f"Bearer {self.token}"}
                ) as socket:
                    self._socket = socket
                    self.connections += 1
                    attempt = 0
                    await self._start(socket, json.loads(await socket.recv()))
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
            except OSError:
                pass  # server unreachable: retry below
            finally:
                self._socket = None
            attempt += 1
            await asyncio.sleep(min(self.max_backoff_s, 0.1 * 2**attempt) * random.uniform(0.5, 1))  # noqa: S311

    async def _start(self, socket: Any, ready: dict[str, Any]) -> None:
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
