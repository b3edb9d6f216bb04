"""Redis channel names, shared by the publisher and the hub."""

from __future__ import annotations


def member_channel(prefix: str, member_id: str) -> str:
    return f"{prefix}member:{member_id}"
