"""HTTP for the loyalty program's administration: the rules."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import JSONBody

from backend.auth.access import allow
from backend.auth.callers import Role, StaffCaller
from backend.http import strict_body
from backend.loyalty.rules import (
    ProgramRules,
    RulesVersion,
    current_rules,
    publish_rules,
)

STAFF = allow(Role.BARISTA, Role.MANAGER, Role.ADMIN)


class AdminRulesController(Controller):
    path = "/v1/admin/rules"
    tags = ["admin"]

    @get("/", opt=STAFF, summary="The rules in force and their version")
    async def get_rules(self) -> RulesVersion:
        return await current_rules()

    @post(
        "/",
        opt=allow(Role.ADMIN),
        status_code=201,
        summary="Publish a new version of the rules (earlier sales keep theirs)",
    )
    async def publish(
        self, request: Request[StaffCaller, Any, Any], data: JSONBody[ProgramRules]
    ) -> RulesVersion:
        rules = await strict_body(request, ProgramRules)
        return await publish_rules(rules, staff_id=request.user.staff_id)
