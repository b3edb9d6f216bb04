"""An accounting document's business date is a local date: the business day of the store
where the movement happened, or the program zone's date for what no store did."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
import time_machine

from backend.accounting.documents import program_zone, use_program_zone
from db.tables import OutboxMessage
from tests.conftest import LiveServer
from tests.factories import buy, grant, log_in, open_till, purchase_body

# 21:30 UTC on 14 March: 00:30 on the 15th in Moscow (UTC+3), 07:30 on the 15th in
# Vladivostok (UTC+10), still 23:30 on the 14th in Kaliningrad (UTC+2).
LATE_EVENING_UTC = datetime(2027, 3, 14, 21, 30, tzinfo=UTC)


@pytest.fixture
def program_in_kaliningrad() -> Iterator[None]:
    before = program_zone().key
    use_program_zone("Europe/Kaliningrad")
    try:
        yield
    finally:
        use_program_zone(before)


async def _dates() -> list[tuple[str, str]]:
    rows = await OutboxMessage.select(OutboxMessage.kind, OutboxMessage.business_date).order_by(
        OutboxMessage.created_at
    )
    return [(r["kind"], r["business_date"].isoformat()) for r in rows]


async def test_a_sale_takes_its_store_s_date_and_an_adjustment_the_program_s(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    east = await open_till(time_zone="Asia/Vladivostok")
    west = await open_till(time_zone="Europe/Kaliningrad")
    with time_machine.travel(LATE_EVENING_UTC, tick=True):
        member = await log_in(client, live_server.sms)
        await buy(client, east, purchase_body(member.card_number))
        await buy(client, west, purchase_body(member.card_number))
        await grant(member.member_id, 10)  # the program's zone: Moscow
    assert await _dates() == [
        ("sale", "2027-03-15"),
        ("sale", "2027-03-14"),
        ("points_adjustment", "2027-03-15"),
    ]


async def test_the_program_zone_is_the_one_the_settings_name(
    client: httpx.AsyncClient, live_server: LiveServer, program_in_kaliningrad: None
) -> None:
    member = await log_in(client, live_server.sms)
    with time_machine.travel(LATE_EVENING_UTC, tick=True):
        await grant(member.member_id, 10)
    assert await _dates() == [("points_adjustment", "2027-03-14")]
