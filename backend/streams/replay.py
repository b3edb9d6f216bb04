"""The stored events of any stream, for the realtime gateway (``ReplaySource``): the stream's
kind (``realtime.channels.kind_of``) picks the ``Stream`` that reads them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from backend.streams.broadcast import BROADCASTS
from backend.streams.member import MEMBERS
from backend.streams.store import STORES
from backend.streams.stream import Stream
from realtime.channels import BROADCAST, MEMBER, STORE, kind_of

KINDS: dict[str, Stream] = {MEMBER: MEMBERS, STORE: STORES, BROADCAST: BROADCASTS}


def stream_of(name: str) -> tuple[Stream, uuid.UUID | None]:
    """The kind of the stream ``name`` and its owner's id (None: the broadcast stream)."""
    kind, key = kind_of(name)
    return KINDS[kind], None if key is None else uuid.UUID(key)


class StoredEvents:
    """``realtime.gateway.ReplaySource`` over the stored events of every stream kind."""

    async def events_after(self, stream: str, after_seq: int, limit: int) -> list[bytes]:
        kind, key = stream_of(stream)
        return await kind.events_after(key, after_seq, limit=limit)

    async def current_seq(self, stream: str) -> int:
        kind, key = stream_of(stream)
        return await kind.current_seq(key)

    async def current_seqs(self, streams: Sequence[str]) -> dict[str, int]:
        """One read per kind of stream among ``streams``, whatever their number."""
        by_kind: dict[Stream, dict[uuid.UUID | None, str]] = {}
        for name in streams:
            kind, key = stream_of(name)
            by_kind.setdefault(kind, {})[key] = name
        seqs: dict[str, int] = {}
        for kind, names in by_kind.items():
            for key, seq in (await kind.current_seqs(list(names))).items():
                seqs[names[key]] = seq
        return seqs
