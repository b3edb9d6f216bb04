"""Member login: one-time code in, tokens out; refresh and logout."""

from __future__ import annotations

import uuid

from backend.auth.otp import OtpService
from backend.auth.schemas import TokenResponse
from backend.auth.sessions import SessionStore
from backend.auth.tokens import TokenIssuer
from backend.errors import Unauthorized
from backend.members.service import enrol_or_get_member

MEMBER = "member"


class AuthService:
    def __init__(self, *, otp: OtpService, sessions: SessionStore, tokens: TokenIssuer) -> None:
        self.otp = otp
        self._sessions = sessions
        self._tokens = tokens

    async def log_in_member(self, *, phone: str, code: str) -> TokenResponse:
        await self.otp.verify(phone, code)
        member_id = await enrol_or_get_member(phone)
        return await self._issue(member_id)

    async def refresh(self, refresh_token: str) -> TokenResponse:
        subject, kind, session = await self._sessions.rotate(refresh_token)
        if kind != MEMBER:
            raise Unauthorized("not a member session")
        return self._tokens_for(subject, session.session_id, session.refresh_token)

    async def log_out(self, session_id: str) -> None:
        await self._sessions.revoke(session_id)

    async def _issue(self, member_id: uuid.UUID) -> TokenResponse:
        session = await self._sessions.open(subject=member_id, kind=MEMBER)
        return self._tokens_for(member_id, session.session_id, session.refresh_token)

    def _tokens_for(self, member_id: uuid.UUID, session_id: str, refresh: str) -> TokenResponse:
        return TokenResponse(
            access_token=self._tokens.access_token(
                subject=member_id, kind=MEMBER, session_id=session_id
            ),
            refresh_token=refresh,
            expires_in=self._tokens.ttl_s,
            member_id=member_id,
        )
