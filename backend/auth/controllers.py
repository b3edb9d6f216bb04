"""HTTP for logins, refresh, logout and a member's device sessions."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT

from backend.auth.access import MEMBERS, PUBLIC, allow
from backend.auth.callers import MemberCaller, Role, StaffCaller
from backend.auth.schemas import (
    OtpAccepted,
    OtpRequest,
    RefreshRequest,
    SessionList,
    StaffLogin,
    TokenRequest,
    TokenResponse,
)
from backend.auth.service import AuthService
from backend.errors import AccountLocked, InvalidOtp, Unauthorized
from backend.http import AnyRequest, MemberRequest, answers, strict_body

Auth = NamedDependency[AuthService]


def device_of(request: AnyRequest) -> str:
    return request.headers.get("user-agent", "")[:200]


class AuthController(Controller):
    path = "/v1/auth"
    tags = ["auth"]

    @post("/otp", status_code=HTTP_202_ACCEPTED, opt=PUBLIC, summary="Send a one-time code")
    async def request_otp(
        self, request: AnyRequest, data: JSONBody[OtpRequest], auth_service: Auth
    ) -> OtpAccepted:
        body = await strict_body(request, OtpRequest)
        await auth_service.otp.request_code(body.phone)
        return OtpAccepted(expires_in=auth_service.otp.ttl_s)

    @post(
        "/token",
        status_code=200,
        opt=PUBLIC | answers(InvalidOtp),
        summary="Member login with phone and code",
    )
    async def issue_token(
        self, request: AnyRequest, data: JSONBody[TokenRequest], auth_service: Auth
    ) -> TokenResponse:
        body = await strict_body(request, TokenRequest)
        return await auth_service.log_in_member(
            phone=body.phone, code=body.code, device=device_of(request)
        )

    @post(
        "/refresh",
        status_code=200,
        opt=PUBLIC | answers(Unauthorized),
        summary="Rotate the refresh token",
    )
    async def refresh(
        self, request: AnyRequest, data: JSONBody[RefreshRequest], auth_service: Auth
    ) -> TokenResponse:
        body = await strict_body(request, RefreshRequest)
        return await auth_service.refresh(body.refresh_token)

    @post(
        "/logout",
        status_code=HTTP_204_NO_CONTENT,
        opt=allow(Role.MEMBER, Role.BARISTA, Role.MANAGER, Role.ADMIN),
        summary="End this session",
    )
    async def log_out(
        self, request: Request[MemberCaller | StaffCaller, Any, Any], auth_service: Auth
    ) -> None:
        await auth_service.log_out(request.user.session_id)


class StaffLoginController(Controller):
    path = "/v1/staff"
    tags = ["auth"]

    @post(
        "/token",
        status_code=200,
        opt=PUBLIC | answers(Unauthorized, AccountLocked),
        summary="Staff login with email and password (locked after repeated failures)",
    )
    async def issue_staff_token(
        self, request: AnyRequest, data: JSONBody[StaffLogin], auth_service: Auth
    ) -> TokenResponse:
        body = await strict_body(request, StaffLogin)
        return await auth_service.log_in_staff(
            email=body.email, password=body.password, device=device_of(request)
        )


class MySessionsController(Controller):
    path = "/v1/me/sessions"
    tags = ["me"]

    @get("/", opt=MEMBERS, summary="The member's signed-in devices")
    async def list_sessions(self, request: MemberRequest, auth_service: Auth) -> SessionList:
        caller = request.user
        return await auth_service.list_sessions(
            member_id=caller.member_id, current=caller.session_id
        )

    @delete("/{session_id:str}", opt=MEMBERS, summary="Sign a device out", status_code=204)
    async def end_session(
        self, request: MemberRequest, session_id: FromPath[str], auth_service: Auth
    ) -> None:
        await auth_service.end_session(member_id=request.user.member_id, session_id=session_id)
