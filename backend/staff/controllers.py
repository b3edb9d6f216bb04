"""HTTP for staff: who am I, and staff management by admins."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, patch, post
from litestar.params import JSONBody, QueryParameter

from backend.auth.access import ADMINS, STAFF
from backend.errors import Conflict
from backend.http import Cursor, PathId, StaffRequest, answers, strict_body
from backend.staff import logins, service
from backend.staff.schemas import StaffCreate, StaffOut, StaffPage, StaffUpdate

Limit = Annotated[int, QueryParameter(ge=1, le=service.PAGE_MAX)]


class StaffMeController(Controller):
    path = "/v1/staff/me"
    tags = ["staff"]

    @get("/", opt=STAFF, summary="The signed-in staff user")
    async def get_me(self, request: StaffRequest) -> StaffOut:
        return await service.get_staff(request.user.staff_id)


class AdminStaffController(Controller):
    path = "/v1/admin/staff"
    tags = ["admin"]

    @get("/", opt=ADMINS, summary="List staff users")
    async def list_staff(self, limit: Limit = 50, cursor: Cursor = None) -> StaffPage:
        return await service.list_staff(limit=limit, cursor=cursor)

    @post("/", opt=ADMINS | answers(Conflict), summary="Create a staff user", status_code=201)
    async def create_staff(self, request: StaffRequest, data: JSONBody[StaffCreate]) -> StaffOut:
        return await service.create_staff(await strict_body(request, StaffCreate))

    @get("/{staff_id:uuid}", opt=ADMINS, summary="One staff user")
    async def get_staff(self, staff_id: PathId) -> StaffOut:
        return await service.get_staff(staff_id)

    @patch("/{staff_id:uuid}", opt=ADMINS, summary="Change role, stores, status or password")
    async def update_staff(
        self, request: StaffRequest, staff_id: PathId, data: JSONBody[StaffUpdate]
    ) -> StaffOut:
        return await service.update_staff(staff_id, await strict_body(request, StaffUpdate))

    @post(
        "/{staff_id:uuid}/unlock",
        opt=ADMINS,
        status_code=200,
        summary="End a lock after repeated failed logins (and the count of failures)",
    )
    async def unlock(self, staff_id: PathId) -> StaffOut:
        await logins.unlock(staff_id)
        return await service.get_staff(staff_id)
