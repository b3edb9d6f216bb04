"""The migration that moves store days and accounting dates to each store's own calendar
(db/migrations/db_2026_12_07t00_20_00_000000.py) loses nothing: run backwards over figures
counted live, it gives the UTC days the rows used to mean; run forwards over those, it gives
back exactly the figures the service counts, and the undelivered documents' local dates."""

from __future__ import annotations

import importlib
import uuid

import httpx

from backend.stores.figures import FIGURES
from db.tables import OutboxMessage, StoreDay, StoreDayMember
from tests.clock import at, utc
from tests.conftest import LiveServer
from tests.factories import figures_folded, log_in, open_till, sold

migration = importlib.import_module("db.migrations.db_2026_12_07t00_20_00_000000")


async def _store_days() -> dict[tuple[str, str], tuple[int, ...]]:
    rows = await StoreDay.select()
    return {
        (str(row["store"]), row["day"].isoformat()): tuple(row[name] for name in FIGURES)
        for row in rows
    }


async def _visits() -> set[tuple[str, str, str]]:
    rows = await StoreDayMember.select()
    return {(str(r["store"]), r["day"].isoformat(), str(r["member"])) for r in rows}


async def _document_dates() -> dict[str, tuple[str, str]]:
    rows = await OutboxMessage.select(
        OutboxMessage.id, OutboxMessage.business_date, OutboxMessage.payload
    ).output(load_json=True)
    return {
        str(r["id"]): (r["business_date"].isoformat(), r["payload"]["business_date"]) for r in rows
    }


async def test_store_days_and_document_dates_move_between_utc_and_local_without_loss(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    east = await open_till(time_zone="Asia/Vladivostok")  # UTC+10
    west = await open_till(time_zone="Europe/Kaliningrad", day_starts_at=4)  # UTC+2
    with at(utc(2027, 3, 15, 13, 30)):
        first = await log_in(client, live_server.sms)  # joins at 23:30 on the 15th, east
        sale = await sold(client, east, first.card_number, 30000)
    with at(utc(2027, 3, 15, 14, 30)):
        second = await log_in(client, live_server.sms)  # 00:30 on the 16th, east
        await sold(client, east, first.card_number, 10000)
        await sold(client, east, second.card_number, 20000)
        refund = await client.post(
            f"/v1/purchases/{sale['purchase_id']}/refunds",
            json={"amount": 9000},
            headers={**east.headers, "Idempotency-Key": uuid.uuid4().hex},
        )
        assert refund.status_code == 201, refund.text
    with at(utc(2027, 3, 16, 1, 0)):
        await sold(client, west, second.card_number, 40000)  # 03:00: the 15th's night
    # A document already booked by the accounting system keeps the date it was booked under.
    booked = await OutboxMessage.select(OutboxMessage.id).where(OutboxMessage.kind == "refund")
    await OutboxMessage.update({OutboxMessage.status: "delivered"}).where(
        OutboxMessage.id == booked[0]["id"]
    )
    await figures_folded()
    counted, visits, dates = await _store_days(), await _visits(), await _document_dates()
    e, w = str(east.store_id), str(west.store_id)
    assert set(counted) == {(e, "2027-03-15"), (e, "2027-03-16"), (w, "2027-03-15")}

    await migration.move_days(local=False)
    utc_days = await _store_days()
    # In UTC all three east sales are on the 15th, and the west one on the 16th.
    assert set(utc_days) == {(e, "2027-03-15"), (w, "2027-03-16")}
    east_day = utc_days[(e, "2027-03-15")]
    assert east_day == (3, 60000, 15 + 5 + 10, 0, 4, 9000, 2, 2)
    utc_dates = await _document_dates()
    assert utc_dates[str(booked[0]["id"])] == dates[str(booked[0]["id"])]
    assert sorted(day for day, _ in utc_dates.values()) == [
        "2027-03-15",
        "2027-03-15",
        "2027-03-15",
        "2027-03-16",  # the delivered refund, booked in the east's local calendar
        "2027-03-16",
    ]

    await migration.move_days(local=True)
    assert await _store_days() == counted
    assert await _visits() == visits
    assert await _document_dates() == dates
