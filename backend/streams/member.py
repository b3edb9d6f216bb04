"""A member's stream: every event of their account (transactions, balance, tier, holds,
orders, offers), followed by all their devices.

The seq is ``account.last_event_seq``, moved under the account row's lock: the ledger's
post (``backend.loyalty.ledger``) moves it and adds ``MEMBERS.insert`` to its statement, so
the events commit with the money they tell of; other changes ``MEMBERS.append``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from backend.streams.stream import Stream, json_text
from db import sql
from db.tables import Account, MemberEvent
from realtime.channels import MEMBER
from realtime.protocol import EventEnvelope, encode
from realtime.publisher import Outgoing


class MemberStream(Stream):
    async def current_seq(self, key: Any) -> int:
        row = await Account.select(Account.last_event_seq).where(Account.member == key).first()
        return 0 if row is None else int(row["last_event_seq"])

    async def current_seqs(self, keys: Sequence[Any]) -> dict[Any, int]:
        rows = await Account.select(Account.member, Account.last_event_seq).where(
            Account.member.is_in(list(keys))
        )
        found = {row["member"]: int(row["last_event_seq"]) for row in rows}
        return {key: found.get(key, 0) for key in keys}

    async def append_to_each(
        self,
        audience: str,
        params: dict[str, Any],
        *,
        type: str,
        data: dict[str, Any],
        at: datetime,
    ) -> list[Outgoing]:
        """One event to the stream of every member ``audience`` selects (a SELECT of
        ``member``, its accounts locked in a fixed order; ``params``: its parameters), in one
        set-based statement. Its work grows with the audience: the caller bounds it (a
        campaign's audience is told a batch of members at a time,
        ``backend.campaigns.telling``)."""
        rows = await sql.fetch(
            each_statement(audience),
            **params,
            type=type,
            data=json_text(data),
            now=at,
        )
        return [
            (
                self.name(row["member"]),
                encode(EventEnvelope(type=type, seq=row["seq"], ts=at, data=data)),
            )
            for row in rows
        ]


def each_statement(audience: str) -> str:
    """``append_to_each``'s statement (its parameters: the audience's, ``type``, ``data``
    as JSON text, ``now``)."""
    return (
        "WITH audience AS (" + audience + "), "  # noqa: S608 (fixed fragments, bound values)
        # The accounts by their key (an array the planner sees as such), never a join that
        # may walk the whole account index.
        "bumped AS (UPDATE account SET last_event_seq = last_event_seq + 1 "
        "WHERE member = ANY(ARRAY(SELECT member FROM audience)) "
        "RETURNING member, last_event_seq) "
        "INSERT INTO member_event (id, member, seq, type, data, created_at) "
        "SELECT gen_random_uuid(), member, last_event_seq, {type}, {data}::jsonb, {now} "
        "FROM bumped RETURNING member, seq"
    )


MEMBERS = MemberStream(
    kind=MEMBER,
    table=MemberEvent,
    owner=MemberEvent.member,
    numbered="UPDATE account SET last_event_seq = last_event_seq + {event_count} "
    "WHERE member = {event_owner} RETURNING last_event_seq",
)
