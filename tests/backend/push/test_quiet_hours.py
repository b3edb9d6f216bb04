"""Quiet hours defer, never drop: a push queued in the member's quiet hours (their local
time; 22:00-08:00 unless they chose others) is due when the window ends, and is then sent."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import httpx
import time_machine

from backend.push.queue import PushPolicy, deliver_push_due, feed_push
from backend.push.quiet_hours import QuietHours
from db import sql
from tests.backend.push.opening import MOSCOW, moscow, noon_with_a_browser
from tests.backend.push.test_sale_push import push_services
from tests.conftest import LiveServer
from tests.factories import buy, log_in, open_till, purchase_body

BERLIN = ZoneInfo("Europe/Berlin")
VLADIVOSTOK = ZoneInfo("Asia/Vladivostok")


def test_the_default_window_spans_midnight_in_local_time() -> None:
    quiet = QuietHours()
    assert quiet.due_at(moscow(15, 23, 30), MOSCOW) == moscow(16, 8)  # evening: tomorrow
    assert quiet.due_at(moscow(16, 3), MOSCOW) == moscow(16, 8)  # night: this morning
    assert quiet.due_at(moscow(16, 8), MOSCOW) == moscow(16, 8)  # the end is not quiet
    assert quiet.due_at(moscow(16, 21, 59), MOSCOW) == moscow(16, 21, 59)
    # 23:30 in Moscow is 06:30 in Vladivostok: quiet there until 08:00 local.
    assert quiet.due_at(moscow(15, 23, 30), VLADIVOSTOK) == datetime(
        2027, 3, 16, 8, tzinfo=VLADIVOSTOK
    ).astimezone(UTC)


def test_a_window_within_a_day_and_no_window() -> None:
    siesta = QuietHours(start=13 * 60, end=15 * 60 + 30)
    assert siesta.due_at(moscow(16, 14), MOSCOW) == moscow(16, 15, 30)
    assert siesta.due_at(moscow(16, 12, 59), MOSCOW) == moscow(16, 12, 59)
    never = QuietHours(start=0, end=0)
    assert never.due_at(moscow(16, 3), MOSCOW) == moscow(16, 3)


def test_an_end_the_clocks_skip_is_when_they_jump_past_it() -> None:
    # Berlin skips 02:00-03:00 on 28 March 2027: a window ending 02:30 ends at 03:00 CEST.
    quiet = QuietHours(start=22 * 60, end=2 * 60 + 30)
    at = datetime(2027, 3, 27, 23, tzinfo=BERLIN)
    assert quiet.due_at(at, BERLIN) == datetime(2027, 3, 28, 1, tzinfo=UTC)


async def test_a_sale_late_at_night_is_pushed_when_quiet_hours_end(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    async with push_services() as push:
        with time_machine.travel(moscow(15, 23, 30), tick=True):
            till = await open_till()
            member = await log_in(client, live_server.sms)
            for body in (
                {"provider": "webpush", "subscription": push.subscription},
                {"provider": "fcm", "token": "quiet-hours-phone:APA91b" + "q" * 40},
            ):
                added = await client.post("/v1/me/devices", headers=member.headers, json=body)
                assert added.status_code == 201, added.text
            await buy(client, till, purchase_body(member.card_number))
            assert await feed_push() == 2
            assert await deliver_push_due(push.providers, PushPolicy()) == 0

        queued = await sql.fetch("SELECT status, next_attempt_at FROM push_delivery")
        assert [(row["status"], row["next_attempt_at"]) for row in queued] == [
            ("pending", moscow(16, 8)),
            ("pending", moscow(16, 8)),
        ]
        with time_machine.travel(moscow(16, 7, 59), tick=False):
            assert await deliver_push_due(push.providers, PushPolicy()) == 0
        with time_machine.travel(moscow(16, 8), tick=True):
            assert await deliver_push_due(push.providers, PushPolicy()) == 2

    assert len(push.web_push.received) == 1 and len(push.fcm.received) == 1


async def test_a_member_chooses_the_window_and_their_zone_decides(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    async with noon_with_a_browser(client, live_server.sms) as (_push, till, member):
        # Noon in Moscow is 19:00 in Vladivostok, where the member lives.
        moved = await client.patch(
            "/v1/me", headers=member.headers, json={"time_zone": "Asia/Vladivostok"}
        )
        assert moved.status_code == 200, moved.text
        chosen = await client.put(
            "/v1/me/notifications",
            headers=member.headers,
            json={"quiet_hours": {"start": "18:30", "end": "21:00"}},
        )
        assert chosen.status_code == 200, chosen.text
        assert chosen.json()["quiet_hours"] == {"start": "18:30", "end": "21:00"}
        refused = await client.put(
            "/v1/me/notifications",
            headers=member.headers,
            json={"quiet_hours": {"start": "24:00", "end": "08:00"}},
        )
        assert refused.status_code == 400
        await buy(client, till, purchase_body(member.card_number))
        assert await feed_push() == 1

        (queued,) = await sql.fetch("SELECT next_attempt_at FROM push_delivery")
        assert queued["next_attempt_at"] == datetime(2027, 3, 16, 21, tzinfo=VLADIVOSTOK)
