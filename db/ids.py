"""Time-ordered ids (UUIDv7), as the API contract asks for.

The standard library only gains ``uuid.uuid7`` in Python 3.14; ``uuid_utils`` is the
maintained Rust implementation and its ``compat`` module returns stdlib ``UUID`` objects.
"""

from __future__ import annotations

import uuid

from uuid_utils.compat import uuid7


def new_id() -> uuid.UUID:
    return uuid7()
