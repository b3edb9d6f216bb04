"""Which campaigns a sale gets (backend.campaigns.engine.evaluate), in memory."""

from __future__ import annotations

import dataclasses
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.campaigns.catalogue import LiveCampaign
from backend.campaigns.engine import Award, MemberUsage, evaluate
from backend.campaigns.kinds import (
    Basket,
    Birthday,
    Bonus,
    Multiplier,
    Rule,
    StampCard,
    Welcome,
    WinBack,
    kind_of,
)
from backend.campaigns.targeting import Targeting
from backend.local_time import StoreClock
from backend.sales.schemas import PurchaseItem
from tests.backend.campaigns.in_memory import COFFEE_CARD, COFFEE_REWARD, shopper

AT = datetime(2024, 3, 4, 10, 0, tzinfo=UTC)  # a Monday
STORE = uuid.UUID("00000000-0000-4000-8000-000000000001")
NO_USAGE = MemberUsage(activated=frozenset(), uses={})


def campaign(rule: Rule, *, name: str = "", **fields: Any) -> LiveCampaign:
    """A campaign with ``rule``, named after its kind unless ``name`` is given: active, for
    everyone, everywhere, always, unlimited, unless ``fields`` (LiveCampaign's) say
    otherwise."""
    plain = LiveCampaign(
        id=uuid.uuid4(),
        name=name or kind_of(rule),
        kind=kind_of(rule),
        rule=rule,
        targeting=Targeting(),
        status="active",
        starts_at=None,
        ends_at=None,
        priority=0,
        exclusive=False,
        requires_activation=False,
        per_member_limit=None,
        total_limit=None,
    )
    return msgspec.structs.replace(plain, **fields)


def in_catalogue_order(campaigns: list[LiveCampaign]) -> list[LiveCampaign]:
    """As the catalogue keeps them: priority, highest first, then age (list position)."""
    return sorted(campaigns, key=lambda c: -c.priority)


ITEMS = [
    PurchaseItem(sku="latte", name="Latte", category="coffee", quantity=2, unit_price=250),
    PurchaseItem(sku="bagel", name="Bagel", category="food", quantity=1, unit_price=500),
]


def basket(*, base_points: int = 100, at: datetime = AT, store: uuid.UUID = STORE) -> Basket:
    return Basket(
        store_id=str(store),
        clock=StoreClock.of("UTC"),
        at=at,
        amount=1000,
        items=ITEMS,
        base_points=base_points,
    )


SHOPPER = shopper(
    tier="platinum",
    visits=10,
    last_visit_at=AT - timedelta(days=60),
    favourite_category="coffee",
    birth_date=date(1990, 3, 5),
)


def awarded(awards: list[Award]) -> list[tuple[str, int, int]]:
    return [(a.campaign.name, a.points, a.stamps) for a in awards]


def run(
    campaigns: list[LiveCampaign], usage: MemberUsage = NO_USAGE, *, base_points: int = 100
) -> list[tuple[str, int, int]]:
    return awarded(evaluate(campaigns, basket(base_points=base_points), SHOPPER, usage))


# Order


def test_campaigns_are_taken_by_priority_highest_first() -> None:
    campaigns = in_catalogue_order(
        [
            campaign(Bonus(points=1, sku="latte"), name="low", priority=-5),
            campaign(Bonus(points=2, sku="latte"), name="high", priority=10),
            campaign(Bonus(points=3, sku="latte"), name="middle", priority=0),
        ]
    )
    assert [name for name, _, _ in run(campaigns)] == ["high", "middle", "low"]


def test_equal_priority_keeps_the_catalogue_order() -> None:
    campaigns = in_catalogue_order(
        [
            campaign(Bonus(points=1, sku="latte"), name="oldest", priority=1),
            campaign(Bonus(points=2, sku="latte"), name="top", priority=2),
            campaign(Bonus(points=3, sku="latte"), name="middle", priority=1),
            campaign(Bonus(points=4, sku="latte"), name="newest", priority=1),
        ]
    )
    assert [name for name, _, _ in run(campaigns)] == ["top", "oldest", "middle", "newest"]


# Exclusive


def test_an_exclusive_campaign_after_one_that_applied_is_skipped() -> None:
    campaigns = in_catalogue_order(
        [
            campaign(Bonus(points=10, sku="latte"), name="first", priority=5),
            campaign(Bonus(points=500, sku="latte"), name="exclusive", priority=1, exclusive=True),
            campaign(Bonus(points=20, sku="latte"), name="after", priority=0),
        ]
    )
    assert run(campaigns) == [("first", 10, 0), ("after", 20, 0)]


