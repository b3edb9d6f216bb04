"""The bounded request head, on the tests' real uvicorn (``serving`` runs the protocol
``astrocoffee serve`` runs): an oversized head is refused at once, nothing else waits."""

from __future__ import annotations

import asyncio
import json
import re
import time
from urllib.parse import urlsplit

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from backend.ops.http_protocol import MAX_HEAD_BYTES, MAX_URL_BYTES
from tests.conftest import LiveServer


async def connect(live_server: LiveServer) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    address = urlsplit(live_server.base_url)
    assert address.hostname is not None
    return await asyncio.open_connection(address.hostname, address.port)


async def answer_and_close(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """The one answer on a connection the server closes after it: status, headers, body."""
    raw = await asyncio.wait_for(reader.read(), timeout=5)  # up to the server's end
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode().split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines)
    return int(status_line.split()[1]), headers, body


def get(path: str, headers: dict[str, str] | None = None) -> bytes:
    fields = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    return f"GET {path} HTTP/1.1\r\nHost: test\r\n{fields}\r\n".encode()


async def test_a_1_mb_header_gets_431_at_once_while_other_requests_are_answered(
    live_server: LiveServer, client: httpx.AsyncClient
) -> None:
    reader, writer = await connect(live_server)
    started = time.perf_counter()
    # The head never ends: the server must not wait for it, nor read it all.
    writer.write(b"GET /health/live HTTP/1.1\r\nHost: test\r\nX-Big: " + b"a" * 1_000_000)
    sending = asyncio.create_task(writer.drain())
    meanwhile = await client.get("/health/live")
    assert meanwhile.status_code == 200
    status, headers, body = await answer_and_close(reader)
    took = time.perf_counter() - started
    await sending  # the rest was read and dropped, not refused with a reset
    writer.close()
    assert status == 431
    assert headers["connection"] == "close"
    assert headers["content-type"] == "application/problem+json"
    assert headers["x-content-type-options"] == "nosniff"
    problem = json.loads(body)
    assert problem["code"] == "request_header_fields_too_large"
    assert problem["status"] == 431
    assert int(headers["content-length"]) == len(body)
    assert took < 1.0, f"answered after {took:.2f} s"


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({f"X-Pad-{i}": "p" * 1000 for i in range(8)}, 200),  # ~8 KB of headers: fine
        ({"X-Pad": "p" * (MAX_HEAD_BYTES - 200)}, 200),  # just under, in one write
        ({"X-Pad": "p" * MAX_HEAD_BYTES}, 431),  # just over, complete in one write
        ({f"X-Pad-{i}": "p" * 1000 for i in range(20)}, 431),  # many fields add up
    ],
    ids=["8 KB", "just under", "just over", "20 fields of 1 KB"],
)
async def test_the_head_is_bounded_as_a_whole(
    live_server: LiveServer, headers: dict[str, str], status: int
) -> None:
    reader, writer = await connect(live_server)
    writer.write(get("/health/live", {**headers, "Connection": "close"}))
    answered, _, _ = await answer_and_close(reader)
    writer.close()
    assert answered == status


@pytest.mark.parametrize(
    ("length", "status"), [(MAX_URL_BYTES - 100, 200), (MAX_URL_BYTES + 1, 414)]
)
async def test_the_url_is_bounded(live_server: LiveServer, length: int, status: int) -> None:
    path = "/health/live?pad="
    reader, writer = await connect(live_server)
    writer.write(get(path + "p" * (length - len(path)), {"Connection": "close"}))
    answered, _, body = await answer_and_close(reader)
    writer.close()
    assert answered == status
    if status == 414:
        assert json.loads(body)["code"] == "uri_too_long"


async def test_a_large_body_does_not_count_against_the_next_requests_head(
    live_server: LiveServer,
) -> None:
    # One write holds a 40 KB body and the start of the next request (pipelined): only
    # the head's own bytes count, so the second is answered like the first.
    body = b'{"phone": "+79990000001"' + b" " * 40_000 + b"}"
    post = (
        b"POST /v1/auth/otp HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    second = get("/health/live", {"X-Pad": "p" * 2000, "Connection": "close"})
    reader, writer = await connect(live_server)
    writer.write(post + second[:100])
    await writer.drain()
    await asyncio.sleep(0.1)
    writer.write(second[100:])
    raw = await asyncio.wait_for(reader.read(), timeout=5)
    writer.close()
    statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", raw)
    assert statuses == [b"202", b"200"], raw[:500]


async def test_websockets_upgrade_through_it_and_a_huge_handshake_is_refused(
    live_server: LiveServer,
) -> None:
    async with websockets.connect(f"{live_server.ws_url}/v1/ws") as ws:
        await ws.send('{"type": "auth", "token": "x"}')  # refused by the app: it got there
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(ws.recv(), timeout=5)
        assert ws.close_code == 4401
    with pytest.raises(InvalidStatus) as refused:
        async with websockets.connect(
            f"{live_server.ws_url}/v1/ws", additional_headers={"Cookie": "c" * 20_000}
        ):
            pass
    assert refused.value.response.status_code == 431
