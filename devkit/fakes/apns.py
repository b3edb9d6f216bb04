"""The Apple Push Notification service's provider API, over HTTP/2 (``h2``, cleartext with
prior knowledge: what ``httpx`` with ``http1=False, http2=True`` speaks to an http:// URL).

Tests run it in-process (``async with ApnsService().serving() as address``); development
runs it as a process (``python -m devkit.fakes.apns``) with the development key
(``backend.push.development``).

Protocol: ``POST /3/device/<hex token>`` with ``authorization: bearer <provider token>``
(an ES256 JWT signed by the key, ``kid`` its key id, ``iss`` the team, issued within the
hour: else 403 ``MissingProviderToken`` / ``InvalidProviderToken`` /
``ExpiredProviderToken``), ``apns-topic`` (else 400 ``TopicDisallowed``) and a JSON body
with ``aps``: 200 with ``apns-id``; 400 ``BadDeviceToken`` for a token that is not hex, 410
``Unregistered`` for a ``gone`` one, 429 ``TooManyRequests`` with ``retry-after`` while
``too_many`` lasts, 503 ``ServiceUnavailable`` while ``fail_next`` lasts or ``down``.
Errors are ``{"reason"}`` as Apple's. ``POST /_control`` and ``GET /_state`` as every fake's.
Switches: ``devkit.fakes.push_service``.
"""

from __future__ import annotations

import asyncio
import json
import string
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import ClassVar

import h2.config
import h2.connection
import h2.events
import jwt
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from backend.push.apns import Apns
from backend.push.development import (
    DEV_APNS_KEY,
    DEV_APNS_KEY_ID,
    DEV_APNS_TEAM_ID,
    DEV_APNS_TOPIC,
    DEV_APNS_URL,
)
from devkit.fakes.base import HANG_S, configure_logging
from devkit.fakes.push_service import PushService

DEV_PORT = int(DEV_APNS_URL.rsplit(":", 1)[1])

Answer = tuple[int, dict[str, str], bytes]


def _answer(status: int, reason: str | None = None, **headers: str) -> Answer:
    body = json.dumps({"reason": reason}).encode() if reason else b""
    return status, headers, body


@dataclass
class ApnsService(PushService):
    key: str = DEV_APNS_KEY
    key_id: str = DEV_APNS_KEY_ID
    team_id: str = DEV_APNS_TEAM_ID
    topic: str = DEV_APNS_TOPIC
    streams: int = 0  # requests answered, over however many connections
    connections: int = 0

    DOWN: ClassVar[str] = "ServiceUnavailable"
    HELP: ClassVar[str] = "Serve a fake APNs provider API (HTTP/2)."
    PORT: ClassVar[int] = DEV_PORT
    WHAT: ClassVar[str] = "APNs (HTTP/2, cleartext)"

    def provider(self, base_url: str, *, team_id: str | None = None) -> Apns:
        """A provider with this fake's key, key id, team and topic (``team_id``: another
        team's, which it refuses), sending to ``base_url`` (the caller closes it)."""
        return Apns(
            key=self.key,
            key_id=self.key_id,
            team_id=team_id or self.team_id,
            topic=self.topic,
            base_url=base_url,
        )

    def token_problem(self, authorization: str | None) -> str | None:
        if not authorization or not authorization.lower().startswith("bearer "):
            return "MissingProviderToken"
        token = authorization[len("bearer ") :]
        public = load_pem_private_key(self.key.encode(), password=None).public_key()
        try:
            if jwt.get_unverified_header(token).get("kid") != self.key_id:
                return "InvalidProviderToken"
            claims = jwt.decode(token, public, algorithms=["ES256"])  # type: ignore[arg-type]
        except jwt.PyJWTError:
            return "InvalidProviderToken"
        if claims.get("iss") != self.team_id:
            return "InvalidProviderToken"
        if not isinstance(claims.get("iat"), int) or claims["iat"] < time.time() - 3600:
            return "ExpiredProviderToken"
        return None

    async def answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        if path == "/_state" and method == "GET":
            return 200, {"content-type": "application/json"}, json.dumps(self.state()).encode()
        if path == "/_control" and method == "POST":
            try:
                self.control(json.loads(body))
            except (ValueError, TypeError, AttributeError) as exc:
                return 400, {}, json.dumps({"error": str(exc)}).encode()
            return 200, {}, json.dumps({"switches": self.switches()}).encode()
        if method != "POST" or not path.startswith("/3/device/"):
            return _answer(405 if path.startswith("/3/device/") else 404, "MethodNotAllowed")
        if self.down:
            return _answer(503, self.DOWN)
        await asyncio.sleep(self.delay_s)
        deadline = time.monotonic() + HANG_S
        # ``hang`` is a plain switch, set by a test or /_control: polled, as base.hold_while does.
        while self.hang and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        if (problem := self.token_problem(headers.get("authorization"))) is not None:
            return _answer(403, problem)
        if headers.get("apns-topic") != self.topic:
            return _answer(400, "TopicDisallowed")
        to = path.removeprefix("/3/device/")
        if not to or any(char not in string.hexdigits for char in to):
            return _answer(400, "BadDeviceToken")
        if (refused := self.refusal(to)) is not None:
            reason = {410: "Unregistered", 429: "TooManyRequests"}.get(refused.status)
            extra = {"retry-after": str(refused.retry_after_s)} if refused.retry_after_s else {}
            return _answer(refused.status, reason or "ServiceUnavailable", **extra)
        try:
            sent = json.loads(body)
        except ValueError:
            return _answer(400, "PayloadEmpty" if not body else "BadPayload")
        if not isinstance(sent, dict) or "aps" not in sent:
            return _answer(400, "BadPayload")
        self.received.append(
            {
                "to": to,
                "payload": sent,
                "collapse_id": headers.get("apns-collapse-id"),
                "push_type": headers.get("apns-push-type"),
                "priority": headers.get("apns-priority"),
                "expiration": headers.get("apns-expiration"),
            }
        )
        return _answer(200, **{"apns-id": str(uuid.uuid4())})

    @asynccontextmanager
    async def serving(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
        """Serve until the block ends; yield host:port once it listens."""
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _Http2Connection(self), host, port)
        try:
            yield f"{host}:{server.sockets[0].getsockname()[1]}"
        finally:
            self.hang = False
            server.close()
            await server.wait_closed()


