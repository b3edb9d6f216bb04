from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from backend.streams.replay import KINDS, stream_of
from backend.streams.stream import Stream
from db import sql

AT = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kinds_append_binds_exactly_its_parameters(kind: str) -> None:
    stream: Stream = KINDS[kind]
    events = [("offer.available", {"name": "x"}), ("stats.updated", None)]
    params = stream.params("owner-id", events, at=AT)
    compiled = sql.compiled(stream._append)
    assert compiled.arguments(params)  # neither missing nor unknown names
    assert ("event_owner" in params) == (stream.owner is not None)
    assert params["event_count"] == 2
    assert params["event_data"] == ['{"name":"x"}', None]


def test_envelopes_count_back_from_the_last_seq() -> None:
    stream, key = stream_of("broadcast")
    assert key is None
    sent = stream.envelopes(None, [("a", {}), ("b", {})], last_event_seq=7, at=AT)
    assert [name for name, _ in sent] == ["broadcast", "broadcast"]
    frames = [json.loads(raw) for _, raw in sent]
    assert [(f["type"], f["seq"], f["stream"]) for f in frames] == [
        ("a", 6, "broadcast"),
        ("b", 7, "broadcast"),
    ]
    member, key = stream_of("member:00000000-0000-0000-0000-000000000001")
    ((name, raw),) = member.envelopes(key, [("a", {})], last_event_seq=1, at=AT)
    assert name == "member:00000000-0000-0000-0000-000000000001"
    assert json.loads(raw)["seq"] == 1
    assert "stream" not in json.loads(raw)  # a member's own events need no label
