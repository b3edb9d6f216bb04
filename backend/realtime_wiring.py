"""What the realtime gateway needs from backend: who a token belongs to, and stored events."""

from __future__ import annotations

import uuid

from litestar.exceptions import NotAuthorizedException

from backend.auth.callers import MemberCaller
from backend.auth.middleware import caller_from_token
from backend.auth.sessions import SessionStore
from backend.auth.tokens import TokenIssuer
from backend.loyalty.events import events_after
from db.tables import Account


class MemberEventReplay:
    """``realtime.gateway.ReplaySource`` over the ``member_event`` table."""

    async def events_after(self, member_id: str, after_seq: int, limit: int) -> list[bytes]:
        return await events_after(uuid.UUID(member_id), after_seq, limit=limit)

    async def current_seq(self, member_id: str) -> int:
        row = (
            await Account.select(Account.last_event_seq)
            .where(Account.member == uuid.UUID(member_id))
            .first()
        )
        return 0 if row is None else int(row["last_event_seq"])


class MemberTokenAuthenticator:
    def __init__(self, *, tokens: TokenIssuer, sessions: SessionStore) -> None:
        self._tokens = tokens
        self._sessions = sessions

    async def __call__(self, token: str) -> str | None:
        try:
            decoded = self._tokens.decode(token)
        except NotAuthorizedException:
            return None
        caller = await caller_from_token(decoded, self._sessions)
        return str(caller.member_id) if isinstance(caller, MemberCaller) else None
