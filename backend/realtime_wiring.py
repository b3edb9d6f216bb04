"""What the realtime gateway needs from backend: which stream a token may follow (the stored
events of each stream come from ``backend.streams.replay.StoredEvents``)."""

from __future__ import annotations

import uuid

from litestar.exceptions import NotAuthorizedException

from backend.auth.callers import MemberCaller, StaffCaller
from backend.auth.middleware import caller_from_token
from backend.auth.sessions import SessionStore
from backend.auth.tokens import TokenIssuer
from realtime.channels import BROADCAST, member_stream, store_stream


class StreamAuthenticator:
    """Members follow their own stream and the broadcasts; staff a store they work in."""

    def __init__(self, *, tokens: TokenIssuer, sessions: SessionStore) -> None:
        self._tokens = tokens
        self._sessions = sessions

    async def __call__(self, token: str, store_id: str | None) -> tuple[str, ...] | None:
        try:
            decoded = self._tokens.decode(token)
        except NotAuthorizedException:
            return None
        caller = await caller_from_token(decoded, self._sessions)
        if isinstance(caller, MemberCaller):
            return member_stream(str(caller.member_id)), BROADCAST
        if isinstance(caller, StaffCaller) and store_id is not None:
            try:
                store = uuid.UUID(store_id)
            except ValueError:
                return None
            if caller.works_in(store):
                return (store_stream(str(store)),)
        return None
