"""Streams, their kinds and their Redis channels, shared by the publisher, the hub and the
gateway.

A stream is what one socket follows. There are three kinds, each with its own gapless seq:

- ``member``: a member's own events (``member:<id>``), followed by all their devices;
- ``store``: a store's events for its staff (``store:<id>``);
- ``broadcast``: events for every member at once (offers to all), one stream of its kind
  (``broadcast``), followed by every member socket beside the member's own.
"""

from __future__ import annotations

MEMBER = "member"
STORE = "store"
BROADCAST = "broadcast"
KINDS = (MEMBER, STORE, BROADCAST)
# The kinds with one stream per owner (named ``<kind>:<owner id>``); the others have one.
OWNED = (MEMBER, STORE)


def stream_name(kind: str, key: str | None = None) -> str:
    """The stream of ``kind`` owned by ``key`` (None for a kind with one stream)."""
    if (key is None) == (kind in OWNED) or kind not in KINDS:
        raise ValueError(f"no stream of kind {kind!r} with key {key!r}")
    return kind if key is None else f"{kind}:{key}"


def member_stream(member_id: str) -> str:
    return stream_name(MEMBER, member_id)


def store_stream(store_id: str) -> str:
    return stream_name(STORE, store_id)


def kind_of(stream: str) -> tuple[str, str | None]:
    """The kind of ``stream`` and its owner's id (None for a kind with one stream)."""
    kind, _, key = stream.partition(":")
    stream_name(kind, key or None)  # refuses what is not a stream
    return kind, key or None


def channel(prefix: str, stream: str) -> str:
    return f"{prefix}{stream}"
