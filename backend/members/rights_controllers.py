"""HTTP for a member's rights over their data: erasure and export, by the member in the app
or by an admin on a written request (audited)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter
from litestar.status_codes import HTTP_202_ACCEPTED

from backend.auth.access import ADMINS, MEMBERS
from backend.auth.schemas import OtpAccepted
from backend.errors import InvalidOtp, MemberNotFound, TooManyRequests
from backend.http import NO_STORE, MemberRequest, PathId, StaffRequest, answers, strict_body
from backend.members.erasure import MemberErasure
from backend.members.export import export_member
from backend.members.rights_schemas import (
    ErasureConfirmation,
    ErasureOnRequest,
    ErasureResult,
    MemberExport,
)


class MyDataController(Controller):
    path = "/v1/me"
    tags = ["me"]

    @get(
        "/export",
        opt=MEMBERS,
        cache_control=NO_STORE,
        summary="Everything kept about the member, as one JSON document",
    )
    async def export(
        self, request: MemberRequest, member_erasure: NamedDependency[MemberErasure]
    ) -> MemberExport:
        return await export_member(request.user.member_id, sessions=member_erasure.sessions)

    @post(
        "/erasure/code",
        status_code=HTTP_202_ACCEPTED,
        opt=MEMBERS | answers(TooManyRequests, MemberNotFound),
        summary="Text a one-time code that confirms erasing the account",
    )
    async def send_erasure_code(
        self, request: MemberRequest, member_erasure: NamedDependency[MemberErasure]
    ) -> OtpAccepted:
        await member_erasure.send_code(request.user.member_id)
        return OtpAccepted(expires_in=member_erasure.code_ttl_s)

    @post(
        "/erasure",
        status_code=200,
        opt=MEMBERS | answers(InvalidOtp, MemberNotFound),
        summary="Erase the account and its personal data (confirmed with the texted code)",
    )
    async def erase(
        self,
        request: MemberRequest,
        data: JSONBody[ErasureConfirmation],
        member_erasure: NamedDependency[MemberErasure],
    ) -> ErasureResult:
        body = await strict_body(request, ErasureConfirmation)
        return await member_erasure.erase_own(request.user.member_id, body.code)


class AdminMemberRightsController(Controller):
    path = "/v1/admin/members"
    tags = ["admin"]

    @get(
        "/{member_id:uuid}/export",
        opt=ADMINS | answers(MemberNotFound),
        cache_control=NO_STORE,
        summary="Everything kept about a member, for their written request (audited)",
    )
    async def export(
        self,
        member_id: PathId,
        member_erasure: NamedDependency[MemberErasure],
        reason: Annotated[str, QueryParameter(min_length=3, max_length=200)],
    ) -> MemberExport:
        return await export_member(
            member_id, sessions=member_erasure.sessions, staff_request=reason
        )

    @post(
        "/{member_id:uuid}/erasure",
        status_code=200,
        opt=ADMINS | answers(MemberNotFound),
        summary="Erase a member's personal data on their request (audited; idempotent)",
    )
    async def erase(
        self,
        request: StaffRequest,
        member_id: PathId,
        data: JSONBody[ErasureOnRequest],
        member_erasure: NamedDependency[MemberErasure],
    ) -> ErasureResult:
        body = await strict_body(request, ErasureOnRequest)
        return await member_erasure.erase(member_id, staff=request.user, reason=body.reason)
