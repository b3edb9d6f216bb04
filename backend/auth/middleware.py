"""Authentication: one middleware that recognises every kind of credential.

It extends Litestar's JWT middleware (bearer tokens for members and staff) with
``X-Api-Key`` for POS terminals. What a caller may do is decided in ``backend.auth.access``.
"""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any, Protocol

from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException
from litestar.middleware.authentication import AuthenticationResult
from litestar.security.jwt import JWTAuth, JWTAuthenticationMiddleware, Token

from backend.auth.callers import Caller, MemberCaller, Role, StaffCaller, acting_caller
from backend.auth.sessions import SessionStore
from backend.auth.terminals import TerminalDirectory
from backend.auth.tokens import ALGORITHM, ISSUER, MEMBER, STAFF
from backend.ops.logging import bind_caller
from db.tables import StaffUser

API_KEY_HEADER = "x-api-key"
# Route option: a rate limit (``CountsAsItReads``) that counts a terminal's request in the
# same Redis round trip that reads its key's cache entry (backend.auth.terminals).
COUNT_AT_AUTHENTICATION = "count_at_authentication"


class CountsAsItReads(Protocol):
    async def count_reading(
        self, connection: ASGIConnection[Any, Any, Any, Any], key: str, tombstone: bytes
    ) -> bytes | None:
        """The cache entry at ``key``; counts the request when it is a valid terminal's."""


class CallerAuthenticationMiddleware(JWTAuthenticationMiddleware):
    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        api_key = connection.headers.get(API_KEY_HEADER)
        if api_key is not None:
            terminals: TerminalDirectory = connection.app.state.terminals
            limit: CountsAsItReads | None = (
                connection.route_handler.opt.get(COUNT_AT_AUTHENTICATION)
                if connection.scope["type"] == ScopeType.HTTP
                else None
            )
            read = None if limit is None else partial(limit.count_reading, connection)
            terminal = await terminals.authenticate(api_key, read=read)
            if terminal is None:
                raise NotAuthorizedException("unknown or revoked API key")
            bind_caller(terminal.log_fields)
            acting_caller.set(terminal)
            return AuthenticationResult(user=terminal, auth=None)
        result = await super().authenticate_request(connection)
        bind_caller(result.user.log_fields)
        acting_caller.set(result.user)
        return result


async def caller_from_token(
    token: Token, sessions: SessionStore
) -> MemberCaller | StaffCaller | None:
    """The member or staff user a decoded access token stands for, if still allowed in."""
    kind = token.extras.get("kind")
    session_id = str(token.extras.get("sid", ""))
    # Checked on every request so that logout takes effect at once, not at token expiry.
    if kind not in (MEMBER, STAFF) or not await sessions.is_active(session_id):
        return None
    try:
        subject = uuid.UUID(token.sub)
    except ValueError:
        return None
    if kind == MEMBER:
        return MemberCaller(member_id=subject, session_id=session_id)
    # Role, stores and deactivation take effect at once: read them on every request.
    row = (
        await StaffUser.select(StaffUser.role, StaffUser.store_ids, StaffUser.active)
        .where(StaffUser.id == subject)
        .first()
    )
    if row is None or not row["active"]:
        return None
    return StaffCaller(
        staff_id=subject,
        role=Role(row["role"]),
        store_ids=frozenset(row["store_ids"]),
        session_id=session_id,
    )


async def _caller_from_request(
    token: Token, connection: ASGIConnection[Any, Any, Any, Any]
) -> MemberCaller | StaffCaller | None:
    return await caller_from_token(token, connection.app.state.sessions)


def build_auth(secret: str) -> JWTAuth[Caller, Token]:
    return JWTAuth[Caller, Token](
        retrieve_user_handler=_caller_from_request,
        token_secret=secret,
        algorithm=ALGORITHM,
        accepted_issuers=[ISSUER],
        authentication_middleware_class=CallerAuthenticationMiddleware,
        # Routes opt out by declaring Role.ANONYMOUS (see backend.auth.access).
        exclude=None,
        openapi_security_scheme_name="BearerToken",
    )
