"""Authentication: one middleware that recognises every kind of credential.

It extends Litestar's JWT middleware (bearer tokens for members) with ``X-Api-Key`` for POS
terminals, so a route is authenticated unless it opts out with ``exclude_from_auth`` and
says with a guard (``backend.auth.callers``) which callers it serves.
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.middleware.authentication import AuthenticationResult
from litestar.security.jwt import JWTAuth, JWTAuthenticationMiddleware, Token

from backend.auth.callers import Caller, MemberCaller
from backend.auth.sessions import SessionStore
from backend.auth.terminals import authenticate_terminal
from backend.auth.tokens import ALGORITHM, ISSUER

API_KEY_HEADER = "x-api-key"


class CallerAuthenticationMiddleware(JWTAuthenticationMiddleware):
    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        api_key = connection.headers.get(API_KEY_HEADER)
        if api_key is not None:
            terminal = await authenticate_terminal(api_key)
            if terminal is None:
                raise NotAuthorizedException("unknown or revoked API key")
            return AuthenticationResult(user=terminal, auth=None)
        return await super().authenticate_request(connection)


async def member_from_token(token: Token, sessions: SessionStore) -> MemberCaller | None:
    """The member a decoded access token stands for, if its session is still open."""
    if token.extras.get("kind") != "member":
        return None
    session_id = str(token.extras.get("sid", ""))
    # Checked on every request so that logout takes effect at once, not at token expiry.
    if not session_id or not await sessions.is_active(session_id):
        return None
    try:
        return MemberCaller(member_id=uuid.UUID(token.sub), session_id=session_id)
    except ValueError:
        return None


async def _member_from_request(
    token: Token, connection: ASGIConnection[Any, Any, Any, Any]
) -> MemberCaller | None:
    return await member_from_token(token, connection.app.state.sessions)


def build_auth(secret: str) -> JWTAuth[Caller, Token]:
    return JWTAuth[Caller, Token](
        retrieve_user_handler=_member_from_request,
        token_secret=secret,
        algorithm=ALGORITHM,
        accepted_issuers=[ISSUER],
        authentication_middleware_class=CallerAuthenticationMiddleware,
        # Our routes opt out one by one with opt={"exclude_from_auth": True}; the generated
        # OpenAPI documents are Litestar's own routes, so they are excluded by path.
        exclude=["^/schema"],
        openapi_security_scheme_name="BearerToken",
    )
