"""Request and response bodies of the partner webhook admin API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import msgspec

from backend.text import Line

Url = Annotated[Line, msgspec.Meta(min_length=8, max_length=2000)]
EventTypes = Annotated[
    list[Annotated[Line, msgspec.Meta(max_length=40)]], msgspec.Meta(min_length=1, max_length=20)
]
Description = Annotated[Line, msgspec.Meta(max_length=200)]
Secret = Annotated[Line, msgspec.Meta(max_length=100)]


class EndpointCreate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    url: Url
    event_types: EventTypes
    description: Description = ""
    secret: Secret | None = None  # None: one is generated (shown once, in the answer)
    personal_data_allowed: bool = False
    enabled: bool = True


class EndpointUpdate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Absent fields stay as they are. Enabling clears the failure run that disabled it."""

    url: Url | None = None
    event_types: EventTypes | None = None
    description: Description | None = None
    personal_data_allowed: bool | None = None
    enabled: bool | None = None


class EndpointOut(msgspec.Struct, frozen=True):
    id: uuid.UUID
    url: str
    description: str
    event_types: list[str]
    personal_data_allowed: bool
    enabled: bool
    disabled_reason: str | None  # why the platform disabled it (a long failure run, 410)
    failing_since: datetime | None  # the first failure since the last delivered event
    previous_secret_until: datetime | None  # the rotated-out secret signs too until then
    created_at: datetime
    updated_at: datetime


class EndpointList(msgspec.Struct, frozen=True):
    items: list[EndpointOut]


class EndpointSecret(msgspec.Struct, frozen=True):
    """The signing secret, shown when it is made (registration, rotation) and never again."""

    endpoint: EndpointOut
    secret: str


class DeliveryOut(msgspec.Struct, frozen=True):
    id: uuid.UUID
    webhook_id: str  # the webhook-id header of every attempt
    type: str
    member_id: uuid.UUID
    seq: int  # the event's seq in the member's stream
    status: str  # pending, delivered
    attempts: int
    next_attempt_at: datetime
    last_status: int | None
    last_error: str | None
    occurred_at: datetime
    created_at: datetime
    delivered_at: datetime | None


class DeliveryPage(msgspec.Struct, frozen=True):
    items: list[DeliveryOut]
    next_cursor: str | None


class EventTypeOut(msgspec.Struct, frozen=True):
    type: str
    source: str  # the member-stream event it is made from


class EventTypeList(msgspec.Struct, frozen=True):
    items: list[EventTypeOut]
    not_yet_available: list[str]
