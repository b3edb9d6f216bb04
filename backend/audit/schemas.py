"""API shapes of the audit trail."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec


class AuditEntryOut(msgspec.Struct, frozen=True):
    id: uuid.UUID
    at: datetime
    staff_id: uuid.UUID | None
    role: str | None
    store_ids: list[uuid.UUID]
    action: str
    target_type: str
    target_id: str | None
    before: Any
    after: Any
    request_id: str | None
    client_address: str | None


class AuditPage(msgspec.Struct, frozen=True):
    items: list[AuditEntryOut]
    next_cursor: str | None


class AuditFilter(msgspec.Struct, frozen=True, kw_only=True):
    """What an admin narrows the trail to; every field is optional."""

    staff_id: uuid.UUID | None = None
    action: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
