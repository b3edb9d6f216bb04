"""HTTP for login, refresh and logout."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.status_codes import HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT

from backend.auth.callers import MemberCaller, members_only
from backend.auth.schemas import (
    OtpAccepted,
    OtpRequest,
    RefreshRequest,
    TokenRequest,
    TokenResponse,
)
from backend.auth.service import AuthService

PUBLIC = {"exclude_from_auth": True}


class AuthController(Controller):
    path = "/v1/auth"
    tags = ["auth"]

    @post("/otp", status_code=HTTP_202_ACCEPTED, opt=PUBLIC, summary="Send a one-time code")
    async def request_otp(
        self, data: JSONBody[OtpRequest], auth_service: NamedDependency[AuthService]
    ) -> OtpAccepted:
        await auth_service.otp.request_code(data.phone)
        return OtpAccepted(expires_in=auth_service.otp.ttl_s)

    @post("/token", status_code=200, opt=PUBLIC, summary="Log in with phone and code")
    async def issue_token(
        self, data: JSONBody[TokenRequest], auth_service: NamedDependency[AuthService]
    ) -> TokenResponse:
        return await auth_service.log_in_member(phone=data.phone, code=data.code)

    @post("/refresh", status_code=200, opt=PUBLIC, summary="Rotate the refresh token")
    async def refresh(
        self, data: JSONBody[RefreshRequest], auth_service: NamedDependency[AuthService]
    ) -> TokenResponse:
        return await auth_service.refresh(data.refresh_token)

    @post(
        "/logout", status_code=HTTP_204_NO_CONTENT, guards=[members_only], summary="Revoke session"
    )
    async def log_out(
        self, request: Request[MemberCaller, Any, Any], auth_service: NamedDependency[AuthService]
    ) -> None:
        await auth_service.log_out(request.user.session_id)