def test_an_exclusive_campaign_that_applies_stops_everything_after_it() -> None:
    campaigns = in_catalogue_order(
        [
            campaign(Bonus(points=500, sku="latte"), name="exclusive", priority=5, exclusive=True),
            campaign(Bonus(points=10, sku="latte"), name="bonus", priority=1),
            campaign(Multiplier(factor=2), name="double", priority=0),
            campaign(Bonus(points=7, sku="latte"), name="other", priority=0, exclusive=True),
        ]
    )
    assert run(campaigns) == [("exclusive", 500, 0)]


def test_an_exclusive_campaign_that_awards_nothing_stops_nothing() -> None:
    campaigns = [
        campaign(Bonus(points=500, sku="espresso"), name="no espresso", exclusive=True),
        campaign(Bonus(points=10, sku="latte"), name="bonus"),
    ]
    assert run(campaigns) == [("bonus", 10, 0)]


def test_an_exclusive_campaign_not_considered_stops_nothing() -> None:
    campaigns = [
        campaign(Bonus(points=500, sku="latte"), name="paused", exclusive=True, status="paused"),
        campaign(Bonus(points=10, sku="latte"), name="bonus"),
    ]
    assert run(campaigns) == [("bonus", 10, 0)]


def test_the_first_exclusive_campaign_that_applies_wins() -> None:
    campaigns = [
        campaign(Bonus(points=1, sku="latte"), name="first", exclusive=True),
        campaign(Bonus(points=999, sku="latte"), name="second", exclusive=True),
    ]
    assert run(campaigns) == [("first", 1, 0)]


def test_a_stamp_card_that_stamps_counts_as_applied_for_an_exclusive_one() -> None:
    campaigns = [
        campaign(COFFEE_CARD, name="card"),
        campaign(Bonus(points=500, sku="latte"), name="exclusive", exclusive=True),
    ]
    assert run(campaigns) == [("card", 0, 2)]


# In effect


def test_campaigns_not_in_effect_are_skipped() -> None:
    rule = Bonus(points=10, sku="latte")
    campaigns = [
        campaign(rule, name="draft", status="draft"),
        campaign(rule, name="paused", status="paused"),
        campaign(rule, name="ended", status="ended"),
        campaign(rule, name="not started", status="scheduled", starts_at=AT + timedelta(seconds=1)),
        campaign(rule, name="over", ends_at=AT),
        campaign(rule, name="long over", ends_at=AT - timedelta(days=1)),
        campaign(rule, name="started", status="scheduled", starts_at=AT),
        campaign(rule, name="active", starts_at=AT - timedelta(days=1), ends_at=AT + timedelta(1)),
        campaign(rule, name="open-ended"),
    ]
    assert [name for name, _, _ in run(campaigns)] == ["started", "active", "open-ended"]


def test_targeting_decides_where_when_and_who() -> None:
    rule = Bonus(points=10, sku="latte")
    campaigns = [
        campaign(rule, name="other store", targeting=Targeting(store_ids=[uuid.uuid4()])),
        campaign(rule, name="this store", targeting=Targeting(store_ids=[STORE])),
        campaign(rule, name="tuesdays", targeting=Targeting(days_of_week=[1])),
        campaign(rule, name="mondays", targeting=Targeting(days_of_week=[0])),
        campaign(rule, name="gold", targeting=Targeting(tiers=["gold"])),
        campaign(rule, name="platinum", targeting=Targeting(tiers=["platinum"])),
    ]
    assert [name for name, _, _ in run(campaigns)] == ["this store", "mondays", "platinum"]


# Activation and limits


def test_a_campaign_that_needs_activation_applies_only_once_activated() -> None:
    needs = campaign(Bonus(points=10, sku="latte"), name="needs", requires_activation=True)
    assert run([needs]) == []
    other = MemberUsage(activated=frozenset({str(uuid.uuid4())}), uses={})
    assert run([needs], other) == []
    activated = MemberUsage(activated=frozenset({str(needs.id)}), uses={})
    assert run([needs], activated) == [("needs", 10, 0)]


def test_per_member_limit_counts_this_members_uses() -> None:
    limited = campaign(Bonus(points=10, sku="latte"), name="twice", per_member_limit=2)
    assert run([limited]) == [("twice", 10, 0)]
    assert run([limited], MemberUsage(frozenset(), {str(limited.id): 1})) == [("twice", 10, 0)]
    assert run([limited], MemberUsage(frozenset(), {str(limited.id): 2})) == []
    assert run([limited], MemberUsage(frozenset(), {str(uuid.uuid4()): 5})) == [("twice", 10, 0)]


def test_no_per_member_limit_means_no_limit() -> None:
    unlimited = campaign(Bonus(points=10, sku="latte"), name="always")
    assert run([unlimited], MemberUsage(frozenset(), {str(unlimited.id): 10_000})) == [
        ("always", 10, 0)
    ]


