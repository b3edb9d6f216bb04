"""Access tokens: short-lived JWTs made with Litestar's ``Token`` (PyJWT underneath)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from litestar.security.jwt import Token

ALGORITHM = "HS256"
ISSUER = "astrocoffee"
MEMBER = "member"
STAFF = "staff"


@dataclass(frozen=True, slots=True)
class TokenIssuer:
    secret: str
    ttl_s: int

    def access_token(self, *, subject: uuid.UUID, kind: str, session_id: str) -> str:
        token = Token(
            sub=str(subject),
            exp=datetime.now(UTC) + timedelta(seconds=self.ttl_s),
            iss=ISSUER,
            extras={"kind": kind, "sid": session_id},
        )
        return token.encode(secret=self.secret, algorithm=ALGORITHM)

    def decode(self, encoded: str) -> Token:
        """Raise ``litestar.exceptions.NotAuthorizedException`` for a bad or expired token."""
        return Token.decode(encoded, secret=self.secret, algorithm=ALGORITHM, issuer=[ISSUER])
