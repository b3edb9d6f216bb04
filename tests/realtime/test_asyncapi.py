"""The AsyncAPI document and the msgspec protocol types cannot drift apart."""

from __future__ import annotations

import asyncio
import json
import re
import typing
from typing import Any

import httpx
import msgspec
import websockets
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from realtime import protocol
from realtime.asyncapi import MEMBER_EVENT_TYPES, STORE_EVENT_TYPES, asyncapi_document
from tests.conftest import LiveServer
from tests.factories import LoggedInMember, Till, buy, purchase_body


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
        documented = schemas[frame.__name__]
        for name, field in documented["properties"].items():
            # The document narrows two plain strings to the wire's vocabulary; nothing else.
            narrowed = {protocol.EventEnvelope: "type", protocol.ErrorFrame: "code"}
            if narrowed.get(frame) == name:
                field = {key: value for key, value in field.items() if key != "enum"}
            assert field == expected[frame.__name__]["properties"][name], (frame, name)


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


def test_every_close_code_and_error_code_the_gateway_uses_is_documented() -> None:
    import inspect

    from realtime import gateway

    channel = asyncapi_document(title="t", version="1")["channels"]["events"]
    documented = {int(code) for code in channel["x-close-codes"]}
    source = inspect.getsource(gateway)
    used = {
        int(getattr(protocol, name))
        for name in dir(protocol)
        if name.startswith("CLOSE_") and name in source
    }
    assert used <= documented
    assert 1012 in documented  # uvicorn's close on shutdown
    errors = set(re.findall(r'ErrorFrame\(code="([a-z_]+)"', source))
    schemas = asyncapi_document(title="t", version="1")["components"]["schemas"]
    assert errors == set(schemas["ErrorFrame"]["properties"]["code"]["enum"])


async def test_every_frame_a_live_socket_sends_matches_the_document(
    live_server: LiveServer, client: httpx.AsyncClient, member: LoggedInMember, till: Till
) -> None:
    """A member's socket through a sale, a resume, a ping and a bad frame: each frame the
    server sends validates against the server messages of ``/asyncapi.json``."""
    document = (await client.get("/asyncapi.json")).json()
    registry = Registry().with_resource(
        "urn:asyncapi", Resource.from_contents(document, default_specification=DRAFT202012)
    )
    server_messages = document["operations"]["receiveEvents"]["messages"]
    names = [ref["$ref"].rsplit("/", 1)[1] for ref in server_messages]
    validator = Draft202012Validator(
        {"oneOf": [{"$ref": f"urn:asyncapi#/components/schemas/{name}"} for name in names]},
        registry=registry,
    )
    url = f"{live_server.ws_url}/v1/ws?token={member.access_token}"
    frames: list[dict[str, Any]] = []
    async with websockets.connect(url) as ws:

        async def receive() -> dict[str, Any]:
            frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 5))
            frames.append(frame)
            return frame

        ready = await receive()
        await ws.send(json.dumps({"type": "resume", "last_seq": ready["last_seq"]}))
        sale = await buy(client, till, purchase_body(member.card_number, amount=35000))
        assert sale.status_code == 201, sale.text
        seen: set[str] = set()
        while not {"balance.updated", "transaction.created"} <= seen:
            seen.add((await receive())["type"])
        await ws.send(json.dumps({"type": "ping"}))
        while (await receive())["type"] != "pong":
            pass
        await ws.send(json.dumps({"type": "resume", "last_seq": 0}))
        await ws.send("not json")
        while (await receive())["type"] != "error":
            pass
    kinds = {frame["type"] for frame in frames}
    assert {"ready", "balance.updated", "transaction.created", "pong", "error"} <= kinds
    for frame in frames:
        assert validator.is_valid(frame), (frame, next(validator.iter_errors(frame)).message)
