"""The migration that puts campaigns in local time moves existing data without changing its
meaning (db/migrations/db_2026_12_07t00_10_00_000000.py).

Its statements are run over the tests' database, which already has the columns (as the
schema test runs them over the declared tables), with campaigns written the old way.
"""

from __future__ import annotations

import importlib
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import msgspec

from backend.campaigns.targeting import Hours, Targeting
from db.pool import engine
from db.tables import Campaign, Member, MemberOffer
from tests.conftest import LiveServer
from tests.factories import log_in

migration = importlib.import_module("db.migrations.db_2026_12_07t00_10_00_000000")
STORE = "00000000-0000-4000-8000-000000000001"
NOW = datetime(2026, 12, 1, tzinfo=UTC)


async def campaign_with(targeting: dict[str, Any], **fields: Any) -> uuid.UUID:
    campaign = Campaign(
        name="old",
        kind=fields.pop("kind", "bonus"),
        rule=fields.pop("rule", {"type": "bonus", "points": 1, "min_amount": 1}),
        targeting=targeting,
        status="active",
        created_at=NOW,
        updated_at=NOW,
        **fields,
    )
    await campaign.save()
    return campaign.id


async def targeting_of(campaign_id: uuid.UUID) -> dict[str, Any]:
    row = (
        await Campaign.select(Campaign.targeting)
        .where(Campaign.id == campaign_id)
        .first()
        .output(load_json=True)
    )
    assert row is not None
    targeting: dict[str, Any] = row["targeting"]
    return targeting


def utc_rule_applies(targeting: Targeting, at: datetime) -> bool:
    """How days and hours were read before: both on the UTC clock, of the moment itself."""
    at = at.astimezone(UTC)
    if targeting.days_of_week and at.weekday() not in targeting.days_of_week:
        return False
    return targeting.hours is None or targeting.hours.contains(at.time().replace(tzinfo=None))


async def test_hours_stated_in_utc_move_to_the_program_zones_wall_clock() -> None:
    cases = {
        await campaign_with({"days_of_week": [0], "hours": {"from": "04:00", "to": "08:00"}}): {
            "days_of_week": [0],
            "hours": {"from": "07:00", "to": "11:00"},
        },
        await campaign_with({"days_of_week": [6], "hours": {"from": "22:00", "to": "23:00"}}): {
            "days_of_week": [0],
            "hours": {"from": "01:00", "to": "02:00"},
        },
        await campaign_with(
            {"days_of_week": [5, 6], "hours": {"from": "21:30", "to": "23:45"}, "tiers": ["gold"]}
        ): {
            "days_of_week": [0, 6],
            "hours": {"from": "00:30", "to": "02:45"},
            "tiers": ["gold"],
        },
        await campaign_with({"hours": {"from": "22:00", "to": "02:00"}}): {
            "hours": {"from": "01:00", "to": "05:00"},
        },
        await campaign_with({"days_of_week": [1, 2]}): {"days_of_week": [1, 2]},
        await campaign_with({"store_ids": [STORE]}): {"store_ids": [STORE]},
    }
    await engine().run_ddl(migration.move_hours_sql(3 * 60))
    for campaign_id, expected in cases.items():
        assert await targeting_of(campaign_id) == expected


async def test_moved_hours_mean_what_they_meant_in_the_program_zone() -> None:
    moscow = ZoneInfo("Europe/Moscow")  # UTC+3 all year
    windows = [
        {"days_of_week": [0, 2], "hours": {"from": "04:00", "to": "08:00"}},
        {"days_of_week": [6], "hours": {"from": "21:00", "to": "23:59"}},
        {"days_of_week": [3], "hours": {"from": "00:00", "to": "02:30"}},
        {"hours": {"from": "20:00", "to": "23:00"}},
    ]
    before = {await campaign_with(w): msgspec.convert(w, Targeting) for w in windows}
    await engine().run_ddl(migration.move_hours_sql(3 * 60))
    week = [
        datetime(2026, 11, 30, tzinfo=UTC) + timedelta(minutes=m) for m in range(0, 7 * 1440, 5)
    ]
    for campaign_id, old in before.items():
        new = msgspec.convert(await targeting_of(campaign_id), Targeting)
        for at in week:
            assert new.applies_at(STORE, at, moscow) == utc_rule_applies(old, at), (old, new, at)


async def test_a_zone_west_of_utc_moves_the_days_back() -> None:
    monday_early = await campaign_with(
        {"days_of_week": [0], "hours": {"from": "03:00", "to": "05:00"}}
    )
    await engine().run_ddl(migration.move_hours_sql(-5 * 60))
    assert await targeting_of(monday_early) == {
        "days_of_week": [6],
        "hours": {"from": "22:00", "to": "00:00"},
    }
    moved = msgspec.convert(await targeting_of(monday_early), Targeting)
    assert moved.hours == Hours(from_="22:00", to="00:00")
    sunday_late = datetime.combine(date(2026, 11, 29), time(23, 0), ZoneInfo("Etc/GMT+5"))
    assert moved.applies_at(STORE, sunday_late, ZoneInfo("Etc/GMT+5"))


async def test_the_whole_migration_runs_over_the_current_schema_and_moves_birthdays(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    birthday = {"type": "birthday", "points": 40, "window_days": 3}
    yearly = await campaign_with({}, kind="birthday", rule=birthday, per_member_limit=1)
    capped = await campaign_with({}, kind="birthday", rule=birthday, per_member_limit=2)
    mornings = await campaign_with({"hours": {"from": "04:00", "to": "08:00"}})
    new_year = await log_in(client, live_server.sms)
    leap = await log_in(client, live_server.sms)
    never = await log_in(client, live_server.sms)
    for member, born, zone in (
        (new_year, date(1990, 12, 31), "Europe/Kaliningrad"),
        (leap, date(2000, 2, 29), None),
        (never, None, None),
    ):
        await Member.update({Member.birth_date: born, Member.time_zone: zone}).where(
            Member.id == uuid.UUID(member.member_id)
        )
    paid = [
        # 2 January 2027, 23:30 UTC: 3 January in Kaliningrad, the birthday of 2026.
        (new_year, datetime(2027, 1, 2, 23, 30, tzinfo=UTC)),
        # 1 March 2027 in Moscow (the program's zone): 29 February kept on 1 March.
        (leap, datetime(2027, 2, 28, 22, 0, tzinfo=UTC)),
        (never, datetime(2027, 1, 2, tzinfo=UTC)),
    ]
    for member, at in paid:
        await MemberOffer(
            campaign=yearly,
            member=uuid.UUID(member.member_id),
            status="used",
            uses=1,
            created_at=at,
            updated_at=at,
        ).save()
    for statement in migration.FORWARDS_SQL:
        await engine().run_ddl(statement)

    limits = await Campaign.select(Campaign.id, Campaign.per_member_limit)
    assert {row["id"]: row["per_member_limit"] for row in limits} == {
        yearly: None,  # the once-for-good default: now once per birthday
        capped: 2,
        mornings: None,
    }
    offset = migration.offset_minutes(migration.program_time_zone())
    start = (4 * 60 + offset) % 1440
    assert (await targeting_of(mornings))["hours"]["from"] == f"{start // 60:02d}:{start % 60:02d}"
    counted = await MemberOffer.select(
        MemberOffer.member, MemberOffer.period_start, MemberOffer.period_uses
    )
    assert {(str(r["member"]), r["period_start"], r["period_uses"]) for r in counted} == {
        (new_year.member_id, date(2026, 12, 31), 1),
        (leap.member_id, date(2027, 3, 1), 1),
        (never.member_id, None, 1),
    }
