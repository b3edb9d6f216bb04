from __future__ import annotations

import asyncpg
import httpx
import pytest

from db.tables import LedgerEntry, MemberEvent
from tests.conftest import LiveServer
from tests.factories import buy, log_in, open_till, purchase_body


async def test_ledger_entries_and_member_events_cannot_be_changed_or_deleted(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    till = await open_till()
    member = await log_in(client, live_server.sms)
    await buy(client, till, purchase_body(member.card_number))

    with pytest.raises(asyncpg.RestrictViolationError, match="append-only"):
        await LedgerEntry.update({LedgerEntry.available_delta: 1000}, force=True)
    with pytest.raises(asyncpg.RestrictViolationError, match="append-only"):
        await LedgerEntry.delete(force=True)
    with pytest.raises(asyncpg.RestrictViolationError, match="append-only"):
        await MemberEvent.delete(force=True)
    assert await LedgerEntry.count() == 1
