"""The forecast of a campaign being written is what the engine would have awarded: the same
sales, at the same clock times, made once without the campaign (then forecast) and once on a
fresh chain with the campaign published, give the same sales touched and the same points."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import msgspec

from backend.campaigns.forecast import forecast_draft
from backend.campaigns.schemas import CampaignIn
from db.tables import Campaign
from tests.backend.campaigns.helpers import CROISSANT, launch, line
from tests.clock import at, utc
from tests.conftest import LiveServer
from tests.factories import (
    LoggedInMember,
    SignedInStaff,
    Till,
    buy,
    hire,
    log_in,
    open_till,
    purchase_body,
)

LATTE = line("latte", "coffee", 25000)

DOUBLE_CROISSANTS = {
    "name": "Double points on croissants, weekday mornings",
    "rule": {"type": "multiplier", "factor": 2, "categories": ["bakery"]},
    "targeting": {"days_of_week": [0, 1, 2, 3, 4], "hours": {"from": "07:00", "to": "11:00"}},
}
# Once a day per member, five in all.
BAKERY_BONUS = {
    "name": "50 for a pastry",
    "rule": {"type": "bonus", "points": 50, "category": "bakery"},
    "per_member_limit": 1,
    "per_member_period": "day",
    "total_limit": 5,
}
# Half as much again on the whole check, for those who have bought before: the check's points
# (amount-only sales too) and the visits counted from the stored sales.
REGULARS = {
    "name": "Regulars",
    "rule": {"type": "multiplier", "factor": 1.5},
    "targeting": {"segment": {"min_visits": 1}},
}
DRAFTS = {"double": DOUBLE_CROISSANTS, "bonus": BAKERY_BONUS, "regulars": REGULARS}


@dataclass(frozen=True)
class Sale:
    at: datetime  # UTC
    member: str  # a, b or c
    store: str  # moscow or vladivostok
    items: tuple[dict[str, Any], ...]  # none: a sale by amount only

    @property
    def amount(self) -> int:
        return sum(item["unit_price"] * item["quantity"] for item in self.items) or 30000


# Moscow is UTC+3, Vladivostok UTC+10; 1 March 2027 is a Monday.
SALES = (
    # Monday 08:30 in Moscow: a weekday morning there.
    Sale(datetime(2027, 3, 1, 5, 30, tzinfo=UTC), "a", "moscow", (CROISSANT, LATTE)),
    # Monday 15:40 and 16:00 in Vladivostok: afternoon; b's second pastry of the day.
    Sale(datetime(2027, 3, 1, 5, 40, tzinfo=UTC), "b", "vladivostok", (CROISSANT,)),
    Sale(datetime(2027, 3, 1, 6, 0, tzinfo=UTC), "b", "vladivostok", (CROISSANT,)),
    # Tuesday 08:30 in Vladivostok (still Monday in UTC): morning there.
    Sale(datetime(2027, 3, 1, 22, 30, tzinfo=UTC), "b", "vladivostok", (CROISSANT, CROISSANT)),
    # Tuesday 01:40 in Moscow: night.
    Sale(datetime(2027, 3, 1, 22, 40, tzinfo=UTC), "c", "moscow", (CROISSANT,)),
    # Wednesday 09:00 in Moscow, but no pastry; then a sale by amount only.
    Sale(datetime(2027, 3, 3, 6, 0, tzinfo=UTC), "a", "moscow", (LATTE,)),
    Sale(datetime(2027, 3, 3, 6, 30, tzinfo=UTC), "c", "moscow", ()),
    # Thursday 10:30 in Moscow (the bonus's fifth and last), then 11:30 (past the window).
    Sale(datetime(2027, 3, 4, 7, 30, tzinfo=UTC), "c", "moscow", (CROISSANT,)),
    Sale(datetime(2027, 3, 4, 8, 30, tzinfo=UTC), "a", "moscow", (CROISSANT,)),
    # Friday 10:30 in Vladivostok for a Moscow member.
    Sale(datetime(2027, 3, 5, 0, 30, tzinfo=UTC), "a", "vladivostok", (CROISSANT, LATTE)),
    # Saturday 08:30 in Moscow: not a weekday.
    Sale(datetime(2027, 3, 6, 5, 30, tzinfo=UTC), "b", "moscow", (CROISSANT,)),
)
FORECAST_AT = datetime(2027, 3, 6, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Chain:
    tills: dict[str, Till]
    members: dict[str, LoggedInMember]


async def open_chain(client: httpx.AsyncClient, live_server: LiveServer) -> Chain:
    tills = {
        "moscow": await open_till(time_zone="Europe/Moscow"),
        "vladivostok": await open_till(time_zone="Asia/Vladivostok"),
    }
    members = {name: await log_in(client, live_server.sms) for name in "abc"}
    return Chain(tills, members)


async def make_sales(client: httpx.AsyncClient, chain: Chain) -> list[dict[str, Any]]:
    """``SALES`` at their clock times: the till's answers."""
    answers = []
    for sale in SALES:
        with at(sale.at):
            items = {"items": list(sale.items)} if sale.items else {}
            body = purchase_body(
                chain.members[sale.member].card_number, amount=sale.amount, **items
            )
            response = await buy(client, chain.tills[sale.store], body)
            assert response.status_code == 201, response.text
            answers.append(response.json())
    return answers


