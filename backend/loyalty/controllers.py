"""HTTP for the loyalty program's administration: the rules, and adjustments that wait for
approval."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter

from backend.auth.access import ADMINS, MANAGERS, STAFF
from backend.errors import (
    ApprovalDecided,
    ApproverIsRequester,
    InsufficientPoints,
    MemberNotFound,
    NotFound,
)
from backend.http import PathId, StaffRequest, answers, strict_body
from backend.loyalty.approvals import ApprovalDecision, ApprovalList, decide, pending_approvals
from backend.loyalty.rules import (
    ProgramRules,
    RulesVersion,
    current_rules,
    publish_rules,
)
from backend.loyalty.rules_history import HISTORY_MAX, RulesHistory, rules_history
from realtime.publisher import EventPublisher

HistoryLimit = Annotated[int, QueryParameter(ge=1, le=HISTORY_MAX)]
DECISION_REFUSALS = answers(
    NotFound, MemberNotFound, ApproverIsRequester, ApprovalDecided, InsufficientPoints
)


class AdminRulesController(Controller):
    path = "/v1/admin/rules"
    tags = ["admin"]

    @get("/", opt=STAFF, summary="The rules in force and their version")
    async def get_rules(self) -> RulesVersion:
        return await current_rules()

    @get(
        "/versions",
        opt=MANAGERS,
        summary="Every published version of the rules, who published it and when, newest first",
    )
    async def versions(self, limit: HistoryLimit = 50) -> RulesHistory:
        return await rules_history(limit=limit)

    @post(
        "/",
        opt=ADMINS,
        status_code=201,
        summary="Publish a new version of the rules (earlier sales keep theirs)",
    )
    async def publish(self, request: StaffRequest, data: JSONBody[ProgramRules]) -> RulesVersion:
        rules = await strict_body(request, ProgramRules)
        return await publish_rules(rules, staff_id=request.user.staff_id)


class AdminApprovalsController(Controller):
    """Adjustments waiting for a second staff member (``backend.loyalty.approvals``)."""

    path = "/v1/admin/adjustment-approvals"
    tags = ["admin"]

    @get("/", opt=MANAGERS, summary="Adjustments waiting for approval that the caller may decide")
    async def list_pending(self, request: StaffRequest) -> ApprovalList:
        return await pending_approvals(request.user)

    @post(
        "/{approval_id:uuid}/approve",
        opt=MANAGERS | DECISION_REFUSALS,
        status_code=200,
        summary="Approve an adjustment onto the ledger (not one's own; idempotent)",
    )
    async def approve(
        self, request: StaffRequest, approval_id: PathId, publisher: NamedDependency[EventPublisher]
    ) -> ApprovalDecision:
        return await decide(request.user, approval_id, "approved", publisher)

    @post(
        "/{approval_id:uuid}/reject",
        opt=MANAGERS | DECISION_REFUSALS,
        status_code=200,
        summary="Reject an adjustment: it never reaches the ledger (not one's own; idempotent)",
    )
    async def reject(
        self, request: StaffRequest, approval_id: PathId, publisher: NamedDependency[EventPublisher]
    ) -> ApprovalDecision:
        return await decide(request.user, approval_id, "rejected", publisher)
