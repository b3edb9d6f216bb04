"""uvicorn's httptools protocol with a bound on the request head: 414 or 431, then close.

Hand-written because uvicorn has no such option for httptools (only h11 has one,
``h11_max_incomplete_event_size``), and httptools keeps a header's value by appending each
piece it reads to a ``bytes``: one request with a 64 MiB header was read in full (4.5 s)
and its copying stalled every other request on the process for 1.9 s. nginx bounds the head
in production (``large_client_header_buffers``); this bounds ``astrocoffee serve`` without
it.

Limits: the request target (the URL) 8 KiB, answered 414; the whole head, request line and
header fields, 16 KiB, answered 431. Both are counted as the bytes arrive, so an oversized
head is refused after at most one more read from the socket, not once it is complete. The
answer is a problem document with ``Connection: close``; what the client is still sending is
then read and dropped for up to a second before the socket is closed, because closing a
socket with unread data makes the kernel send a reset, which can destroy the answer before
the client reads it.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from backend.http import NOTHING_POLICY, SECURITY_HEADERS
from backend.problems import CODES_BY_STATUS, PROBLEM_JSON, TYPE_BASE, Problem

MAX_URL_BYTES: Final = 8 * 1024
MAX_HEAD_BYTES: Final = 16 * 1024
LINGER_S: Final = 1.0

_DETAILS: Final = {
    414: f"the URL is over {MAX_URL_BYTES} bytes",
    431: f"the request line and headers are over {MAX_HEAD_BYTES} bytes",
}
# status: (code, title, detail); code and title are backend.problems' for the status.
REFUSALS: Final = {status: (*CODES_BY_STATUS[status], d) for status, d in _DETAILS.items()}
# What backend.http.security_headers adds to every answer the app sends.
_HEADERS: Final = b"".join(
    f"{name.lower()}: {value}\r\n".encode()
    for name, value in {**SECURITY_HEADERS, "Content-Security-Policy": NOTHING_POLICY}.items()
)


class _HeadTooLarge(Exception):
    """Raised in a parser callback to stop httptools at once (it becomes a parser error)."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` that refuses an oversized request head; see the module."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = False  # from on_message_begin to on_headers_complete
        self._in_body = False  # from on_headers_complete to on_message_complete
        self._ended_in_chunk = False  # a message ended in the chunk being parsed
        self._head_bytes = 0  # bytes received for the head that is not complete yet
        self._fields_bytes = 0  # the complete header fields' bytes, as parsed
        self._refusal: int | None = None  # the status the head is refused with

    def data_received(self, data: bytes) -> None:
        if self._refusal is not None:
            return  # refused: drop what is still coming until the close
        # A chunk that starts between messages or inside a head is all head while the head
        # is not complete. One that starts in a body, or ends a message and starts the next,
        # holds an unknown part of the next head: it is not counted (at most one read).
        whole_chunk_is_head = not self._in_body
        self._ended_in_chunk = False
        super().data_received(data)  # a callback's _HeadTooLarge comes back as send_400
        if self._refusal is not None or not self._in_head:
            return
        if whole_chunk_is_head and not self._ended_in_chunk:
            self._head_bytes += len(data)
        if self._head_bytes > MAX_HEAD_BYTES:
            self._refuse(431)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = self._fields_bytes = 0

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > MAX_URL_BYTES:
            self._refusal = 414
            raise _HeadTooLarge

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        self._fields_bytes += len(name) + len(value) + 4  # ": " and CRLF
        if len(self.url) + self._fields_bytes > MAX_HEAD_BYTES:
            self._refusal = 431
            raise _HeadTooLarge

    def on_headers_complete(self) -> None:
        self._in_head, self._in_body = False, True
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_body, self._ended_in_chunk = False, True
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        # uvicorn answers every parser error here, ours (raised in a callback) included.
        if self._refusal is None:
            super().send_400_response(msg)
        else:
            self._refuse(self._refusal)

    def _refuse(self, status: int) -> None:
        self._refusal = status
        code, title, detail = REFUSALS[status]
        self.logger.warning("request refused with %d: %s", status, detail)
        body = msgspec.json.encode(
            Problem(type=TYPE_BASE + code, title=title, status=status, detail=detail, code=code)
        )
        head = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [
            f"content-type: {PROBLEM_JSON}\r\n".encode(),
            f"content-length: {len(body)}\r\n".encode(),
            _HEADERS,
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        if self.transport.can_write_eof():
            self.transport.write_eof()  # the answer is all; the client sees the end of it
        # eof_received (the client done sending) closes it sooner.
        self.loop.call_later(LINGER_S, self.transport.close)