def test_a_limit_per_day_counts_the_uses_of_the_members_local_day() -> None:
    daily = campaign(
        Bonus(points=10, sku="latte"), name="daily", per_member_limit=1, per_member_period="day"
    )
    key = str(daily.id)
    # Monday 4 March 2024, 10:00 UTC: Monday in Vladivostok too (20:00).
    vladivostok = dataclasses.replace(SHOPPER, time_zone="Asia/Vladivostok")
    today, yesterday = date(2024, 3, 4), date(2024, 3, 3)

    def applied(usage: MemberUsage, at: datetime = AT) -> list[tuple[str, int, int]]:
        return awarded(evaluate([daily], basket(at=at), vladivostok, usage))

    used_today = MemberUsage(frozenset(), {key: 7}, {key: (today, 1)})
    assert applied(used_today) == []
    assert applied(MemberUsage(frozenset(), {key: 7}, {key: (yesterday, 1)})) == [("daily", 10, 0)]
    # 14:00 UTC is Tuesday 00:00 in Vladivostok: a new day for the member, whatever UTC says.
    assert applied(used_today, AT + timedelta(hours=4)) == [("daily", 10, 0)]
    assert evaluate([daily], basket(at=AT + timedelta(hours=4)), vladivostok, used_today)[
        0
    ].period == date(2024, 3, 5)
    # Without a zone of their own the member is on the store's calendar (UTC here).
    assert awarded(evaluate([daily], basket(at=AT + timedelta(hours=4)), SHOPPER, used_today)) == []


@pytest.mark.parametrize(
    ("period", "start"),
    [
        ("day", date(2024, 3, 7)),
        ("week", date(2024, 3, 4)),  # ISO weeks start on Monday
        ("month", date(2024, 3, 1)),
        ("year", date(2024, 1, 1)),
    ],
)
def test_a_limit_per_period_counts_from_the_periods_first_day(period: str, start: date) -> None:
    limited = campaign(Bonus(points=10, sku="latte"), per_member_limit=2, per_member_period=period)
    key = str(limited.id)
    thursday = datetime(2024, 3, 7, 12, 0, tzinfo=UTC)
    awards = evaluate([limited], basket(at=thursday), SHOPPER, NO_USAGE)
    assert [a.period for a in awards] == [start]
    once = MemberUsage(frozenset(), {key: 40}, {key: (start, 1)})
    assert len(evaluate([limited], basket(at=thursday), SHOPPER, once)) == 1
    twice = MemberUsage(frozenset(), {key: 40}, {key: (start, 2)})
    assert evaluate([limited], basket(at=thursday), SHOPPER, twice) == []


def test_a_birthday_pays_once_per_birthday_and_again_the_next_year() -> None:
    new_year = campaign(Birthday(points=40, window_days=3), name="birthday")
    key = str(new_year.id)
    member = dataclasses.replace(SHOPPER, birth_date=date(1990, 12, 31))
    on_30_december = datetime(2026, 12, 30, 12, 0, tzinfo=UTC)
    on_2_january = datetime(2027, 1, 2, 12, 0, tzinfo=UTC)
    first = evaluate([new_year], basket(at=on_30_december), member, NO_USAGE)
    assert [(a.points, a.period) for a in first] == [(40, date(2026, 12, 31))]
    paid = MemberUsage(frozenset(), {key: 1}, {key: (date(2026, 12, 31), 1)})
    # Across the new year it is still the same birthday.
    assert evaluate([new_year], basket(at=on_2_january), member, paid) == []
    next_year = datetime(2027, 12, 31, 12, 0, tzinfo=UTC)
    again = evaluate([new_year], basket(at=next_year), member, paid)
    assert [(a.points, a.period) for a in again] == [(40, date(2027, 12, 31))]


def test_a_birthday_is_the_members_local_date() -> None:
    on_the_day = campaign(Birthday(points=40, window_days=0), name="birthday")
    born = dataclasses.replace(SHOPPER, birth_date=date(1990, 3, 5))
    late_on_4_march_utc = datetime(2024, 3, 4, 20, 0, tzinfo=UTC)  # 5 March in Vladivostok
    assert evaluate([on_the_day], basket(at=late_on_4_march_utc), born, NO_USAGE) == []
    in_vladivostok = dataclasses.replace(born, time_zone="Asia/Vladivostok")
    assert len(evaluate([on_the_day], basket(at=late_on_4_march_utc), in_vladivostok, NO_USAGE))


def test_total_limit_is_not_the_engines_business() -> None:
    limited = campaign(Bonus(points=10, sku="latte"), name="once", total_limit=1)
    assert run([limited], MemberUsage(frozenset(), {str(limited.id): 5})) == [("once", 10, 0)]


# Kinds