async def forecast(
    client: httpx.AsyncClient, admin: SignedInStaff, draft: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post("/v1/admin/campaigns/forecast", json=draft, headers=admin.headers)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def awarded(answers: list[dict[str, Any]], campaign_id: str) -> dict[str, int]:
    """What the campaign added to the sales: how many it touched, its points, whose."""
    touched = [
        (answer["member_id"], offer["points"])
        for answer in answers
        for offer in answer["offers_applied"]
        if offer["campaign_id"] == campaign_id
    ]
    return {
        "sales_touched": len(touched),
        "points": sum(points for _, points in touched),
        "members_reached": len({member for member, _ in touched}),
    }


def replayed(forecast: dict[str, Any]) -> dict[str, int]:
    return {key: forecast[key] for key in ("sales_touched", "points", "members_reached")}


async def test_the_forecast_is_what_the_engine_awards_on_the_same_sales(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    with at(utc(2027, 3, 1, 5, 0)):
        history = await open_chain(client, live_server)
    await make_sales(client, history)
    with at(FORECAST_AT):
        admin = await hire(client, "admin")
        before = await Campaign.count()
        forecasts = {name: await forecast(client, admin, draft) for name, draft in DRAFTS.items()}
        assert await Campaign.count() == before  # nothing saved
    for answer in forecasts.values():
        assert answer["sales_replayed"] == len(SALES)
        assert answer["complete"] is True
        # The per-day series adds up to the totals.
        assert sum(day["sales"] for day in answer["days"]) == answer["sales_touched"]
        assert sum(day["points"] for day in answer["days"]) == answer["points"]

    # A fresh chain, the same sales at the same clock times, the campaigns live.
    with at(utc(2027, 3, 1, 5, 0)):
        fresh = await open_chain(client, live_server)
        admin = await hire(client, "admin")
        published = {name: await launch(client, admin, **draft) for name, draft in DRAFTS.items()}
    answers = await make_sales(client, fresh)

    for name, campaign in published.items():
        assert replayed(forecasts[name]) == awarded(answers, campaign["id"]), name
    # What those are: the four weekday mornings in their stores' own zones with a pastry; the
    # bonus once a day per member (not b's second on Monday), and five in all.
    assert forecasts["double"]["sales_touched"] == 4
    assert forecasts["double"]["points"] > 0
    assert replayed(forecasts["bonus"]) == {"sales_touched": 5, "points": 250, "members_reached": 3}
    # Every sale but each member's first (a, b and c: three firsts).
    assert forecasts["regulars"]["sales_touched"] == len(SALES) - 3


async def test_a_forecast_reads_the_window_in_batches_up_to_its_cap(
    client: httpx.AsyncClient, live_server: LiveServer
) -> None:
    with at(utc(2027, 3, 1, 5, 0)):
        chain = await open_chain(client, live_server)
    # A sale from before the window, which the forecast leaves out.
    with at(utc(2027, 1, 20, 5, 0)):
        old = await buy(
            client, chain.tills["moscow"], purchase_body(chain.members["a"].card_number)
        )
        assert old.status_code == 201, old.text
    await make_sales(client, chain)
    draft = msgspec.convert(REGULARS, CampaignIn)
    with at(FORECAST_AT):
        whole = await forecast_draft(draft)
        # Two sales a read: the same answer, the window's end reached.
        paged = await forecast_draft(draft, batch_size=2)
        assert msgspec.structs.replace(paged, since=whole.since, until=whole.until) == whole
        capped = await forecast_draft(draft, batch_size=2, max_sales=5)
    assert whole.sales_replayed == len(SALES)
    assert whole.complete and whole.replayed_until is None
    # a's sale before the window is a visit: a's first sale in it is a regular's too.
    assert whole.sales_touched == len(SALES) - 2
    # The cap: the first five sales, and where it stopped.
    assert (capped.sales_replayed, capped.complete) == (5, False)
    assert capped.replayed_until is not None
    assert SALES[4].at <= capped.replayed_until < SALES[5].at
