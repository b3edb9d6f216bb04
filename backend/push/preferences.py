"""A member's notification settings: each kind on or off, and the language texts are in.
No row means every kind on, in Russian; a change writes the whole row (an upsert)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import get_args

from backend.push.schemas import (
    Language,
    NotificationKind,
    NotificationSettingsUpdate,
    NotificationSettingsView,
)
from db import sql

KINDS: tuple[NotificationKind, ...] = get_args(NotificationKind)
DEFAULT_LANGUAGE: Language = "ru"

_READ = "SELECT kinds_off, language FROM notification_settings WHERE member = {member_id}"
_WRITE = """
INSERT INTO notification_settings (member, kinds_off, language, updated_at)
VALUES ({member_id}, {kinds_off}, {language}, {now})
ON CONFLICT (member) DO UPDATE SET
    kinds_off = EXCLUDED.kinds_off, language = EXCLUDED.language, updated_at = EXCLUDED.updated_at
RETURNING kinds_off, language
"""


async def notification_settings(member_id: uuid.UUID) -> NotificationSettingsView:
    rows = await sql.fetch(_READ, member_id=member_id)
    if not rows:
        return shown((), DEFAULT_LANGUAGE)
    return shown(rows[0]["kinds_off"], rows[0]["language"])


async def change_notification_settings(
    member_id: uuid.UUID, update: NotificationSettingsUpdate
) -> NotificationSettingsView:
    current = await notification_settings(member_id)
    kinds = {**current.kinds, **update.kinds}
    (row,) = await sql.fetch(
        _WRITE,
        member_id=member_id,
        kinds_off=[kind for kind in KINDS if not kinds[kind]],
        language=update.language or current.language,
        now=datetime.now(UTC),
    )
    return shown(row["kinds_off"], row["language"])


def shown(kinds_off: tuple[str, ...] | list[str], language: Language) -> NotificationSettingsView:
    return NotificationSettingsView(
        language=language, kinds={kind: kind not in kinds_off for kind in KINDS}
    )
