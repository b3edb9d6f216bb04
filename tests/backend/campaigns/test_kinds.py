"""Each campaign kind on its own: what it awards for a check, and what it accepts as JSON."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import msgspec
import pytest

from backend.campaigns.kinds import (
    PURCHASE_KINDS,
    Basket,
    Birthday,
    Bonus,
    Multiplier,
    Reward,
    Rule,
    StampCard,
    Welcome,
    WinBack,
    amount_in,
    kind_of,
)
from backend.errors import ValidationFailed
from backend.local_time import StoreClock
from backend.sales.schemas import PurchaseItem
from tests.backend.campaigns.in_memory import COFFEE_CARD, COFFEE_REWARD, shopper

AT = datetime(2024, 3, 4, 10, 0, tzinfo=UTC)


def item(
    sku: str = "latte", category: str = "coffee", *, quantity: int = 1, unit_price: int = 100
) -> PurchaseItem:
    return PurchaseItem(
        sku=sku, name=sku.title(), category=category, quantity=quantity, unit_price=unit_price
    )


def basket(
    items: list[PurchaseItem] | None = None,
    *,
    base_points: int = 100,
    amount: int | None = None,
    at: datetime = AT,
) -> Basket:
    items = [item()] if items is None else items
    total = sum(i.quantity * i.unit_price for i in items) if amount is None else amount
    return Basket(
        store_id="s",
        clock=StoreClock.of("UTC"),
        at=at,
        amount=total,
        items=items,
        base_points=base_points,
    )


# Multiplier


def test_multiplier_on_the_whole_check_awards_the_extra_points() -> None:
    assert Multiplier(factor=2).award(basket(base_points=100), shopper()) == 100
    assert Multiplier(factor=3).award(basket(base_points=100), shopper()) == 200
    assert Multiplier(factor=1.5).award(basket(base_points=100), shopper()) == 50


def test_multiplier_rounds_the_extra_points_down() -> None:
    assert Multiplier(factor=1.5).award(basket(base_points=7), shopper()) == 3  # 3.5
    assert Multiplier(factor=1.5).award(basket(base_points=1), shopper()) == 0  # 0.5
    assert Multiplier(factor=2.5).award(basket(base_points=3), shopper()) == 4  # 4.5


def test_multiplier_rounding_is_exact_for_decimal_factors() -> None:
    assert Multiplier(factor=1.2).award(basket(base_points=10), shopper()) == 2
    assert Multiplier(factor=1.2).award(basket(base_points=5), shopper()) == 1
    assert Multiplier(factor=1.4).award(basket(base_points=5), shopper()) == 2


def test_multiplier_on_categories_multiplies_their_share_of_the_base_points() -> None:
    check = basket(
        [item("latte", "coffee", unit_price=300), item("bagel", "food", unit_price=700)],
        base_points=100,
    )
    assert Multiplier(factor=2, categories=["coffee"]).award(check, shopper()) == 30
    assert Multiplier(factor=2, categories=["food"]).award(check, shopper()) == 70
    assert Multiplier(factor=2, categories=["coffee", "food"]).award(check, shopper()) == 100
    assert Multiplier(factor=2, categories=["tea"]).award(check, shopper()) == 0


def test_multiplier_category_share_counts_quantities_and_rounds_down() -> None:
    check = basket(
        [
            item("latte", "coffee", quantity=3, unit_price=111),
            item("bagel", "food", unit_price=667),
        ],
        base_points=10,
    )  # coffee: 333 of 1000, so 10 * 333 // 1000 == 3 base points
    assert amount_in(check.items, frozenset({"coffee"})) == 333
    assert Multiplier(factor=3, categories=["coffee"]).award(check, shopper()) == 6


def test_multiplier_on_categories_of_a_zero_amount_check_awards_nothing() -> None:
    check = basket([item(unit_price=0)], base_points=5, amount=0)
    assert Multiplier(factor=2, categories=["coffee"]).award(check, shopper()) == 0


def test_multiplier_without_base_points_awards_nothing() -> None:
    assert Multiplier(factor=10).award(basket(base_points=0), shopper()) == 0


# Bonus


def test_bonus_for_a_sku_needs_the_sku_on_the_check() -> None:
    bonus = Bonus(points=50, sku="latte")
    assert bonus.award(basket([item("latte")]), shopper()) == 50
    assert bonus.award(basket([item("bagel", "food"), item("latte")]), shopper()) == 50
    assert bonus.award(basket([item("flat-white")]), shopper()) == 0


def test_bonus_for_a_category_needs_an_item_of_the_category() -> None:
    bonus = Bonus(points=20, category="food")
    assert bonus.award(basket([item("latte"), item("bagel", "food")]), shopper()) == 20
    assert bonus.award(basket([item("latte")]), shopper()) == 0


def test_bonus_for_a_min_amount_needs_the_amount_reached() -> None:
    bonus = Bonus(points=30, min_amount=500)
    assert bonus.award(basket(amount=500), shopper()) == 30
    assert bonus.award(basket(amount=501), shopper()) == 30
    assert bonus.award(basket(amount=499), shopper()) == 0


def test_bonus_needs_every_given_condition() -> None:
    bonus = Bonus(points=40, sku="latte", category="food", min_amount=500)
    both = [item("latte", unit_price=300), item("bagel", "food", unit_price=200)]
    assert bonus.award(basket(both), shopper()) == 40
    assert bonus.award(basket(both, amount=499), shopper()) == 0  # amount short
    assert bonus.award(basket([item("latte", unit_price=500)]), shopper()) == 0  # no food
    no_latte = [item("mocha", unit_price=300), item("bagel", "food", unit_price=200)]
    assert bonus.award(basket(no_latte), shopper()) == 0


def test_bonus_check_refuses_a_bonus_with_no_condition() -> None:
    with pytest.raises(ValidationFailed):
        Bonus(points=10).check()


@pytest.mark.parametrize(
    "bonus",
    [
        Bonus(points=10, sku="latte"),
        Bonus(points=10, category="food"),
        Bonus(points=10, min_amount=1),
    ],
)
def test_bonus_check_accepts_any_one_condition(bonus: Bonus) -> None:
    bonus.check()


# Stamp card


def test_stamp_card_counts_the_quantities_of_its_category() -> None:
    check = basket(
        [
            item("latte", "coffee", quantity=2),
            item("bagel", "food", quantity=4),
            item("mocha", "coffee", quantity=3),
        ]
    )
    assert COFFEE_CARD.stamps_in(check) == 5
    assert COFFEE_CARD.stamps_in(basket([item("bagel", "food")])) == 0
    assert COFFEE_CARD.award(check, shopper()) == 0  # stamps, not points


# Win-back


def test_win_back_awards_after_the_inactive_days() -> None:
    win_back = WinBack(inactive_days=30, points=200)
    assert win_back.award(basket(), shopper(last_visit_at=AT - timedelta(days=30))) == 200
    assert win_back.award(basket(), shopper(last_visit_at=AT - timedelta(days=400))) == 200
    recent = shopper(last_visit_at=AT - timedelta(days=30) + timedelta(seconds=1))
    assert win_back.award(basket(), recent) == 0
    assert win_back.award(basket(), shopper(last_visit_at=AT - timedelta(days=1))) == 0


def test_win_back_awards_nothing_to_a_member_who_never_visited() -> None:
    assert WinBack(inactive_days=7, points=200).award(basket(), shopper(visits=0)) == 0


# Birthday


def test_birthday_awards_within_the_window() -> None:
    birthday = Birthday(points=100, window_days=3)
    at = datetime(2024, 6, 10, 12, tzinfo=UTC)
    assert birthday.award(basket(at=at), shopper(birth_date=date(1990, 6, 13))) == 100
    assert birthday.award(basket(at=at), shopper(birth_date=date(1990, 6, 7))) == 100
    assert birthday.award(basket(at=at), shopper(birth_date=date(1990, 6, 14))) == 0
    assert birthday.award(basket(at=at), shopper(birth_date=date(1990, 6, 6))) == 0


def test_birthday_awards_nothing_without_a_birth_date() -> None:
    assert Birthday(points=100).award(basket(), shopper(birth_date=None)) == 0


def test_birthday_window_defaults_to_a_week() -> None:
    assert Birthday(points=1).window_days == 7


def test_birthday_is_near_across_the_year_boundary() -> None:
    birthday = Birthday(points=100, window_days=7)
    assert birthday.is_near(date(1990, 1, 2), date(2024, 12, 30))
    assert birthday.is_near(date(1990, 12, 30), date(2025, 1, 2))
    assert not birthday.is_near(date(1990, 1, 10), date(2024, 12, 30))
    assert not birthday.is_near(date(1990, 12, 20), date(2025, 1, 2))


def test_birthday_on_29_february_is_1_march_in_a_common_year() -> None:
    on_the_day = Birthday(points=100, window_days=0)
    born = date(2000, 2, 29)
    assert on_the_day.is_near(born, date(2025, 3, 1))
    assert not on_the_day.is_near(born, date(2025, 2, 28))
    assert on_the_day.is_near(born, date(2024, 2, 29))  # a leap year has the day
    assert not on_the_day.is_near(born, date(2024, 3, 1))
    assert Birthday(points=100, window_days=1).is_near(born, date(2025, 2, 28))


def test_birthday_occurrence_is_the_birthday_whose_window_it_is() -> None:
    around_new_year = Birthday(points=100, window_days=3)
    born = date(1990, 12, 31)
    assert around_new_year.occurrence(born, date(2026, 12, 28)) == date(2026, 12, 31)
    assert around_new_year.occurrence(born, date(2027, 1, 3)) == date(2026, 12, 31)
    assert around_new_year.occurrence(born, date(2027, 1, 4)) is None
    assert around_new_year.occurrence(born, date(2026, 12, 27)) is None
    leap = Birthday(points=100, window_days=0)
    assert leap.occurrence(date(2000, 2, 29), date(2027, 3, 1)) == date(2027, 3, 1)
    assert leap.occurrence(date(2000, 2, 29), date(2028, 2, 29)) == date(2028, 2, 29)


def test_birthday_window_0_is_the_day_itself() -> None:
    birthday = Birthday(points=100, window_days=0)
    assert birthday.is_near(date(1990, 5, 17), date(2024, 5, 17))
    assert not birthday.is_near(date(1990, 5, 17), date(2024, 5, 16))
    assert not birthday.is_near(date(1990, 5, 17), date(2024, 5, 18))


# Welcome and reward act elsewhere


def test_welcome_and_reward_award_nothing_at_the_till() -> None:
    check, member = basket(base_points=1000), shopper(birth_date=AT.date())
    assert Welcome(points=500).award(check, member) == 0
    assert COFFEE_REWARD.award(check, member) == 0
    assert {"welcome", "reward"}.isdisjoint(PURCHASE_KINDS)


# JSON


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"type": "multiplier", "factor": 2}', Multiplier(factor=2.0)),
        (
            '{"type": "multiplier", "factor": 1.5, "categories": ["coffee"]}',
            Multiplier(factor=1.5, categories=["coffee"]),
        ),
        (
            '{"type": "bonus", "points": 50, "sku": "latte", "category": "coffee", "min_amount": 500}',
            Bonus(points=50, sku="latte", category="coffee", min_amount=500),
        ),
        ('{"type": "bonus", "points": 5}', Bonus(points=5)),  # check() refuses it, not JSON
        (
            '{"type": "stamp_card", "category": "coffee", "stamps_needed": 6, "reward_max_value": 300}',
            StampCard(category="coffee", stamps_needed=6, reward_max_value=300),
        ),
        (
            '{"type": "win_back", "inactive_days": 30, "points": 200}',
            WinBack(inactive_days=30, points=200),
        ),
        ('{"type": "birthday", "points": 100}', Birthday(points=100, window_days=7)),
        (
            '{"type": "birthday", "points": 100, "window_days": 0}',
            Birthday(points=100, window_days=0),
        ),
        ('{"type": "welcome", "points": 300}', Welcome(points=300)),
        (
            '{"type": "reward", "cost_points": 400, "category": "coffee", "max_value": 350}',
            Reward(cost_points=400, category="coffee", max_value=350, valid_days=30),
        ),
    ],
)
def test_each_kind_decodes_from_json_by_its_type(raw: str, expected: Rule) -> None:
    rule = msgspec.json.decode(raw, type=Rule)
    assert type(rule) is type(expected)
    assert rule == expected
    assert kind_of(rule) == msgspec.json.decode(raw)["type"]
    assert msgspec.json.decode(msgspec.json.encode(rule), type=Rule) == rule


def test_purchase_kinds_are_the_kinds_that_award_at_the_till() -> None:
    assert {"multiplier", "bonus", "stamp_card", "win_back", "birthday"} == PURCHASE_KINDS


@pytest.mark.parametrize(
    "raw",
    [
        '{"type": "multiplier", "factor": 2, "cap": 100}',
        '{"type": "bonus", "points": 5, "sku": "latte", "skus": ["latte"]}',
        '{"type": "stamp_card", "category": "c", "stamps_needed": 6, "reward_max_value": 1, "x": 1}',
        '{"type": "win_back", "inactive_days": 30, "points": 1, "x": 1}',
        '{"type": "birthday", "points": 1, "x": 1}',
        '{"type": "welcome", "points": 1, "x": 1}',
        '{"type": "reward", "cost_points": 1, "category": "c", "max_value": 1, "x": 1}',
    ],
)
def test_unknown_fields_are_refused(raw: str) -> None:
    with pytest.raises(msgspec.ValidationError, match="unknown field"):
        msgspec.json.decode(raw, type=Rule)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ('{"type": "multiplier", "factor": 1}', "factor"),
        ('{"type": "multiplier", "factor": 0.5}', "factor"),
        ('{"type": "multiplier", "factor": 10.5}', "factor"),
        ('{"type": "multiplier", "factor": 2, "categories": [""]}', "categories[0]"),
        ('{"type": "bonus", "points": 0, "sku": "latte"}', "points"),
        ('{"type": "bonus", "points": 1000001, "sku": "latte"}', "points"),
        ('{"type": "bonus", "points": 5, "sku": ""}', "sku"),
        ('{"type": "bonus", "points": 5, "min_amount": 0}', "min_amount"),
        (
            '{"type": "stamp_card", "category": "c", "stamps_needed": 1, "reward_max_value": 1}',
            "stamps_needed",
        ),
        (
            '{"type": "stamp_card", "category": "c", "stamps_needed": 51, "reward_max_value": 1}',
            "stamps_needed",
        ),
        (
            '{"type": "stamp_card", "category": "c", "stamps_needed": 6, "reward_max_value": 0}',
            "reward_max_value",
        ),
        ('{"type": "win_back", "inactive_days": 6, "points": 1}', "inactive_days"),
        ('{"type": "win_back", "inactive_days": 731, "points": 1}', "inactive_days"),
        ('{"type": "win_back", "inactive_days": 30, "points": -1}', "points"),
        ('{"type": "birthday", "points": 1, "window_days": -1}', "window_days"),
        ('{"type": "birthday", "points": 1, "window_days": 31}', "window_days"),
        ('{"type": "welcome", "points": 0}', "points"),
        (
            '{"type": "reward", "cost_points": 1, "category": "c", "max_value": 1, "valid_days": 0}',
            "valid_days",
        ),
        (
            '{"type": "reward", "cost_points": 1, "category": "c", "max_value": 1, "valid_days": 366}',
            "valid_days",
        ),
        ('{"type": "reward", "cost_points": 0, "category": "c", "max_value": 1}', "cost_points"),
    ],
)
def test_out_of_range_values_are_refused_at_their_field(raw: str, field: str) -> None:
    with pytest.raises(msgspec.ValidationError, match=re.escape(f" - at `$.{field}`")):
        msgspec.json.decode(raw, type=Rule)


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ('{"type": "cashback", "points": 5}', "Invalid value 'cashback' - at `$.type`"),
        ('{"points": 5}', "Object missing required field `type`"),
        ('{"type": "welcome"}', "Object missing required field `points`"),
        (
            '{"type": "stamp_card", "category": "c", "stamps_needed": 6}',
            "Object missing required field `reward_max_value`",
        ),
    ],
)
def test_unknown_types_and_missing_fields_are_refused(raw: str, error: str) -> None:
    with pytest.raises(msgspec.ValidationError) as refused:
        msgspec.json.decode(raw, type=Rule)
    assert str(refused.value) == error
