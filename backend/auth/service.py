"""Logins (members by one-time code, staff by password), refresh, logout, device sessions.

Who a login is for is the business of the packages above this one: the app factory passes in
``enrol_member`` (``backend.members.service.enrol_or_get_member``) and ``check_staff_login``
(``backend.staff.logins.check_login``), so authentication imports neither.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass

from backend.auth.otp import OtpService
from backend.auth.schemas import SessionList, SessionOut, TokenResponse
from backend.auth.sessions import SessionStore
from backend.auth.tokens import MEMBER, STAFF, TokenIssuer
from backend.errors import Unauthorized
from db.tables import StaffUser

# The member with this phone, enrolled if new.
EnrolMember = Callable[[str], Awaitable[uuid.UUID]]
# The staff user with this email and password (``Unauthorized`` otherwise).
CheckStaffLogin = Callable[[str, str], Awaitable[uuid.UUID]]


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthService:
    otp: OtpService
    sessions: SessionStore
    tokens: TokenIssuer
    enrol_member: EnrolMember
    check_staff_login: CheckStaffLogin

    async def log_in_member(self, *, phone: str, code: str, device: str) -> TokenResponse:
        await self.otp.verify(phone, code)
        member_id = await self.enrol_member(phone)
        session = await self.sessions.open(subject=member_id, kind=MEMBER, device=device)
        return await self._tokens_for(member_id, MEMBER, session.session_id, session.refresh_token)

    async def log_in_staff(self, *, email: str, password: str, device: str) -> TokenResponse:
        staff_id = await self.check_staff_login(email, password)
        session = await self.sessions.open(subject=staff_id, kind=STAFF, device=device)
        return await self._tokens_for(staff_id, STAFF, session.session_id, session.refresh_token)

    async def refresh(self, refresh_token: str) -> TokenResponse:
        subject, kind, session = await self.sessions.rotate(refresh_token)
        return await self._tokens_for(subject, kind, session.session_id, session.refresh_token)

    async def log_out(self, session_id: str) -> None:
        await self.sessions.revoke(session_id)

    async def list_sessions(self, *, member_id: uuid.UUID, current: str) -> SessionList:
        sessions = await self.sessions.list(subject=member_id, kind=MEMBER)
        return SessionList(
            items=[SessionOut(**asdict(s), current=s.session_id == current) for s in sessions]
        )

    async def end_session(self, *, member_id: uuid.UUID, session_id: str) -> None:
        await self.sessions.revoke_owned(subject=member_id, kind=MEMBER, session_id=session_id)

    async def _tokens_for(
        self, subject: uuid.UUID, kind: str, session_id: str, refresh: str
    ) -> TokenResponse:
        access = self.tokens.access_token(subject=subject, kind=kind, session_id=session_id)
        ttl = self.tokens.ttl_s
        if kind == MEMBER:
            return TokenResponse(
                access_token=access, refresh_token=refresh, expires_in=ttl, member_id=subject
            )
        row = (
            await StaffUser.select(StaffUser.role, StaffUser.active)
            .where(StaffUser.id == subject)
            .first()
        )
        if row is None or not row["active"]:
            await self.sessions.revoke(session_id)
            raise Unauthorized("this staff account is disabled")
        return TokenResponse(
            access_token=access,
            refresh_token=refresh,
            expires_in=ttl,
            staff_id=subject,
            role=row["role"],
        )