def test_welcome_and_reward_are_never_awarded_at_the_till() -> None:
    campaigns = [
        campaign(Welcome(points=300), name="welcome", exclusive=True),
        campaign(COFFEE_REWARD, name="reward"),
    ]
    assert run(campaigns) == []


def test_a_stamp_card_awards_stamps_and_no_points() -> None:
    card = campaign(COFFEE_CARD)
    (award,) = evaluate([card], basket(), SHOPPER, NO_USAGE)
    assert (award.campaign, award.points, award.stamps) == (card, 0, 2)
    tea = campaign(StampCard(category="tea", stamps_needed=6, reward_max_value=300))
    assert evaluate([tea], basket(), SHOPPER, NO_USAGE) == []


def test_campaigns_that_award_nothing_are_left_out() -> None:
    campaigns = [
        campaign(Bonus(points=10, sku="espresso"), name="no espresso"),
        campaign(WinBack(inactive_days=90, points=100), name="not away long enough"),
        campaign(Birthday(points=50, window_days=0), name="not the day"),
        campaign(Multiplier(factor=2, categories=["tea"]), name="no tea"),
    ]
    assert run(campaigns) == []
    assert run([campaign(Multiplier(factor=5), name="x5")], base_points=0) == []


def test_each_purchase_kind_awards_on_the_check() -> None:
    campaigns = [
        campaign(Multiplier(factor=2, categories=["coffee"]), name="coffee x2"),
        campaign(Bonus(points=25, category="food"), name="food bonus"),
        campaign(COFFEE_CARD, name="card"),
        campaign(WinBack(inactive_days=30, points=200), name="win-back"),
        campaign(Birthday(points=50, window_days=1), name="birthday"),
    ]
    assert run(campaigns) == [
        ("coffee x2", 50, 0),
        ("food bonus", 25, 0),
        ("card", 0, 2),
        ("win-back", 200, 0),
        ("birthday", 50, 0),
    ]


def test_a_multiplier_multiplies_only_the_base_points_whatever_the_order() -> None:
    bonus = campaign(Bonus(points=50, sku="latte"), name="bonus")
    double = campaign(Multiplier(factor=2), name="double")
    assert run([bonus, double]) == [("bonus", 50, 0), ("double", 100, 0)]
    assert run([double, bonus]) == [("double", 100, 0), ("bonus", 50, 0)]
    triple = campaign(Multiplier(factor=3), name="triple")
    assert run([double, triple]) == [("double", 100, 0), ("triple", 200, 0)]


POOL = [
    campaign(Multiplier(factor=2), name="double"),
    campaign(Multiplier(factor=1.5, categories=["coffee"]), name="coffee x1.5"),
    campaign(Bonus(points=30, sku="latte"), name="latte bonus"),
    campaign(Bonus(points=40, min_amount=800), name="big check"),
    campaign(Bonus(points=99, sku="espresso"), name="no espresso"),
    campaign(COFFEE_CARD, name="card"),
    campaign(WinBack(inactive_days=30, points=200), name="win-back"),
    campaign(Birthday(points=50), name="birthday"),
    campaign(Welcome(points=300), name="welcome"),
    campaign(Bonus(points=5, sku="latte"), name="needs activation", requires_activation=True),
    campaign(Bonus(points=6, sku="latte"), name="used up", per_member_limit=1),
]
POOL_USAGE = MemberUsage(
    activated=frozenset({str(POOL[9].id)}), uses={str(POOL[9].id): 3, str(POOL[10].id): 1}
)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    order=st.permutations(POOL),
    base_points=st.integers(min_value=0, max_value=100_000),
    days_away=st.integers(min_value=0, max_value=400),
)
def test_the_order_of_equal_non_exclusive_campaigns_never_changes_an_amount(
    order: list[LiveCampaign], base_points: int, days_away: int
) -> None:
    member = shopper(last_visit_at=AT - timedelta(days=days_away), birth_date=date(1990, 3, 1))
    check = basket(base_points=base_points)

    def amounts(campaigns: list[LiveCampaign]) -> Counter[tuple[uuid.UUID, int, int]]:
        awards = evaluate(campaigns, check, member, POOL_USAGE)
        return Counter((a.campaign.id, a.points, a.stamps) for a in awards)

    expected = amounts(POOL)
    assert amounts(order) == expected
    names = {c.id: c.name for c in POOL}
    got = {names[cid]: points for (cid, points, _) in expected}
    assert got.get("double", 0) == base_points
    assert got.get("coffee x1.5", 0) == int(base_points * 500 // 1000 * 0.5)
    assert got["latte bonus"] == 30
    assert got["big check"] == 40
    assert "no espresso" not in got
    assert "welcome" not in got
    assert got["needs activation"] == 5
    assert "used up" not in got
    assert ("win-back" in got) == (days_away >= 30)
