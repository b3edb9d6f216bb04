"""Campaigns in local time through the API, with the clock controlled: hours on each store's
wall clock, schedules given in a named zone, limits per day of the member's calendar under
parallel sales, and a birthday once a year."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest

from db.tables import Campaign, MemberOffer
from tests.backend.campaigns.helpers import LATTE, create, launch
from tests.clock import at, utc
from tests.conftest import LiveServer
from tests.factories import (
    LoggedInMember,
    SignedInStaff,
    Till,
    hire,
    log_in,
    open_till,
    post_as,
    purchase_body,
    sold,
)

MORNING_BONUS = {"type": "bonus", "points": 25, "category": "coffee"}
WEEKDAY_MORNINGS = {"days_of_week": [0, 1, 2, 3, 4], "hours": {"from": "07:00", "to": "11:00"}}


async def bonuses(client: httpx.AsyncClient, till: Till, member: LoggedInMember) -> list[Any]:
    """A latte bought by ``member`` at ``till``: the campaigns that applied, by name."""
    receipt = await sold(client, till, member.card_number, amount=20000, items=[LATTE])
    return [offer["name"] for offer in receipt["offers_applied"]]


async def admin_till_member(
    client: httpx.AsyncClient, live_server: LiveServer, time_zone: str
) -> tuple[SignedInStaff, Till, LoggedInMember]:
    """Who each test here needs: an admin, a till of a store on ``time_zone``'s clock, and a
    member logged in."""
    admin = await hire(client, "admin")
    till = await open_till(time_zone=time_zone)
    return admin, till, await log_in(client, live_server.sms)


async def a_birthday_campaign(
    client: httpx.AsyncClient, live_server: LiveServer, name: str, *, born: str, window_days: int
) -> tuple[Till, LoggedInMember]:
    """A till in Kaliningrad and a member born on ``born`` (YYYY-MM-DD), with the birthday
    campaign ``name`` (40 points, ``window_days`` either side) launched for the chain."""
    admin, till, member = await admin_till_member(client, live_server, "Europe/Kaliningrad")
    answer = await client.patch("/v1/me", json={"birth_date": born}, headers=member.headers)
    assert answer.status_code == 200, answer.text
    rule = {"type": "birthday", "points": 40, "window_days": window_days}
    await launch(client, admin, name=name, rule=rule)
    return till, member


async def weekday_mornings_east_and_west(
    client: httpx.AsyncClient, live_server: LiveServer
) -> tuple[LoggedInMember, Till, Till]:
    """ "Weekday mornings" launched for the chain, with a member and a till in Kaliningrad and
    one in Vladivostok (eight hours apart)."""
    admin = await hire(client, "admin")
    kaliningrad = await open_till(time_zone="Europe/Kaliningrad")
    vladivostok = await open_till(time_zone="Asia/Vladivostok")
    member = await log_in(client, live_server.sms)
    await launch(
        client, admin, name="Weekday mornings", rule=MORNING_BONUS, targeting=WEEKDAY_MORNINGS
    )
    return member, kaliningrad, vladivostok


async def offer_names(client: httpx.AsyncClient, member: LoggedInMember) -> list[str]:
    offers = (await client.get("/v1/me/offers", headers=member.headers)).json()["items"]
    return [offer["name"] for offer in offers]


async def test_weekday_mornings_apply_where_it_is_morning_on_the_stores_clock(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    # Tuesday 2 March 2027, 06:00 UTC: 08:00 in Kaliningrad (UTC+2), 16:00 in Vladivostok.
    with at(utc(2027, 3, 2, 6, 0)):
        member, kaliningrad, vladivostok = await weekday_mornings_east_and_west(client, live_server)
        assert await bonuses(client, kaliningrad, member) == ["Weekday mornings"]
        assert await bonuses(client, vladivostok, member) == []
    # Sunday 7 March 2027, 22:00 UTC: Monday 08:00 in Vladivostok, Sunday 00:00 in Kaliningrad.
    with at(utc(2027, 3, 7, 22, 0)):
        assert await bonuses(client, vladivostok, member) == ["Weekday mornings"]
        assert await bonuses(client, kaliningrad, member) == []


async def test_a_checkout_quotes_by_the_same_clock(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    with at(utc(2027, 3, 2, 6, 0)):
        member, kaliningrad, vladivostok = await weekday_mornings_east_and_west(client, live_server)
        quotes = {}
        for zone, till in (("Kaliningrad", kaliningrad), ("Vladivostok", vladivostok)):
            body = purchase_body(member.card_number, amount=20000, items=[LATTE])
            opened = await post_as(client, till, "/v1/checkouts", body)
            assert opened.status_code == 201, opened.text
            quotes[zone] = [o["name"] for o in opened.json()["offers"]]
        assert quotes == {"Kaliningrad": ["Weekday mornings"], "Vladivostok": []}


async def test_a_night_window_belongs_to_the_evening_it_starts(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    friday_nights = {"days_of_week": [4], "hours": {"from": "22:00", "to": "02:00"}}
    # Friday 5 March 2027, 21:30 UTC is Friday 23:30 in Kaliningrad.
    with at(utc(2027, 3, 5, 21, 30)):
        admin, till, member = await admin_till_member(client, live_server, "Europe/Kaliningrad")
        await launch(client, admin, name="Late", rule=MORNING_BONUS, targeting=friday_nights)
        assert await bonuses(client, till, member) == ["Late"]
    # Saturday 01:30 in Kaliningrad: still Friday's night.
    with at(utc(2027, 3, 5, 23, 30)):
        assert await bonuses(client, till, member) == ["Late"]
    # Saturday 23:30: Saturday's night, not Friday's.
    with at(utc(2027, 3, 6, 21, 30)):
        assert await bonuses(client, till, member) == []


async def test_a_schedule_given_on_the_wall_clock_of_a_zone(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    spring = {
        "name": "Spring in Vladivostok",
        "rule": MORNING_BONUS,
        "starts_at_local": "2027-03-01T07:00:00",
        "ends_at_local": "2027-03-08T00:00:00",
        "time_zone": "Asia/Vladivostok",
    }
    with at(utc(2027, 2, 20, 12, 0)):
        admin, till, member = await admin_till_member(client, live_server, "Asia/Vladivostok")
        campaign = await create(client, admin, **spring)
        assert campaign["starts_at"] == "2027-02-28T21:00:00Z"
        assert campaign["ends_at"] == "2027-03-07T14:00:00Z"
        assert campaign["starts_at_local"] == "2027-03-01T07:00:00"
        assert campaign["ends_at_local"] == "2027-03-08T00:00:00"
        assert campaign["time_zone"] == "Asia/Vladivostok"
        # A draft's schedule is replaced the same way, and shown back on the same clock.
        edited = await client.put(
            f"/v1/admin/campaigns/{campaign['id']}",
            json={**spring, "per_member_limit": 3, "per_member_period": "week"},
            headers=admin.headers,
        )
        assert edited.status_code == 200, edited.text
        assert {k: edited.json()[k] for k in ("starts_at", "per_member_period", "time_zone")} == {
            "starts_at": "2027-02-28T21:00:00Z",
            "per_member_period": "week",
            "time_zone": "Asia/Vladivostok",
        }
        scheduled = await client.post(
            f"/v1/admin/campaigns/{campaign['id']}/schedule", headers=admin.headers
        )
        assert scheduled.status_code == 200, scheduled.text
    with at(utc(2027, 2, 28, 20, 59)):
        assert await bonuses(client, till, member) == []  # 06:59 in Vladivostok
    with at(utc(2027, 2, 28, 21, 0)):
        assert await bonuses(client, till, member) == ["Spring in Vladivostok"]
    with at(utc(2027, 3, 7, 14, 0)):
        assert await bonuses(client, till, member) == []  # midnight: it has ended


async def test_once_a_day_holds_under_20_parallel_sales_and_a_new_local_day_starts_again(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    # 13:30 UTC is 23:30 in Vladivostok; an hour later it is the next day there, not in UTC.
    with at(utc(2027, 3, 2, 13, 30)):
        admin, till, member = await admin_till_member(client, live_server, "Asia/Vladivostok")
        campaign = await launch(
            client,
            admin,
            name="Once a day",
            rule=MORNING_BONUS,
            per_member_limit=1,
            per_member_period="day",
        )
        applied = await asyncio.gather(*(bonuses(client, till, member) for _ in range(20)))
        assert sorted(applied) == [[]] * 19 + [["Once a day"]]
        assert "Once a day" not in await offer_names(client, member)  # used up today
    with at(utc(2027, 3, 2, 14, 30)):
        member = await log_in(client, live_server.sms, member.phone)
        assert "Once a day" in await offer_names(client, member)  # a new day for the member
        applied = await asyncio.gather(*(bonuses(client, till, member) for _ in range(3)))
        assert sorted(applied) == [[], [], ["Once a day"]]
    counted = await MemberOffer.select(
        MemberOffer.uses, MemberOffer.period_start, MemberOffer.period_uses
    ).where(MemberOffer.campaign == uuid.UUID(campaign["id"]))
    assert counted == [{"uses": 2, "period_start": datetime(2027, 3, 3).date(), "period_uses": 1}]


async def test_a_birthday_pays_once_a_year_on_the_members_calendar(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    with at(utc(2027, 12, 1, 12, 0)):
        till, member = await a_birthday_campaign(
            client, live_server, "Happy birthday", born="1990-12-31", window_days=3
        )
        assert await bonuses(client, till, member) == []  # a month early
    with at(utc(2027, 12, 29, 12, 0)):
        member = await log_in(client, live_server.sms, member.phone)
        assert "Happy birthday" in await offer_names(client, member)
        assert await bonuses(client, till, member) == ["Happy birthday"]
        assert await bonuses(client, till, member) == []
        assert "Happy birthday" not in await offer_names(client, member)  # paid this birthday
    with at(utc(2028, 1, 2, 12, 0)):
        assert await bonuses(client, till, member) == []  # the same birthday, a new year
    # 27 December, 22:30 UTC is 28 December, 00:30 in Kaliningrad: next year's window there.
    with at(utc(2028, 12, 27, 22, 30)):
        assert await bonuses(client, till, member) == ["Happy birthday"]


async def test_a_birthday_on_29_february_in_a_common_year(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    with at(utc(2027, 2, 1, 12, 0)):
        till, member = await a_birthday_campaign(
            client, live_server, "Leap", born="2000-02-29", window_days=0
        )
    with at(utc(2027, 2, 28, 12, 0)):
        assert await bonuses(client, till, member) == []
    with at(utc(2027, 3, 1, 12, 0)):
        assert await bonuses(client, till, member) == ["Leap"]
        assert await bonuses(client, till, member) == []


BASE = {"name": "Bad", "rule": MORNING_BONUS}


def named_field(problem: dict[str, Any]) -> str | None:
    """The field a problem names: the service's ``extra.field``, or the key of the request
    body's first decoding error."""
    if "extra" in problem:
        field: str | None = problem["extra"].get("field")
        return field
    return problem["errors"][0]["key"] if problem.get("errors") else None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {**BASE, "starts_at_local": "2027-03-01T07:00:00", "time_zone": "Mars/Olympus"},
            "time_zone",
        ),
        ({**BASE, "targeting": {"hours": {"from": "09:00", "to": "09:00"}}}, "targeting.hours"),
        ({**BASE, "per_member_limit": 0, "per_member_period": "day"}, "per_member_limit"),
        ({**BASE, "per_member_period": "day"}, "per_member_period"),
        ({**BASE, "per_member_limit": 1, "per_member_period": "fortnight"}, "per_member_period"),
        (
            {**BASE, "starts_at_local": "2027-03-28T02:30:00", "time_zone": "Europe/Berlin"},
            "starts_at_local",
        ),
        ({**BASE, "starts_at_local": "2027-03-01T07:00:00"}, "time_zone"),
        (
            {
                **BASE,
                "starts_at_local": "2027-03-01T07:00:00",
                "starts_at": "2027-03-01T07:00:00Z",
                "time_zone": "UTC",
            },
            "starts_at_local",
        ),
        (
            {**BASE, "ends_at_local": "2027-03-01T07:00:00+02:00", "time_zone": "UTC"},
            "ends_at_local",
        ),
        (
            {
                **BASE,
                "starts_at_local": "2027-03-02T07:00:00",
                "ends_at_local": "2027-03-02T07:00:00",
                "time_zone": "Asia/Vladivostok",
            },
            "ends_at_local",
        ),
        (
            {
                "name": "Birthday",
                "rule": {"type": "birthday", "points": 1},
                "per_member_limit": 1,
                "per_member_period": "year",
            },
            "per_member_period",
        ),
    ],
)
async def test_bad_schedules_and_limits_are_refused_naming_the_field(
    client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    with at(utc(2027, 2, 1, 12, 0)):
        admin = await hire(client, "admin")
        response = await client.post("/v1/admin/campaigns", json=body, headers=admin.headers)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert named_field(response.json()) == field, response.text
    assert await Campaign.count() == 0
