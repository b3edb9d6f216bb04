"""Who and when a campaign is for: hours and weekdays on the store's wall clock, stores, tiers
and segments."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import msgspec
import pytest

from backend.campaigns.targeting import Hours, Segment, Targeting
from backend.errors import ValidationFailed
from tests.backend.campaigns.in_memory import shopper

MONDAY = datetime(2024, 1, 1, 10, 0, tzinfo=UTC)  # 1 January 2024 was a Monday
STORE = uuid.UUID("00000000-0000-4000-8000-000000000001")
OTHER_STORE = uuid.UUID("00000000-0000-4000-8000-000000000002")
IN_UTC = ZoneInfo("UTC")  # a store whose wall clock is UTC's
KALININGRAD = ZoneInfo("Europe/Kaliningrad")  # UTC+2
VLADIVOSTOK = ZoneInfo("Asia/Vladivostok")  # UTC+10
BERLIN = ZoneInfo("Europe/Berlin")  # CET/CEST: 02:00 -> 03:00 in March, 03:00 -> 02:00 in October
NEW_YORK = ZoneInfo("America/New_York")  # 02:00 -> 03:00 in March, 02:00 -> 01:00 in November
WEEKDAY_MORNINGS = Targeting(days_of_week=[0, 1, 2, 3, 4], hours=Hours(from_="07:00", to="11:00"))


def hours(from_: str, to: str) -> Hours:
    return Hours(from_=from_, to=to)


# Hours


def test_hours_include_from_and_exclude_to() -> None:
    morning = hours("07:00", "11:00")
    assert morning.contains(time(7, 0))
    assert morning.contains(time(10, 59, 59))
    assert not morning.contains(time(11, 0))
    assert not morning.contains(time(6, 59, 59))
    assert not morning.contains(time(23, 0))


def test_hours_across_midnight() -> None:
    night = hours("22:00", "02:00")
    assert night.contains(time(22, 0))
    assert night.contains(time(23, 59, 59))
    assert night.contains(time(0, 0))
    assert night.contains(time(1, 59, 59))
    assert not night.contains(time(2, 0))
    assert not night.contains(time(12, 0))
    assert not night.contains(time(21, 59, 59))


# Where and when


def test_empty_targeting_applies_everywhere_and_always() -> None:
    targeting = Targeting()
    for day in range(7):
        assert targeting.applies_at(
            str(uuid.uuid4()), MONDAY + timedelta(days=day, hours=day), IN_UTC
        )


def test_applies_at_the_listed_stores_only() -> None:
    targeting = Targeting(store_ids=[STORE])
    assert targeting.applies_at(str(STORE), MONDAY, IN_UTC)
    assert not targeting.applies_at(str(OTHER_STORE), MONDAY, IN_UTC)
    assert Targeting(store_ids=[STORE, OTHER_STORE]).applies_at(str(OTHER_STORE), MONDAY, IN_UTC)


def test_applies_on_the_listed_weekdays_with_0_for_monday() -> None:
    mondays = Targeting(days_of_week=[0])
    assert mondays.applies_at(str(STORE), MONDAY, IN_UTC)
    assert not mondays.applies_at(str(STORE), MONDAY + timedelta(days=1), IN_UTC)
    weekend = Targeting(days_of_week=[5, 6])
    assert not weekend.applies_at(str(STORE), MONDAY, IN_UTC)
    assert weekend.applies_at(str(STORE), MONDAY + timedelta(days=5), IN_UTC)  # Saturday
    assert weekend.applies_at(str(STORE), MONDAY + timedelta(days=6), IN_UTC)  # Sunday
    assert not weekend.applies_at(str(STORE), MONDAY + timedelta(days=7), IN_UTC)


def test_every_given_where_and_when_must_hold() -> None:
    targeting = Targeting(store_ids=[STORE], days_of_week=[0], hours=hours("09:00", "12:00"))
    assert targeting.applies_at(str(STORE), MONDAY, IN_UTC)
    assert not targeting.applies_at(str(OTHER_STORE), MONDAY, IN_UTC)
    assert not targeting.applies_at(str(STORE), MONDAY + timedelta(days=1), IN_UTC)
    assert not targeting.applies_at(str(STORE), MONDAY + timedelta(hours=3), IN_UTC)


def test_weekday_and_hours_are_judged_on_the_store_clock_whatever_the_zone_of_the_moment() -> None:
    moscow = timezone(timedelta(hours=3))
    at = datetime(2024, 1, 1, 2, 0, tzinfo=moscow)  # Sunday 31 December, 23:00 UTC
    sunday_late = Targeting(days_of_week=[6], hours=hours("22:00", "23:30"))
    assert sunday_late.applies_at(str(STORE), at, IN_UTC)
    assert not sunday_late.applies_at(str(STORE), at, ZoneInfo("Europe/Moscow"))  # Monday 02:00


# Local time: one campaign, every store on its own wall clock


def test_weekday_mornings_apply_only_where_it_is_08_00_local_at_the_same_instant() -> None:
    # Tuesday 2 January 2024, 06:00 UTC: 08:00 in Kaliningrad, 16:00 in Vladivostok.
    at = datetime(2024, 1, 2, 6, 0, tzinfo=UTC)
    assert WEEKDAY_MORNINGS.applies_at(str(STORE), at, KALININGRAD)
    assert not WEEKDAY_MORNINGS.applies_at(str(STORE), at, VLADIVOSTOK)
    # Monday 1 January 2024, 22:00 UTC: 08:00 on Tuesday in Vladivostok, 00:00 in Kaliningrad.
    at = datetime(2024, 1, 1, 22, 0, tzinfo=UTC)
    assert WEEKDAY_MORNINGS.applies_at(str(STORE), at, VLADIVOSTOK)
    assert not WEEKDAY_MORNINGS.applies_at(str(STORE), at, KALININGRAD)


def test_a_monday_morning_in_vladivostok_that_is_still_sunday_in_utc() -> None:
    at = datetime(2024, 1, 7, 22, 0, tzinfo=UTC)  # Sunday in UTC, Monday 08:00 in Vladivostok
    assert at.weekday() == 6
    assert WEEKDAY_MORNINGS.applies_at(str(STORE), at, VLADIVOSTOK)
    assert not WEEKDAY_MORNINGS.applies_at(str(STORE), at, KALININGRAD)  # Monday 00:00 there
    assert not WEEKDAY_MORNINGS.applies_at(str(STORE), at, IN_UTC)
    # Saturday 08:00 in Vladivostok (Friday 22:00 UTC): a weekday in UTC, not on the store's clock.
    saturday = datetime(2024, 1, 5, 22, 0, tzinfo=UTC)
    assert not WEEKDAY_MORNINGS.applies_at(str(STORE), saturday, VLADIVOSTOK)


def test_the_window_edges_are_the_local_ones() -> None:
    def at(hour: int, minute: int = 0) -> datetime:
        return datetime(2024, 1, 2, hour, minute, tzinfo=KALININGRAD)

    assert WEEKDAY_MORNINGS.applies_at(str(STORE), at(7), KALININGRAD)
    assert WEEKDAY_MORNINGS.applies_at(str(STORE), at(10, 59), KALININGRAD)
    assert not WEEKDAY_MORNINGS.applies_at(str(STORE), at(11), KALININGRAD)
    assert not WEEKDAY_MORNINGS.applies_at(str(STORE), at(6, 59), KALININGRAD)


def test_a_window_across_midnight_belongs_to_the_day_it_starts() -> None:
    monday_nights = Targeting(days_of_week=[0], hours=hours("22:00", "02:00"))

    def at(day: int, hour: int, minute: int = 0) -> datetime:
        return datetime(2024, 1, day, hour, minute, tzinfo=VLADIVOSTOK)  # 1 January: Monday

    assert monday_nights.applies_at(str(STORE), at(1, 22), VLADIVOSTOK)
    assert monday_nights.applies_at(str(STORE), at(1, 23, 59), VLADIVOSTOK)
    assert monday_nights.applies_at(str(STORE), at(2, 0), VLADIVOSTOK)  # Tuesday, after Monday's
    assert monday_nights.applies_at(str(STORE), at(2, 1, 59), VLADIVOSTOK)
    assert not monday_nights.applies_at(str(STORE), at(2, 2), VLADIVOSTOK)
    assert not monday_nights.applies_at(str(STORE), at(1, 1), VLADIVOSTOK)  # Sunday's night
    assert not monday_nights.applies_at(str(STORE), at(2, 22), VLADIVOSTOK)  # Tuesday's night
    assert not monday_nights.applies_at(str(STORE), at(1, 21, 59), VLADIVOSTOK)
    # The same instants read on another store's clock are other wall times.
    assert not monday_nights.applies_at(str(STORE), at(1, 22), KALININGRAD)  # Monday 14:00


def test_a_window_on_the_hour_clocks_skip_is_empty_that_day() -> None:
    # Berlin, Sunday 31 March 2024: 02:00 CET is 03:00 CEST (01:00 UTC).
    skipped = Targeting(hours=hours("02:00", "03:00"))
    half = Targeting(hours=hours("01:30", "02:30"))
    start = datetime(2024, 3, 30, 23, 0, tzinfo=UTC)  # 00:00 CET, Sunday
    minutes = [start + timedelta(minutes=m) for m in range(0, 6 * 60)]
    assert not [m for m in minutes if skipped.applies_at(str(STORE), m, BERLIN)]
    open_half = [m for m in minutes if half.applies_at(str(STORE), m, BERLIN)]
    assert (open_half[0], open_half[-1]) == (
        datetime(2024, 3, 31, 0, 30, tzinfo=UTC),  # 01:30 CET
        datetime(2024, 3, 31, 0, 59, tzinfo=UTC),  # 01:59 CET, then the clock shows 03:00
    )
    # The day before and after, the window is its full hour.
    for day in (30, 1):
        month = 3 if day == 30 else 4
        on_other_days = [
            m
            for m in range(24 * 60)
            if skipped.applies_at(
                str(STORE), datetime(2024, month, day, tzinfo=BERLIN) + timedelta(minutes=m), BERLIN
            )
        ]
        assert len(on_other_days) == 60


def test_the_hour_clocks_repeat_counts_once() -> None:
    # New York, Sunday 3 November 2024: 02:00 EDT (06:00 UTC) is 01:00 EST again.
    repeated = Targeting(hours=hours("01:00", "02:00"))
    start = datetime(2024, 11, 3, 4, 0, tzinfo=UTC)  # 00:00 EDT
    minutes = [start + timedelta(minutes=m) for m in range(0, 5 * 60)]
    inside = [m for m in minutes if repeated.applies_at(str(STORE), m, NEW_YORK)]
    assert len(inside) == 60
    assert (inside[0], inside[-1]) == (
        datetime(2024, 11, 3, 5, 0, tzinfo=UTC),  # 01:00 EDT, the first pass
        datetime(2024, 11, 3, 5, 59, tzinfo=UTC),
    )
    assert not repeated.applies_at(str(STORE), datetime(2024, 11, 3, 6, 30, tzinfo=UTC), NEW_YORK)
    # Berlin, Sunday 27 October 2024: 03:00 CEST (01:00 UTC) is 02:00 CET again; a window over
    # the repeated hour holds its first pass, and the wall times after it, once.
    over = Targeting(hours=hours("02:30", "04:00"))
    start = datetime(2024, 10, 26, 22, 0, tzinfo=UTC)  # 00:00 CEST
    inside = [
        m
        for m in (start + timedelta(minutes=i) for i in range(6 * 60))
        if over.applies_at(str(STORE), m, BERLIN)
    ]
    assert len(inside) == 30 + 60  # 02:30-03:00 CEST, then 03:00-04:00 CET
    assert inside[0] == datetime(2024, 10, 27, 0, 30, tzinfo=UTC)
    assert inside[30] == datetime(2024, 10, 27, 2, 0, tzinfo=UTC)


def test_days_alone_are_whole_local_days() -> None:
    sundays = Targeting(days_of_week=[6])
    saturday_night_utc = datetime(2024, 1, 6, 20, 0, tzinfo=UTC)  # Sunday 06:00 in Vladivostok
    assert sundays.applies_at(str(STORE), saturday_night_utc, VLADIVOSTOK)
    assert not sundays.applies_at(str(STORE), saturday_night_utc, KALININGRAD)


# Who


def test_empty_targeting_admits_everyone() -> None:
    assert Targeting().admits(shopper(), MONDAY)
    assert Targeting().admits(shopper(tier="gold", visits=0), MONDAY)


def test_admits_by_tier() -> None:
    targeting = Targeting(tiers=["platinum", "gold"])
    assert targeting.admits(shopper(tier="platinum"), MONDAY)
    assert targeting.admits(shopper(tier="gold"), MONDAY)
    assert not targeting.admits(shopper(tier="green"), MONDAY)


def test_segment_by_visits() -> None:
    regulars = Targeting(segment=Segment(min_visits=5))
    assert regulars.admits(shopper(visits=5), MONDAY)
    assert not regulars.admits(shopper(visits=4), MONDAY)
    newcomers = Targeting(segment=Segment(max_visits=0))
    assert newcomers.admits(shopper(visits=0), MONDAY)
    assert not newcomers.admits(shopper(visits=1), MONDAY)
    between = Targeting(segment=Segment(min_visits=2, max_visits=4))
    assert [between.admits(shopper(visits=v), MONDAY) for v in range(6)] == [
        False,
        False,
        True,
        True,
        True,
        False,
    ]


def test_segment_visited_within_days() -> None:
    recent = Targeting(segment=Segment(visited_within_days=7))
    assert recent.admits(shopper(last_visit_at=MONDAY - timedelta(days=1)), MONDAY)
    assert recent.admits(shopper(last_visit_at=MONDAY - timedelta(days=7)), MONDAY)
    too_long = MONDAY - timedelta(days=7, seconds=1)
    assert not recent.admits(shopper(last_visit_at=too_long), MONDAY)
    assert not recent.admits(shopper(last_visit_at=None, visits=0), MONDAY)


def test_segment_inactive_for_days() -> None:
    lapsed = Targeting(segment=Segment(inactive_for_days=30))
    assert lapsed.admits(shopper(last_visit_at=MONDAY - timedelta(days=30)), MONDAY)
    assert lapsed.admits(shopper(last_visit_at=MONDAY - timedelta(days=90)), MONDAY)
    almost = MONDAY - timedelta(days=30) + timedelta(seconds=1)
    assert not lapsed.admits(shopper(last_visit_at=almost), MONDAY)
    # A member who never visited counts as inactive (unlike a win-back, which needs a visit).
    assert lapsed.admits(shopper(last_visit_at=None, visits=0), MONDAY)


def test_segment_by_favourite_category() -> None:
    coffee_lovers = Targeting(segment=Segment(favourite_category="coffee"))
    assert coffee_lovers.admits(shopper(favourite_category="coffee"), MONDAY)
    assert not coffee_lovers.admits(shopper(favourite_category="tea"), MONDAY)
    assert not coffee_lovers.admits(shopper(favourite_category=None), MONDAY)


def test_tier_and_every_segment_criterion_must_hold() -> None:
    targeting = Targeting(
        tiers=["gold"],
        segment=Segment(min_visits=10, visited_within_days=30, favourite_category="coffee"),
    )
    fits = {
        "tier": "gold",
        "visits": 12,
        "last_visit_at": MONDAY - timedelta(days=3),
        "favourite_category": "coffee",
    }
    assert targeting.admits(shopper(**fits), MONDAY)
    for key, wrong in [
        ("tier", "platinum"),
        ("visits", 9),
        ("last_visit_at", MONDAY - timedelta(days=31)),
        ("favourite_category", "tea"),
    ]:
        assert not targeting.admits(shopper(**{**fits, key: wrong}), MONDAY), key


def test_admits_ignores_where_and_when() -> None:
    targeting = Targeting(store_ids=[STORE], days_of_week=[3], hours=hours("01:00", "02:00"))
    assert targeting.admits(shopper(), MONDAY)


# Checks


def test_check_refuses_hours_from_equal_to_to() -> None:
    with pytest.raises(ValidationFailed) as refused:
        Targeting(hours=hours("09:00", "09:00")).check()
    assert refused.value.extra == {"field": "targeting.hours"}
    Targeting(hours=hours("09:00", "09:01")).check()
    Targeting(hours=hours("23:00", "01:00")).check()


def test_check_refuses_min_visits_over_max_visits() -> None:
    with pytest.raises(ValidationFailed):
        Targeting(segment=Segment(min_visits=5, max_visits=4)).check()
    Targeting(segment=Segment(min_visits=4, max_visits=4)).check()


def test_visited_within_with_inactive_for_is_a_range_and_refused_only_when_empty() -> None:
    with pytest.raises(ValidationFailed):
        Targeting(segment=Segment(visited_within_days=7, inactive_for_days=30)).check()
    with pytest.raises(ValidationFailed):
        Segment(visited_within_days=7, inactive_for_days=7).check()
    Segment(visited_within_days=30, inactive_for_days=7).check()  # last visit 7-30 days ago


def test_check_accepts_sensible_targeting() -> None:
    Targeting().check()
    Targeting(
        tiers=["gold"],
        store_ids=[STORE],
        days_of_week=[0, 6],
        hours=hours("07:00", "11:00"),
        segment=Segment(min_visits=1, max_visits=10, inactive_for_days=14),
    ).check()


# Audience


def test_everyone_when_neither_tiers_nor_a_segment_are_given() -> None:
    assert Targeting().everyone
    assert Targeting(store_ids=[STORE], days_of_week=[0], hours=hours("07:00", "11:00")).everyone
    assert not Targeting(tiers=["gold"]).everyone
    assert not Targeting(segment=Segment(min_visits=1)).everyone


# JSON


def test_targeting_decodes_from_json() -> None:
    raw = msgspec.json.encode(
        {
            "tiers": ["platinum", "gold"],
            "store_ids": [str(STORE)],
            "days_of_week": [0, 6],
            "hours": {"from": "22:00", "to": "02:00"},
            "segment": {"min_visits": 1, "inactive_for_days": 30, "favourite_category": "coffee"},
        }
    )
    targeting = msgspec.json.decode(raw, type=Targeting)
    assert targeting == Targeting(
        tiers=["platinum", "gold"],
        store_ids=[STORE],
        days_of_week=[0, 6],
        hours=hours("22:00", "02:00"),
        segment=Segment(min_visits=1, inactive_for_days=30, favourite_category="coffee"),
    )
    assert msgspec.json.decode(msgspec.json.encode(targeting), type=Targeting) == targeting
    assert msgspec.json.encode(Targeting()) == b"{}"
    assert msgspec.json.decode("{}", type=Targeting) == Targeting()


def test_hours_in_the_documented_form_decode() -> None:
    raw = '{"days_of_week": [0], "hours": {"from": "04:00", "to": "08:00"}}'
    targeting = msgspec.json.decode(raw, type=Targeting)
    assert targeting == Targeting(days_of_week=[0], hours=hours("04:00", "08:00"))
    assert msgspec.json.encode(targeting.hours) == b'{"from":"04:00","to":"08:00"}'


@pytest.mark.parametrize(
    "raw",
    [
        '{"tiers": ["silver"]}',
        '{"days_of_week": [7]}',
        '{"days_of_week": [-1]}',
        '{"store_ids": ["not-a-uuid"]}',
        '{"hours": {"from": "24:00", "to": "08:00"}}',
        '{"hours": {"from": "04:60", "to": "08:00"}}',
        '{"hours": {"from": "4:00", "to": "08:00"}}',
        '{"hours": {"from": "04:00:00", "to": "08:00:00"}}',
        '{"hours": {"from": "04:00"}}',
        '{"hours": {"from_": "04:00", "to": "08:00"}}',
        '{"hours": {"from": "04:00", "to": "08:00", "tz": "UTC"}}',
        '{"segment": {"min_visits": -1}}',
        '{"segment": {"visited_within_days": 0}}',
        '{"segment": {"inactive_for_days": 0}}',
        '{"segment": {"favourite_category": ""}}',
        '{"segment": {"max_visits": 3, "last_seen": 1}}',
        '{"timezone": "Europe/Moscow"}',
    ],
)
def test_targeting_refuses_unknown_fields_and_out_of_range_values(raw: str) -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(raw, type=Targeting)
