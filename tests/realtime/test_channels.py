from __future__ import annotations

import pytest

from realtime.channels import (
    BROADCAST,
    KINDS,
    MEMBER,
    STORE,
    kind_of,
    member_stream,
    store_stream,
    stream_name,
)


def test_the_three_kinds_and_their_stream_names() -> None:
    assert KINDS == (MEMBER, STORE, BROADCAST)
    assert member_stream("m1") == "member:m1"
    assert store_stream("s1") == "store:s1"
    assert stream_name(BROADCAST) == "broadcast"
    assert kind_of("member:m1") == (MEMBER, "m1")
    assert kind_of("store:s1") == (STORE, "s1")
    assert kind_of("broadcast") == (BROADCAST, None)


@pytest.mark.parametrize("stream", ["member", "store:", "broadcast:x", "orders:1", ""])
def test_what_is_not_a_stream_is_refused(stream: str) -> None:
    with pytest.raises(ValueError, match="no stream"):
        kind_of(stream)
