"""The AsyncAPI document and the msgspec protocol types cannot drift apart."""

from __future__ import annotations

import typing

import msgspec

from realtime import protocol
from realtime.asyncapi import MEMBER_EVENT_TYPES, STORE_EVENT_TYPES, asyncapi_document


def test_every_frame_type_is_documented_with_its_schema() -> None:
    document = asyncapi_document(title="t", version="1")
    schemas = document["components"]["schemas"]
    messages = document["channels"]["events"]["messages"]
    frames = [
        *typing.get_args(protocol.ClientFrame),
        *typing.get_args(protocol.ServerControlFrame),
        protocol.EventEnvelope,
    ]
    for frame in frames:
        assert frame.__name__ in messages
        _, expected = msgspec.json.schema_components(
            [frame], ref_template="#/components/schemas/{name}"
        )
        assert schemas[frame.__name__] == expected[frame.__name__]


def test_every_event_type_the_backend_writes_is_documented() -> None:
    description = asyncapi_document(title="t", version="1")["info"]["description"]
    for event_type in (*MEMBER_EVENT_TYPES, *STORE_EVENT_TYPES):
        assert event_type in description
    assert {"sale.completed", "stats.updated"} <= set(STORE_EVENT_TYPES)


def test_tags_in_the_document_are_the_wire_tags() -> None:
    schemas = asyncapi_document(title="t", version="1")["components"]["schemas"]
    assert schemas["ResumeFrame"]["properties"]["type"]["enum"] == ["resume"]
    assert msgspec.json.decode(b'{"type":"resume","last_seq":3}', type=protocol.ClientFrame) == (
        protocol.ResumeFrame(last_seq=3)
    )
