"""API shapes of the ledger's own figures."""

from __future__ import annotations

import msgspec


class Balance(msgspec.Struct, frozen=True):
    """A member's points by bucket: spendable now, pending (the return window), held."""

    available: int
    pending: int
    held: int
