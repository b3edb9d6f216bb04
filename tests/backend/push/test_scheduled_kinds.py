"""The daily notices: points about to expire and a birthday, each on the member's own local
morning (11:00), wherever they are; a missed run catches up the same local day; the kind's
preference, marketing consent (birthday), quiet hours and the daily cap are honoured; a run
again queues nothing twice; the worker delivers them to the fake FCM."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
import time_machine

from backend.campaigns.catalogue import LiveCampaign
from backend.campaigns.kinds import Birthday
from backend.campaigns.targeting import Segment, Targeting
from backend.loyalty.rules import ProgramRules, publish_rules
from backend.push.daily_cap import lock_member_day
from backend.push.queue import PushPolicy, deliver_push_due
from backend.push.scheduled_kinds import born_on, mornings_due, queue_daily_notices, treat
from backend.push.scheduled_texts import birthday, points_expiring
from db import sql
from db.pool import engine
from tests.backend.campaigns.helpers import launch
from tests.backend.campaigns.test_engine import campaign as live
from tests.backend.push.opening import consent_to_push
from tests.backend.push.test_sale_push import push_services
from tests.conftest import LiveServer
from tests.factories import LoggedInMember, SignedInStaff, grant, log_in

# Granted at 06:00 UTC on 10 March with points expiring after 10 days: on 20 March, 08:00 in
# Kaliningrad (UTC+2) and 16:00 in Vladivostok (UTC+10).
GRANTED = datetime(2027, 3, 10, 6, tzinfo=UTC)
WEST, EAST = "Europe/Kaliningrad", "Asia/Vladivostok"


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2027, 3, day, hour, minute, tzinfo=UTC)


async def member_with_a_phone(
    client: httpx.AsyncClient, sms: Any, *, time_zone: str, points: int = 0, **profile: object
) -> LoggedInMember:
    """A member in ``time_zone`` with an Android phone (FCM), Russian texts, default quiet
    hours (22:00-08:00), and ``points`` granted now."""
    member = await log_in(client, sms)
    changed = await client.patch(
        "/v1/me", headers=member.headers, json={"time_zone": time_zone, **profile}
    )
    assert changed.status_code == 200, changed.text
    token = f"android-{uuid.uuid4().hex}:APA91b" + "x" * 60
    added = await client.post(
        "/v1/me/devices", headers=member.headers, json={"provider": "fcm", "token": token}
    )
    assert added.status_code == 201, added.text
    if points:
        await grant(member.member_id, points)
    return member


async def notifications(
    client: httpx.AsyncClient, member: LoggedInMember, body: dict[str, object]
) -> None:
    response = await client.put("/v1/me/notifications", headers=member.headers, json=body)
    assert response.status_code == 200, response.text


async def queued() -> list[dict[str, Any]]:
    rows = await sql.fetch(
        "SELECT member, collapse_key, next_attempt_at, notification->>'title' AS title,"
        " notification->>'body' AS body"
        " FROM push_delivery ORDER BY created_at, collapse_key"
    )
    return [dict(row) for row in rows]


@asynccontextmanager
async def on_the_grant_day() -> AsyncIterator[None]:
    """The clock at GRANTED (ticking), points expiring ten days after they are granted."""
    with time_machine.travel(GRANTED, tick=True):
        await publish_rules(ProgramRules(points_expire_after_days=10), staff_id=uuid.uuid4())
        yield


async def test_each_member_is_told_on_their_own_morning_and_the_worker_delivers_it(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    async with push_services() as push:
        async with on_the_grant_day():
            west = await member_with_a_phone(client, live_server.sms, time_zone=WEST, points=21)
            east = await member_with_a_phone(client, live_server.sms, time_zone=EAST, points=300)
        # 14 March 00:30 UTC: 10:30 in Vladivostok, 02:30 in Kaliningrad; nobody yet (and on
        # 12 March 20 March was eight days away).
        with time_machine.travel(utc(14, 0, 30), tick=True):
            assert await queue_daily_notices() == 0
        # 11:00 in Vladivostok: the east member only, once however many runs.
        with time_machine.travel(utc(14, 1) + timedelta(seconds=30), tick=True):
            assert await queue_daily_notices() == 1
            assert await queue_daily_notices() == 0
        with time_machine.travel(utc(14, 8, 59), tick=True):
            assert await queue_daily_notices() == 0
        # 11:00 in Kaliningrad: the west member.
        with time_machine.travel(utc(14, 9, 0) + timedelta(seconds=30), tick=True):
            assert await queue_daily_notices() == 1
            assert await queue_daily_notices() == 0
            told = await queued()
            assert [(row["member"], row["title"]) for row in told] == [
                (uuid.UUID(east.member_id), "300 баллов сгорят 20 марта"),
                (uuid.UUID(west.member_id), "21 балл сгорит 20 марта"),
            ]
            assert [row["collapse_key"] for row in told] == [
                f"points_expiring:{east.member_id}:2027-03-20",
                f"points_expiring:{west.member_id}:2027-03-20",
            ]
            assert await deliver_push_due(push.providers, PushPolicy()) == 2
        # The next mornings: the same expiry date is not told again.
        with time_machine.travel(utc(15, 10), tick=True):
            assert await queue_daily_notices() == 0
    received = sorted(message["payload"]["notification"]["title"] for message in push.fcm.received)
    assert received == ["21 балл сгорит 20 марта", "300 баллов сгорят 20 марта"]
    data = push.fcm.received[0]["payload"]["data"]
    assert data["kind"] == "points_expiring" and data["expires_on"] == "2027-03-20"


async def test_a_missed_run_catches_up_the_same_local_day_and_a_day_gone_is_not_told(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    async with on_the_grant_day():
        await member_with_a_phone(client, live_server.sms, time_zone=WEST, points=5)
        east = await member_with_a_phone(
            client, live_server.sms, time_zone=EAST, birth_date="1990-03-14"
        )
        await consent_to_push(client, east)
    # A run at 08:00 UTC on 13 March, then the scheduler is down until 15:00 UTC on 14 March:
    # 17:00 in Kaliningrad, still 14 March there (told); 01:00 on 15 March in Vladivostok,
    # the birthday (14 March) is gone there: not told at night about a day past.
    with time_machine.travel(utc(13, 8), tick=True):
        assert await queue_daily_notices() == 0
    with time_machine.travel(utc(14, 15), tick=True):
        assert await queue_daily_notices() == 1
    assert [row["title"] for row in await queued()] == ["5 баллов сгорят 20 марта"]


async def test_the_preference_off_tells_nothing_and_a_birthday_needs_the_consent(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    async with on_the_grant_day():
        off = await member_with_a_phone(client, live_server.sms, time_zone=WEST, points=40)
        await notifications(client, off, {"kinds": {"points_expiring": False}})
        on = await member_with_a_phone(client, live_server.sms, time_zone=WEST, points=41)
        born = "1991-03-14"
        unasked = await member_with_a_phone(
            client, live_server.sms, time_zone=WEST, birth_date=born
        )
        consented = await member_with_a_phone(
            client, live_server.sms, time_zone=WEST, birth_date=born
        )
        await consent_to_push(client, consented)
        unwanted = await member_with_a_phone(
            client, live_server.sms, time_zone=WEST, birth_date=born
        )
        await consent_to_push(client, unwanted)
        await notifications(client, unwanted, {"kinds": {"birthday": False}})
    with time_machine.travel(utc(14, 9, 1), tick=True):
        assert await queue_daily_notices() == 2
    told = {(str(row["member"]), row["title"]) for row in await queued()}
    assert told == {
        (on.member_id, "41 балл сгорит 20 марта"),
        (consented.member_id, "С днём рождения!"),  # noqa: RUF001 (Russian text)
    }
    assert unasked.member_id not in {member for member, _ in told}


async def test_a_consented_birthday_is_told_with_its_treat_quiet_hours_and_the_daily_cap(
    client: httpx.AsyncClient, live_server: LiveServer, admin: SignedInStaff
) -> None:
    birthday_campaign = {"type": "birthday", "points": 50, "window_days": 3}
    await launch(client, admin, name="День рождения", rule=birthday_campaign)
    async with on_the_grant_day():
        member = await member_with_a_phone(
            client, live_server.sms, time_zone=WEST, points=2, birth_date="1992-03-14"
        )
        await consent_to_push(client, member)
        # Quiet until 12:30 on their clock; one notification a day.
        await notifications(
            client, member, {"language": "en", "quiet_hours": {"start": "22:00", "end": "12:30"}}
        )
    with time_machine.travel(utc(14, 9, 1), tick=True):
        assert await queue_daily_notices(daily_cap=1) == 2
        assert await queue_daily_notices(daily_cap=1) == 0
    told = {row["collapse_key"]: row for row in await queued()}
    expiring = told[f"points_expiring:{member.member_id}:2027-03-20"]
    assert expiring["title"] == "2 points expire on 20 March"
    assert expiring["next_attempt_at"] == utc(14, 10, 30)  # 12:30 in Kaliningrad
    greeting = told[f"birthday:{member.member_id}:2027"]
    assert greeting["title"] == "Happy birthday!"
    assert greeting["body"] == "Our gift: 50 points with a purchase until 17 March"
    assert greeting["next_attempt_at"] == utc(15, 10, 30)  # over the cap: tomorrow


@pytest.mark.parametrize(
    ("points", "title"),
    [
        (1, "1 балл сгорит 12 декабря"),
        (2, "2 балла сгорят 12 декабря"),
        (5, "5 баллов сгорят 12 декабря"),
        (11, "11 баллов сгорят 12 декабря"),
        (21, "21 балл сгорит 12 декабря"),
        (300, "300 баллов сгорят 12 декабря"),
    ],
)
def test_the_russian_plural_forms(points: int, title: str) -> None:
    notice = points_expiring(
        member_id=uuid.uuid4(), points=points, expires_on=date(2027, 12, 12), language="ru"
    )
    assert notice.title == title


def test_english_texts() -> None:
    member_id = uuid.uuid4()
    one = points_expiring(member_id=member_id, points=1, expires_on=date(2027, 1, 3), language="en")
    assert one.title == "1 point expires on 3 January"
    treat_text = birthday(
        member_id=member_id,
        year=2027,
        language="ru",
        treat_points=50,
        treat_until=date(2027, 3, 17),
    )
    assert treat_text.body == "Наш подарок — 50 баллов за покупку до 17 марта"
    assert treat_text.collapse_key == f"birthday:{member_id}:2027"
    today = birthday(member_id=member_id, year=2027, language="en", treat_points=1)
    assert today.body == "Our gift: 1 point with a purchase today"


def test_the_birthday_treat_is_the_campaign_the_member_is_in() -> None:
    def campaign(targeting: Targeting, status: str = "active") -> LiveCampaign:
        return live(Birthday(points=50, window_days=3), targeting=targeting, status=status)

    at = utc(14, 9)
    gold = campaign(Targeting(tiers=["gold"]))
    regulars = campaign(Targeting(segment=Segment(min_visits=5)))
    everyone = campaign(Targeting())
    assert treat([gold, regulars, everyone], "gold", at) is gold
    assert treat([gold, regulars, everyone], "green", at) is everyone
    assert treat([gold, regulars, campaign(Targeting(), "paused")], "green", at) is None


def test_29_february_is_kept_on_1_march_in_a_common_year() -> None:
    assert born_on(date(2027, 3, 1)) == [(3, 1), (2, 29)]
    assert born_on(date(2028, 2, 29)) == [(2, 29)]
    assert born_on(date(2028, 3, 1)) == [(3, 1)]


def test_a_zones_morning_is_due_once_between_two_runs() -> None:
    due = mornings_due(utc(14, 0, 59), utc(14, 1, 1))
    assert EAST in due[date(2027, 3, 14)]
    assert WEST not in [name for names in due.values() for name in names]
    assert EAST not in mornings_due(utc(14, 1, 1), utc(14, 2)).get(date(2027, 3, 14), [])


async def test_a_member_whose_cap_the_feed_is_counting_is_told_by_the_next_run(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    with time_machine.travel(utc(13, 8), tick=True):
        member = await member_with_a_phone(
            client, live_server.sms, time_zone=WEST, birth_date="1990-03-14"
        )
        await consent_to_push(client, member)
        assert await queue_daily_notices() == 0
    held, release = asyncio.Event(), asyncio.Event()

    async def feed() -> None:  # the push feed's transaction, counting the member's day
        async with engine().transaction():
            await lock_member_day(uuid.UUID(member.member_id))
            held.set()
            await release.wait()

    with time_machine.travel(utc(14, 9, 0) + timedelta(seconds=30), tick=True):
        feeding = asyncio.create_task(feed())
        await held.wait()
        # Not waited for (the run holds other members' locks: a deadlock), not skipped: the
        # morning stays due (the mark does not move) and the next run tells them.
        assert await queue_daily_notices() == 0
        release.set()
        await feeding
        assert await queue_daily_notices() == 1
        assert [row["collapse_key"] for row in await queued()] == [
            f"birthday:{member.member_id}:2027"
        ]
