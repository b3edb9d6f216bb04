"""The AsyncAPI document of ``/v1/ws``, built from the protocol's msgspec types."""

from __future__ import annotations

from typing import Any

import msgspec

from realtime.protocol import (
    CLOSE_CODES,
    AuthFrame,
    ErrorFrame,
    EventEnvelope,
    PingFrame,
    PongFrame,
    ReadyFrame,
    ResumeFrame,
    ResyncFrame,
)

MEMBER_EVENT_TYPES = (
    "balance.updated",
    "transaction.created",
    "hold.updated",
    "tier.changed",
    "order.updated",
    "stamps.updated",
    "offer.available",
    "offer.expired",
    "member.erased",
)
STORE_EVENT_TYPES = ("sale.completed", "stats.updated")
BROADCAST_EVENT_TYPES = ("offer.available", "offer.expired")
ERROR_CODES = ("bad_frame", "already_authenticated")


def asyncapi_document(*, title: str, version: str) -> dict[str, Any]:
    client = (AuthFrame, PingFrame, ResumeFrame)
    server = (EventEnvelope, ReadyFrame, PongFrame, ResyncFrame, ErrorFrame)
    schemas, components = msgspec.json.schema_components(
        client + server, ref_template="#/components/schemas/{name}"
    )
    del schemas
    # The wire's vocabularies, which the msgspec types keep as plain strings.
    event_types = sorted({*MEMBER_EVENT_TYPES, *STORE_EVENT_TYPES, *BROADCAST_EVENT_TYPES})
    components["EventEnvelope"]["properties"]["type"]["enum"] = event_types
    components["ErrorFrame"]["properties"]["code"]["enum"] = list(ERROR_CODES)

    def messages(types: tuple[type, ...]) -> dict[str, Any]:
        return {
            t.__name__: {"payload": {"$ref": f"#/components/schemas/{t.__name__}"}} for t in types
        }

    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": title,
            "version": version,
            "description": (
                "Auth: `Authorization: Bearer`, `?token=`, or a first `auth` frame within 5 s; "
                "failure closes with 4401 (4408 on timeout). A member follows their own "
                "stream; staff follow a store's stream with `?store_id=` (or `store_id` in the "
                "auth frame). Server events are envelopes `{type, seq, ts, data}` whose seq "
                "rises by exactly 1 per stream; members also receive broadcasts (offers to "
                'everyone), envelopes marked `"stream": "broadcast"` with a seq of their own, '
                "resumed with `broadcast_last_seq` in the `resume` frame; "
                f"member event types: {', '.join(MEMBER_EVENT_TYPES)}; "
                f"store event types: {', '.join(STORE_EVENT_TYPES)}. `stats.updated` data is "
                "the store's figures of its current business day (as GET "
                "/v1/admin/stores/{id}/stats answers): `day` is a date in the store's own "
                "calendar, named by `time_zone` (its IANA zone), starting at its day-start "
                "hour; `ts` is an instant (RFC 3339, UTC). `resume` replays "
                "after `last_seq` from durable storage, or answers `resync` when too far behind. "
                "A client that knows its position says so on connect: `?last_seq=` (members "
                "also `&broadcast_last_seq=`) resumes from there at once, exactly as a "
                "`resume` frame sent first would, and no live event waits. Otherwise send "
                "`resume` after every `ready`, the first connect too (with `ready`'s "
                "`last_seq`): live events wait for the client's first frame, so that they "
                "cannot overtake the replay; a client that says nothing gets them after 2 s. "
                "A client that cannot keep up is closed with 4429; frames over the size limit "
                "with 1009; repeated malformed frames with 1008."
            ),
        },
        "servers": {
            "api": {
                "host": "127.0.0.1:8000",
                "protocol": "ws",
                "description": "The API's own origin (wss behind TLS); the example is `make run`.",
                "security": [
                    {"$ref": "#/components/securitySchemes/bearer"},
                    {"$ref": "#/components/securitySchemes/queryToken"},
                ],
            }
        },
        "channels": {
            "events": {
                "address": "/v1/ws",
                "messages": {**messages(client), **messages(server)},
                "bindings": {
                    "ws": {
                        "method": "GET",
                        "query": {
                            "type": "object",
                            "properties": {
                                "token": {
                                    "type": "string",
                                    "description": "the access token, for browsers, which "
                                    "cannot set headers (or send an `auth` frame first)",
                                },
                                "last_seq": {
                                    "type": "integer",
                                    "minimum": 0,
                                    "maximum": 2**63 - 1,
                                    "description": "the last seq of the own stream the "
                                    "client handled: replay after it at once (as a first "
                                    "`resume` frame would), live events wait for nothing",
                                },
                                "broadcast_last_seq": {
                                    "type": "integer",
                                    "minimum": 0,
                                    "maximum": 2**63 - 1,
                                    "description": "members, with `last_seq`: the last "
                                    "broadcast seq handled",
                                },
                                "store_id": {
                                    "type": "string",
                                    "format": "uuid",
                                    "description": "staff: the store whose stream to follow",
                                },
                                "device": {
                                    "type": "string",
                                    "format": "uuid",
                                    "description": "members: the id of this device as "
                                    "registered for push (`POST /v1/me/devices`); push does "
                                    "not tell this device what this socket showed. Ping "
                                    "after 20 s of quiet to keep that record alive (60 s)",
                                },
                            },
                        },
                        "headers": {
                            "type": "object",
                            "properties": {
                                "Authorization": {"type": "string", "pattern": "^Bearer .+"}
                            },
                        },
                    }
                },
                "x-close-codes": {str(code): why for code, why in CLOSE_CODES.items()},
            }
        },
        "operations": {
            "receiveEvents": {
                "action": "send",
                "channel": {"$ref": "#/channels/events"},
                "messages": [{"$ref": f"#/channels/events/messages/{t.__name__}"} for t in server],
            },
            "sendCommands": {
                "action": "receive",
                "channel": {"$ref": "#/channels/events"},
                "messages": [{"$ref": f"#/channels/events/messages/{t.__name__}"} for t in client],
            },
        },
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "queryToken": {"type": "httpApiKey", "name": "token", "in": "query"},
            },
        },
    }
