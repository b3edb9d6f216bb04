"""The program's figures per day (outstanding points, members per tier): the first snapshot
backfills the days before it from the ledger, later ones refresh the day's row about hourly;
each checked against a recount from the ledger, the accounts and the members. Admins only."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import httpx

from backend.loyalty.program_days import SNAPSHOT_EVERY_S, take_snapshot
from db import sql
from db.tables import Member
from tests.clock import at, utc
from tests.conftest import LiveServer
from tests.factories import Till, grant, hire, log_in, sell

_HELD_BY_END_OF = """
SELECT coalesce(sum(available_delta), 0)::bigint AS available,
       coalesce(sum(pending_delta), 0)::bigint AS pending,
       coalesce(sum(held_delta), 0)::bigint AS held
FROM ledger_entry WHERE created_at < {before}
"""
_HELD_NOW = """
SELECT coalesce(sum(available), 0)::bigint AS available,
       coalesce(sum(pending), 0)::bigint AS pending, coalesce(sum(held), 0)::bigint AS held
FROM account
"""


def _midnight_after(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=UTC)


async def test_liability_is_backfilled_from_the_ledger_then_snapshotted_with_the_tiers(
    client: httpx.AsyncClient, live_server: LiveServer, till: Till
) -> None:
    first = await log_in(client, live_server.sms)
    second = await log_in(client, live_server.sms)
    with at(utc(2030, 4, 1, 9)):
        assert (await sell(client, till, first, 35000)).status_code == 201
    with at(utc(2030, 4, 3, 9)):
        await grant(second.member_id, 500)
        assert (await sell(client, till, second, 18000)).status_code == 201
    with at(utc(2030, 4, 4, 9)):
        assert (await sell(client, till, first, 50000)).status_code == 201
    await Member.update({Member.tier: "gold"}).where(Member.id == second.member_id)

    now = datetime(2030, 4, 4, 10, tzinfo=UTC)
    assert await take_snapshot(now=now) == 1
    assert await take_snapshot(now=now + timedelta(minutes=59)) == 0  # taken this hour

    with at(now + timedelta(minutes=1)):
        admin = await hire(client, "admin")
        manager = await hire(client, "manager", [till.store_id])
        params = {"from": "2030-03-31", "to": "2030-04-05"}
        answer = await client.get(
            "/v1/admin/reports/program-days", params=params, headers=admin.headers
        )
        refused = await client.get(
            "/v1/admin/reports/program-days", params=params, headers=manager.headers
        )
        liability = await client.get(
            "/v1/admin/reports/points-liability.csv", params=params, headers=admin.headers
        )
        tiers = await client.get(
            "/v1/admin/reports/members-by-tier.csv", params=params, headers=admin.headers
        )
    assert refused.status_code == 403
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["tiers"] == ["green", "gold", "platinum"]
    days = {d["day"]: d for d in report["days"]}
    # Nothing before the first entry; the 5th is after the last snapshot: unknown yet.
    assert sorted(days) == ["2030-04-01", "2030-04-02", "2030-04-03", "2030-04-04"]
    for day in (date(2030, 4, 1), date(2030, 4, 2), date(2030, 4, 3)):
        held = (await sql.fetch(_HELD_BY_END_OF, before=_midnight_after(day)))[0]
        shown = days[day.isoformat()]
        assert (shown["points_available"], shown["points_pending"], shown["points_held"]) == (
            held["available"],
            held["pending"],
            held["held"],
        )
        assert shown["points_outstanding"] == held["available"] + held["pending"] + held["held"]
        assert (shown["members"], shown["tiers"]) == (None, None)  # no tier history
    assert days["2030-04-02"]["points_outstanding"] == days["2030-04-01"]["points_outstanding"] > 0
    today = days["2030-04-04"]
    held = (await sql.fetch(_HELD_NOW))[0]
    assert (today["points_available"], today["points_pending"], today["points_held"]) == (
        held["available"],
        held["pending"],
        held["held"],
    )
    assert (today["members"], today["tiers"]) == (2, {"green": 1, "gold": 1, "platinum": 0})

    rows = list(csv.DictReader(io.StringIO(liability.text)))
    assert [(r["day"], int(r["points_outstanding"])) for r in rows] == [
        (d["day"], d["points_outstanding"]) for d in report["days"]
    ]
    assert list(csv.DictReader(io.StringIO(tiers.text))) == [
        {"day": "2030-04-04", "members": "2", "green": "1", "gold": "1", "platinum": "0"}
    ]

    # An hour later the day's row is taken again: the sale since is in it.
    with at(now + timedelta(minutes=30)):
        assert (await sell(client, till, second, 20000)).status_code == 201
    later = now + timedelta(seconds=SNAPSHOT_EVERY_S)
    assert await take_snapshot(now=later) == 1
    with at(later):
        again = await client.get(
            "/v1/admin/reports/program-days",
            params={"from": "2030-04-04", "to": "2030-04-04"},
            headers=(await hire(client, "admin")).headers,
        )
    held = (await sql.fetch(_HELD_NOW))[0]
    outstanding = again.json()["days"][0]["points_outstanding"]
    assert outstanding == held["available"] + held["pending"] + held["held"]
    assert outstanding > today["points_outstanding"]
