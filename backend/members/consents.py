"""Marketing consent per channel: given and withdrawn with time and source, kept as history
(``marketing_consent`` is append-only); the newest change per channel is in force, and no
change at all means no.

Anything that sends marketing asks ``may_send_marketing`` first.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import get_args

import msgspec

from backend.errors import MemberNotFound, ValidationFailed
from backend.members.schemas import Channel, ConsentChange, Consents, ConsentState, ConsentUpdate
from db import sql
from db.ids import new_id
from db.pool import engine

CHANNELS: tuple[Channel, ...] = get_args(Channel)
HISTORY_SHOWN = 100

_CURRENT = """
SELECT DISTINCT ON (channel) channel, given, at, source
FROM marketing_consent WHERE member = {member_id}
ORDER BY channel, at DESC, id DESC
"""
_HISTORY = """
SELECT channel, given, at, source, staff_id FROM marketing_consent
WHERE member = {member_id} ORDER BY at DESC, id DESC LIMIT {limit}
"""
_APPEND = """
INSERT INTO marketing_consent (id, member, channel, given, source, staff_id, at)
VALUES ({id}, {member_id}, {channel}, {given}, {source}, {staff_id}, {at})
"""


async def current_consents(member_id: uuid.UUID) -> list[ConsentState]:
    found = {row["channel"]: row for row in await sql.fetch(_CURRENT, member_id=member_id)}
    return [
        ConsentState(channel=channel, given=row["given"], at=row["at"], source=row["source"])
        if (row := found.get(channel)) is not None
        else ConsentState(channel=channel, given=False, at=None, source=None)
        for channel in CHANNELS
    ]


async def may_send_marketing(member_id: uuid.UUID, channel: Channel) -> bool:
    """Whether marketing may go to the member on ``channel`` now."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    return any(
        state.given for state in await current_consents(member_id) if state.channel == channel
    )


async def consents_of(member_id: uuid.UUID) -> Consents:
    history = await sql.fetch(_HISTORY, member_id=member_id, limit=HISTORY_SHOWN)
    return Consents(
        channels=await current_consents(member_id),
        history=[ConsentChange(**dict(row)) for row in history],
    )


async def change_consents(
    member_id: uuid.UUID,
    update: ConsentUpdate,
    *,
    source: str,
    staff_id: uuid.UUID | None = None,
) -> Consents:
    """Record the channels whose state changes (saying yes twice is one change); under the
    member's row lock, so two devices answering at once are recorded in order."""
    wanted = {
        channel: value
        for channel in CHANNELS
        if not isinstance(value := getattr(update, channel), msgspec.UnsetType)
    }
    if not wanted:
        raise ValidationFailed("name at least one channel: push, sms or email")
    now = datetime.now(UTC)
    async with engine().transaction():
        if not await sql.fetch(
            "SELECT 1 FROM member WHERE id = {member_id} FOR UPDATE", member_id=member_id
        ):
            raise MemberNotFound(f"member {member_id} does not exist")
        for state in await current_consents(member_id):
            if state.channel in wanted and wanted[state.channel] != state.given:
                await sql.fetch(
                    _APPEND,
                    id=new_id(),
                    member_id=member_id,
                    channel=state.channel,
                    given=wanted[state.channel],
                    source=source,
                    staff_id=staff_id,
                    at=now,
                )
    return await consents_of(member_id)
