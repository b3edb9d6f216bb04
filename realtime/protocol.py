"""The WebSocket protocol (AsyncAPI at ``/asyncapi.json``), as msgspec types.

Client frames are a tagged union on ``type``. Server events share one envelope
``{"type", "seq", "ts", "data"}`` whose ``type`` is the event type (``balance.updated``...);
control frames (``pong``, ``resync``, ``error``, ``ready``) are tagged structs of their own.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec

# --- client -> server -------------------------------------------------------------------


class AuthFrame(msgspec.Struct, tag_field="type", tag="auth", forbid_unknown_fields=True):
    token: str
    # Staff: the store whose stream to follow (or ``?store_id=`` on the URL).
    store_id: str | None = None


class PingFrame(msgspec.Struct, tag_field="type", tag="ping", forbid_unknown_fields=True):
    pass


# A stream's seq is a PostgreSQL bigint.
Seq = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]


class ResumeFrame(msgspec.Struct, tag_field="type", tag="resume", forbid_unknown_fields=True):
    last_seq: Seq
    # Members: the last broadcast seq handled (offers to everyone), if the client tracks it.
    broadcast_last_seq: Seq | None = None


ClientFrame = AuthFrame | PingFrame | ResumeFrame
client_frame_decoder = msgspec.json.Decoder(ClientFrame)

# --- server -> client -------------------------------------------------------------------


class EventEnvelope(msgspec.Struct, frozen=True, omit_defaults=True):
    type: str
    seq: int
    ts: datetime
    data: dict[str, Any]
    # Set only on broadcast events ("broadcast"), whose seq counts a stream of its own.
    stream: str | None = None


class ReadyFrame(msgspec.Struct, tag_field="type", tag="ready", omit_defaults=True):
    """Sent once authenticated: the stream followed (``member:<id>`` or ``store:<id>``) and
    its newest seq."""

    stream: str
    last_seq: int
    # Members also receive broadcasts (offers to everyone), with their own seq.
    broadcast_last_seq: int | None = None


class PongFrame(msgspec.Struct, tag_field="type", tag="pong"):
    pass


class ResyncFrame(msgspec.Struct, tag_field="type", tag="resync", omit_defaults=True):
    """Refetch state over REST; live events continue after ``last_seq``."""

    last_seq: int
    stream: str | None = None  # "broadcast" when it is the broadcast stream that jumped


class ErrorFrame(msgspec.Struct, tag_field="type", tag="error"):
    code: str
    message: str


ServerControlFrame = ReadyFrame | PongFrame | ResyncFrame | ErrorFrame


class _Position(msgspec.Struct):
    seq: int
    stream: str | None = None


class _Moment(msgspec.Struct):
    ts: datetime


_encoder = msgspec.json.Encoder()
_position_decoder = msgspec.json.Decoder(_Position)
_moment_decoder = msgspec.json.Decoder(_Moment)


def encode(frame: EventEnvelope | ServerControlFrame) -> bytes:
    return _encoder.encode(frame)


def envelope_seq(raw: bytes) -> int:
    """The ``seq`` of an encoded envelope, without decoding the rest of it."""
    return _position_decoder.decode(raw).seq


def envelope_time(raw: bytes) -> datetime:
    """When the event of an encoded envelope happened (its commit), without the rest."""
    return _moment_decoder.decode(raw).ts


def envelope_position(raw: bytes) -> tuple[str | None, int]:
    """(``stream`` if the envelope names one, ``seq``), without decoding the rest."""
    position = _position_decoder.decode(raw)
    return position.stream, position.seq


def utc_now() -> datetime:
    return datetime.now(UTC)


# Close codes of the contract.
CLOSE_SERVICE_RESTART = 1012  # the server process is stopping: reconnect (elsewhere), spread
CLOSE_UNAUTHORIZED = 4401
CLOSE_AUTH_TIMEOUT = 4408
CLOSE_TOO_SLOW = 4429
CLOSE_POLICY_VIOLATION = 1008
CLOSE_MESSAGE_TOO_BIG = 1009
CLOSE_INTERNAL_ERROR = 1011  # the stream could not be sent (a failed read): reconnect, resume

# What each close code tells a client, so that it can tell "log in again" from "reconnect"
# (the AsyncAPI document lists them).
CLOSE_CODES = {
    CLOSE_UNAUTHORIZED: "the token is missing, invalid or expired, or the stream is not yours: "
    "log in (refresh) before reconnecting",
    CLOSE_AUTH_TIMEOUT: "no credentials within the auth timeout (5 s)",
    CLOSE_TOO_SLOW: "the client did not read fast enough; reconnect and resume",
    CLOSE_POLICY_VIOLATION: "repeated malformed frames, a `last_seq` or "
    "`broadcast_last_seq` query parameter that is not a seq, or a `device` that is not a "
    "device id",
    CLOSE_INTERNAL_ERROR: "the server could not send the stream (a failed read of its "
    "stored events); reconnect and resume",
    CLOSE_MESSAGE_TOO_BIG: "a client frame over the size limit (4 KiB)",
    CLOSE_SERVICE_RESTART: "the server is restarting; reconnect at a random moment 1-8 s "
    "later (every socket of that server is closed at once) and resume",
}
