"""Wall clocks and business days in named zones, DST changes included (Europe/Berlin: clocks
go forward 02:00 -> 03:00 on 28 March 2027 and back 03:00 -> 02:00 on 31 October 2027)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from backend.errors import ValidationFailed
from backend.local_time import StoreClock, instant_of, local_moment, zone, zone_named

BERLIN = zone("Europe/Berlin")


def test_a_zone_the_database_lacks_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationFailed) as refused:
        zone_named("Europe/Atlantis", field="time_zone")
    assert refused.value.extra == {"field": "time_zone"}
    assert "Europe/Atlantis" in refused.value.detail
    assert zone_named("Asia/Vladivostok", field="time_zone").key == "Asia/Vladivostok"


def test_a_wall_time_that_exists_is_its_instant() -> None:
    assert instant_of(datetime(2027, 1, 4, 8, 0), zone("Asia/Vladivostok")) == datetime(
        2027, 1, 3, 22, 0, tzinfo=UTC
    )


def test_a_skipped_wall_time_begins_when_the_clock_jumps_past_it() -> None:
    # 02:30 never shows in Berlin on 28 March 2027: the clock goes 01:59 CET -> 03:00 CEST.
    jump = datetime(2027, 3, 28, 1, 0, tzinfo=UTC)
    assert instant_of(datetime(2027, 3, 28, 2, 30), BERLIN) == jump
    assert instant_of(datetime(2027, 3, 28, 2, 0), BERLIN) == jump
    assert instant_of(datetime(2027, 3, 28, 3, 0), BERLIN) == jump


def test_a_repeated_wall_time_is_its_first_occurrence() -> None:
    # 02:30 shows twice on 31 October 2027: at 00:30 UTC (CEST) and 01:30 UTC (CET).
    assert instant_of(datetime(2027, 10, 31, 2, 30), BERLIN) == datetime(
        2027, 10, 31, 0, 30, tzinfo=UTC
    )


def test_a_moment_named_in_a_skipped_hour_is_refused() -> None:
    with pytest.raises(ValidationFailed) as refused:
        local_moment(datetime(2027, 3, 28, 2, 30), BERLIN, field="starts_at_local")
    assert refused.value.extra == {"field": "starts_at_local"}
    assert local_moment(datetime(2027, 3, 28, 3, 30), BERLIN, field="x") == datetime(
        2027, 3, 28, 1, 30, tzinfo=UTC
    )


def test_the_business_day_is_the_local_date() -> None:
    kaliningrad, vladivostok = (
        StoreClock.of("Europe/Kaliningrad"),
        StoreClock.of("Asia/Vladivostok"),
    )
    at = datetime(2027, 1, 3, 22, 30, tzinfo=UTC)  # Monday 00:30 and 08:30 local
    assert kaliningrad.business_day(at) == date(2027, 1, 4)
    assert vladivostok.business_day(at) == date(2027, 1, 4)
    earlier = datetime(2027, 1, 3, 21, 30, tzinfo=UTC)
    assert kaliningrad.business_day(earlier) == date(2027, 1, 3)  # 23:30 local
    assert vladivostok.business_day(earlier) == date(2027, 1, 4)  # 07:30 local


def test_a_day_start_hour_keeps_the_small_hours_in_the_day_before() -> None:
    late_shop = StoreClock.of("Europe/Moscow", day_starts_at=4)
    at_two = datetime(2027, 1, 4, 23, 0, tzinfo=UTC)  # 02:00 on the 5th in Moscow
    at_five = datetime(2027, 1, 5, 2, 0, tzinfo=UTC)  # 05:00 on the 5th
    assert late_shop.business_day(at_two) == date(2027, 1, 4)
    assert late_shop.business_day(at_five) == date(2027, 1, 5)
    start, end = late_shop.day_bounds(date(2027, 1, 4))
    assert (start, end) == (
        datetime(2027, 1, 4, 1, 0, tzinfo=UTC),
        datetime(2027, 1, 5, 1, 0, tzinfo=UTC),
    )


def test_days_on_which_clocks_change_are_23_and_25_hours_long() -> None:
    berlin = StoreClock(zone=BERLIN)
    spring = berlin.day_bounds(date(2027, 3, 28))
    autumn = berlin.day_bounds(date(2027, 10, 31))
    assert (spring[1] - spring[0]).total_seconds() == 23 * 3600
    assert (autumn[1] - autumn[0]).total_seconds() == 25 * 3600
    # Every instant of the day belongs to it, the repeated hour's second pass included.
    assert berlin.business_day(datetime(2027, 10, 31, 1, 30, tzinfo=UTC)) == date(2027, 10, 31)
    assert berlin.business_day(autumn[1]) == date(2027, 11, 1)
