"""HTTP for the audit trail: admins read all of it, managers their stores'."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from litestar import Controller, get
from litestar.params import FromQuery, QueryParameter

from backend.audit.reading import PAGE_MAX, read_trail
from backend.audit.schemas import AuditFilter, AuditPage
from backend.auth.access import MANAGERS
from backend.http import Cursor, StaffRequest


class AdminAuditController(Controller):
    path = "/v1/admin/audit"
    tags = ["admin"]

    @get(
        "/",
        opt=MANAGERS,
        summary="The audit trail, newest first (managers: entries about their stores)",
    )
    async def read(
        self,
        request: StaffRequest,
        staff_id: FromQuery[uuid.UUID | None] = None,
        action: Annotated[str | None, QueryParameter(max_length=40)] = None,
        target_type: Annotated[str | None, QueryParameter(max_length=24)] = None,
        target_id: Annotated[str | None, QueryParameter(max_length=64)] = None,
        since: FromQuery[datetime | None] = None,
        until: FromQuery[datetime | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=PAGE_MAX)] = 50,
        cursor: Cursor = None,
    ) -> AuditPage:
        where = AuditFilter(
            staff_id=staff_id,
            action=action,
            target_type=target_type,
            target_id=target_id,
            since=since,
            until=until,
        )
        return await read_trail(request.user, where, limit=limit, cursor=cursor)