class _Http2Connection(asyncio.Protocol):
    """One client connection: frames in through h2, each finished stream answered by the
    service in a task of its own (streams are concurrent, as on APNs)."""

    def __init__(self, service: ApnsService) -> None:
        self._service = service
        self._h2 = h2.connection.H2Connection(
            config=h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        )
        self._transport: asyncio.Transport | None = None
        self._requests: dict[int, tuple[dict[str, str], bytearray]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._service.connections += 1
        self._h2.initiate_connection()
        self._flush()

    def data_received(self, data: bytes) -> None:
        for event in self._h2.receive_data(data):
            if isinstance(event, h2.events.RequestReceived):
                self._requests[event.stream_id] = (
                    {str(name): str(value) for name, value in event.headers or []},
                    bytearray(),
                )
            elif isinstance(event, h2.events.DataReceived):
                self._requests[event.stream_id][1].extend(event.data or b"")
                self._h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                task = asyncio.ensure_future(self._respond(event.stream_id))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            elif isinstance(event, h2.events.StreamReset):
                self._requests.pop(event.stream_id, None)
        self._flush()

    async def _respond(self, stream_id: int) -> None:
        headers, body = self._requests.pop(stream_id)
        status, extra, content = await self._service.answer(
            headers.get(":method", ""), headers.get(":path", ""), headers, bytes(body)
        )
        if self._transport is None or self._transport.is_closing():
            return
        response = [(":status", str(status)), ("content-length", str(len(content)))]
        self._h2.send_headers(stream_id, response + list(extra.items()), end_stream=not content)
        if content:
            self._h2.send_data(stream_id, content, end_stream=True)
        self._service.streams += 1
        self._flush()

    def _flush(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(self._h2.data_to_send())

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        for task in self._tasks:
            task.cancel()


def main(argv: list[str] | None = None) -> None:
    args = ApnsService.arguments().parse_args(argv)
    service = ApnsService(token=args.token)
    configure_logging()

    async def run() -> None:
        async with service.serving(args.host, args.port) as address:
            service.log.info("%s on http://%s", service.WHAT, address)
            await asyncio.Event().wait()

    asyncio.run(run())


if __name__ == "__main__":
    main()
