"""A member's notification settings: each kind on or off, the language texts are in, and the
quiet hours. No row means every kind on, in Russian, quiet 22:00-08:00; a change writes the
whole row (an upsert)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import get_args
from zoneinfo import ZoneInfo

from backend.accounting.documents import program_zone
from backend.local_time import zone
from backend.push.quiet_hours import DEFAULT_FROM, DEFAULT_UNTIL, QuietHours, clock, minutes_of
from backend.push.schemas import (
    Language,
    NotificationKind,
    NotificationSettingsUpdate,
    NotificationSettingsView,
    QuietHoursSetting,
)
from db import sql

KINDS: tuple[NotificationKind, ...] = get_args(NotificationKind)
DEFAULT_LANGUAGE: Language = "ru"

_READ = (
    "SELECT kinds_off, language, quiet_from, quiet_until FROM notification_settings"
    " WHERE member = {member_id}"
)
_WRITE = """
INSERT INTO notification_settings (member, kinds_off, language, quiet_from, quiet_until,
                                   updated_at)
VALUES ({member_id}, {kinds_off}, {language}, {quiet_from}, {quiet_until}, {now})
ON CONFLICT (member) DO UPDATE SET
    kinds_off = EXCLUDED.kinds_off, language = EXCLUDED.language,
    quiet_from = EXCLUDED.quiet_from, quiet_until = EXCLUDED.quiet_until,
    updated_at = EXCLUDED.updated_at
RETURNING kinds_off, language, quiet_from, quiet_until
"""
_ZONE = "SELECT time_zone FROM member WHERE id = {member_id}"


async def notification_settings(member_id: uuid.UUID) -> NotificationSettingsView:
    rows = await sql.fetch(_READ, member_id=member_id)
    if not rows:
        return shown((), DEFAULT_LANGUAGE, DEFAULT_FROM, DEFAULT_UNTIL)
    row = rows[0]
    return shown(row["kinds_off"], row["language"], row["quiet_from"], row["quiet_until"])


async def change_notification_settings(
    member_id: uuid.UUID, update: NotificationSettingsUpdate
) -> NotificationSettingsView:
    current = await notification_settings(member_id)
    kinds = {**current.kinds, **update.kinds}
    quiet = update.quiet_hours or current.quiet_hours
    (row,) = await sql.fetch(
        _WRITE,
        member_id=member_id,
        kinds_off=[kind for kind in KINDS if not kinds[kind]],
        language=update.language or current.language,
        quiet_from=minutes_of(quiet.start),
        quiet_until=minutes_of(quiet.end),
        now=datetime.now(UTC),
    )
    return shown(row["kinds_off"], row["language"], row["quiet_from"], row["quiet_until"])


def shown(
    kinds_off: tuple[str, ...] | list[str], language: Language, quiet_from: int, quiet_until: int
) -> NotificationSettingsView:
    return NotificationSettingsView(
        language=language,
        kinds={kind: kind not in kinds_off for kind in KINDS},
        quiet_hours=QuietHoursSetting(
            start=f"{clock(quiet_from):%H:%M}", end=f"{clock(quiet_until):%H:%M}"
        ),
    )


def quiet_hours_of(settings: NotificationSettingsView) -> QuietHours:
    return QuietHours(
        start=minutes_of(settings.quiet_hours.start), end=minutes_of(settings.quiet_hours.end)
    )


async def member_zone(member_id: uuid.UUID) -> ZoneInfo:
    """The member's zone: theirs, or the program's until they have one (their first sale)."""
    rows = await sql.fetch(_ZONE, member_id=member_id)
    name = rows[0]["time_zone"] if rows else None
    return zone(name) if name else program_zone()
