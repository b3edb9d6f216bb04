"""What the realtime gateway needs from backend: which stream a token may follow, and the
stored events of each stream."""

from __future__ import annotations

import uuid

from litestar.exceptions import NotAuthorizedException

from backend.auth.callers import MemberCaller, StaffCaller
from backend.auth.middleware import caller_from_token
from backend.auth.sessions import SessionStore
from backend.auth.tokens import TokenIssuer
from backend.loyalty.broadcasts import broadcast_events_after, broadcast_seq
from backend.loyalty.events import events_after
from backend.stores.events import store_events_after
from db.tables import Account, Store
from realtime.channels import BROADCAST, member_stream, store_stream


class StoredEvents:
    """``realtime.gateway.ReplaySource`` over ``member_event`` and ``store_event``."""

    async def events_after(self, stream: str, after_seq: int, limit: int) -> list[bytes]:
        if stream == BROADCAST:
            return await broadcast_events_after(after_seq, limit=limit)
        kind, _, key = stream.partition(":")
        if kind == "store":
            return await store_events_after(uuid.UUID(key), after_seq, limit=limit)
        return await events_after(uuid.UUID(key), after_seq, limit=limit)

    async def current_seq(self, stream: str) -> int:
        if stream == BROADCAST:
            return await broadcast_seq()
        kind, _, key = stream.partition(":")
        if kind == "store":
            row = await Store.select(Store.last_event_seq).where(Store.id == uuid.UUID(key)).first()
        else:
            row = (
                await Account.select(Account.last_event_seq)
                .where(Account.member == uuid.UUID(key))
                .first()
            )
        return 0 if row is None else int(row["last_event_seq"])


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
