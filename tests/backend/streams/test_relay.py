"""The relay reads the events created since its previous complete pass (less a margin), not
its whole window each time, and still the whole window when it has no previous pass."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from backend.streams.member import MEMBERS
from backend.streams.relay import MARGIN, WINDOW, relay_unpublished
from db.pool import engine
from tests.factories import LoggedInMember


async def never_published(member: LoggedInMember) -> None:
    """Two events committed as if the process died before publishing them."""
    async with engine().transaction():
        for tier in ("gold", "platinum"):
            await MEMBERS.append(uuid.UUID(member.member_id), [("tier.changed", {"to": tier})])


async def test_a_pass_reads_from_the_previous_pass_less_the_margin(
    member: LoggedInMember, publisher: Any
) -> None:
    written = datetime.now(UTC)
    # A pass that began after the events' time plus the margin: the next one starts after them.
    earlier = written + MARGIN + timedelta(seconds=5)
    assert await relay_unpublished(publisher, now=earlier) == 0
    assert await publisher.relayed_until() == earlier
    await never_published(member)
    assert await relay_unpublished(publisher, now=earlier + timedelta(seconds=30)) == 0


async def test_without_a_previous_pass_the_whole_window_is_read(
    member: LoggedInMember, publisher: Any
) -> None:
    await never_published(member)
    later = datetime.now(UTC) + WINDOW - timedelta(seconds=5)
    assert await publisher.relayed_until() is None
    assert await relay_unpublished(publisher, now=later) == 2
    assert await publisher.relayed_until() == later


async def test_a_pass_within_the_margin_of_the_previous_one_reads_its_events(
    member: LoggedInMember, publisher: Any
) -> None:
    written = datetime.now(UTC)
    assert await relay_unpublished(publisher, now=written + MARGIN / 2) == 0
    await never_published(member)  # created after that pass's "now" less the margin
    assert await relay_unpublished(publisher, now=written + timedelta(seconds=30)) == 2
