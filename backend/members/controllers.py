"""HTTP for the member's own data."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.datastructures import CacheControlHeader
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from backend.auth.access import allow
from backend.auth.callers import MemberCaller, Role
from backend.members.qr import QrTokens
from backend.members.schemas import MeResponse, QrTokenResponse, TransactionPage
from backend.members.service import PAGE_MAX, get_profile, list_transactions


class MeController(Controller):
    path = "/v1/me"
    tags = ["me"]

    @get("/", opt=allow(Role.MEMBER), summary="The member's profile, card, tier and balance")
    async def get_me(self, request: Request[MemberCaller, Any, Any]) -> MeResponse:
        return await get_profile(request.user.member_id)

    @get("/transactions", opt=allow(Role.MEMBER), summary="Ledger history, newest first")
    async def list_transactions(
        self,
        request: Request[MemberCaller, Any, Any],
        limit: Annotated[int, QueryParameter(ge=1, le=PAGE_MAX)] = 20,
        cursor: Annotated[str | None, QueryParameter(max_length=64)] = None,
    ) -> TransactionPage:
        return await list_transactions(request.user.member_id, limit=limit, cursor=cursor)

    @get(
        "/qr",
        opt=allow(Role.MEMBER),
        summary="A short-lived, single-use token for the POS to scan",
        cache_control=CacheControlHeader(no_store=True),
    )
    async def get_qr(
        self, request: Request[MemberCaller, Any, Any], qr_tokens: NamedDependency[QrTokens]
    ) -> QrTokenResponse:
        token = await qr_tokens.issue(request.user.member_id)
        return QrTokenResponse(qr_token=token, expires_in=qr_tokens.ttl_s)
