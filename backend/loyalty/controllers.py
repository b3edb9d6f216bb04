"""HTTP for the loyalty program's administration: rules, member lookup, adjustments."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from backend.api_document import answers
from backend.auth.access import allow
from backend.auth.callers import Role, StaffCaller
from backend.errors import InsufficientPoints, MemberNotFound
from backend.http import IdempotencyKey, replay_headers, strict_body
from backend.idempotency import check_key
from backend.loyalty.adjustments import AdjustmentRequest, AdjustmentResponse, adjust_points
from backend.loyalty.rules import (
    ProgramRules,
    RulesVersion,
    current_rules,
    publish_rules,
)
from backend.members.schemas import MemberSummary
from backend.members.service import find_member, member_summary
from realtime.publisher import EventPublisher

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


class AdminMembersController(Controller):
    path = "/v1/admin/members"
    tags = ["admin"]

    @get("/", opt=STAFF | answers(MemberNotFound), summary="Find a member by phone or card number")
    async def find(
        self,
        phone: Annotated[str | None, QueryParameter(max_length=20)] = None,
        card_number: Annotated[str | None, QueryParameter(max_length=16)] = None,
    ) -> MemberSummary:
        return await find_member(phone=phone, card_number=card_number)

    @get(
        "/{member_id:uuid}",
        opt=STAFF | answers(MemberNotFound),
        summary="One member's card, tier and balance",
    )
    async def get_member(self, member_id: FromPath[uuid.UUID]) -> MemberSummary:
        return await member_summary(member_id)

    @post(
        "/{member_id:uuid}/adjustments",
        opt=allow(Role.MANAGER, Role.ADMIN) | answers(MemberNotFound, InsufficientPoints),
        status_code=201,
        summary="Add or remove points by hand; the reason is recorded on the ledger",
    )
    async def adjust(
        self,
        request: Request[StaffCaller, Any, Any],
        member_id: FromPath[uuid.UUID],
        data: JSONBody[AdjustmentRequest],
        publisher: NamedDependency[EventPublisher],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[AdjustmentResponse]:
        response, replayed = await adjust_points(
            staff=request.user,
            member_id=member_id,
            request=await strict_body(request, AdjustmentRequest),
            key=check_key(idempotency_key),
            publisher=publisher,
        )
        return Response(response, status_code=201, headers=replay_headers(replayed))
