"""Stream names and their Redis channels, shared by the publisher, the hub and the gateway.

A stream is what one socket follows: a member's own events (``member:<id>``, all their
devices) or a store's events for its staff (``store:<id>``). Each has its own gapless seq.
"""

from __future__ import annotations


def member_stream(member_id: str) -> str:
    return f"member:{member_id}"


def store_stream(store_id: str) -> str:
    return f"store:{store_id}"


# Events for every member at once (offers to all): one stored event, one seq of its own.
BROADCAST = "broadcast"


def channel(prefix: str, stream: str) -> str:
    return f"{prefix}{stream}"
