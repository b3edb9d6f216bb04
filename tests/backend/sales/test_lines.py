"""How a sale's points are split over its lines, and what a refund of units takes back
(``backend.sales.lines``): pure functions, no database."""

from __future__ import annotations

import pytest

from backend.campaigns.kinds import Bonus, Multiplier, Welcome
from backend.errors import PurchaseHasNoLines, RefundExceedsLines, RefundLineUnknown
from backend.loyalty.rules import ProgramRules
from backend.sales.lines import (
    RefundedLine,
    RefundLine,
    SoldLine,
    capped,
    largest_remainder,
    refunded_per_line,
    sold_lines,
    take_back,
)
from backend.sales.schemas import PurchaseItem

RULES = ProgramRules(excluded_categories=["merch"])
CROISSANTS = PurchaseItem(
    sku="CRO-1", name="Croissant", category="bakery", quantity=2, unit_price=15000
)
LATTE = PurchaseItem(sku="LAT-M", name="Latte", category="coffee", quantity=1, unit_price=20000)
MUG = PurchaseItem(sku="MUG-1", name="Mug", category="merch", quantity=1, unit_price=50000)


def test_largest_remainder_adds_up_and_breaks_ties_to_the_earlier_part() -> None:
    assert largest_remainder(10, [1, 1, 1]) == [4, 3, 3]
    assert largest_remainder(15, [15000, 20000]) == [6, 9]
    assert largest_remainder(0, [5, 0]) == [0, 0]
    for total in range(0, 50):
        assert sum(largest_remainder(total, [3, 7, 11, 0])) == total


def test_base_follows_eligible_money_and_extras_their_targets() -> None:
    extras = [
        (7, Multiplier(factor=2, categories=["bakery"])),
        (5, Bonus(points=5, sku="LAT-M")),
        (4, Welcome(points=4)),  # the whole check by eligible money: 2.4, 1.6 -> 2, 2
    ]
    lines = sold_lines([CROISSANTS, LATTE, MUG], rules=RULES, base_points=25, extras=extras)
    assert [line.points_earned for line in lines] == [15 + 7 + 2, 10 + 5 + 2, 0]
    assert sum(line.points_earned for line in lines) == 25 + 7 + 5 + 4


def test_an_extra_for_a_category_of_free_items_still_lands_on_them() -> None:
    free = PurchaseItem(sku="CUP", name="Cup", category="bakery", quantity=1, unit_price=0)
    lines = sold_lines(
        [free, LATTE], rules=RULES, base_points=10, extras=[(3, Bonus(points=3, category="bakery"))]
    )
    assert [line.points_earned for line in lines] == [3, 10]


def test_a_sale_by_amount_only_has_no_lines() -> None:
    assert sold_lines([], rules=RULES, base_points=20, extras=[(5, None)]) == []


def _sold(*quantities_points: tuple[str, int, int]) -> list[SoldLine]:
    return [SoldLine(sku, sku, "bakery", q, 100, p) for sku, q, p in quantities_points]


def test_units_of_a_sku_fill_its_lines_in_receipt_order_and_all_units_take_all_points() -> None:
    lines = _sold(("A", 3, 10), ("B", 1, 4), ("A", 2, 5))
    first, refunded = take_back(lines, {}, [RefundLine("A", 2)])
    assert (first[0].quantity, first[0].amount, first[0].points_reversed) == (2, 200, 6)
    assert refunded_per_line(lines, refunded) == [2, 0, 0]
    second, refunded = take_back(lines, refunded, [RefundLine("A", 3)])
    assert second[0].points_reversed == 10 + 5 - 6
    assert refunded_per_line(lines, refunded) == [3, 0, 2]


def test_refused_lines() -> None:
    lines = _sold(("A", 2, 10))
    with pytest.raises(RefundLineUnknown):
        take_back(lines, {}, [RefundLine("Z", 1)])
    with pytest.raises(RefundExceedsLines):
        take_back(lines, {"A": 1}, [RefundLine("A", 2)])
    with pytest.raises(RefundExceedsLines):
        take_back(lines, {}, [RefundLine("A", 1), RefundLine("A", 2)])
    with pytest.raises(PurchaseHasNoLines):
        take_back([], {}, [RefundLine("A", 1)])


def test_a_capped_refund_splits_what_it_reverses_over_its_lines() -> None:
    taken = [RefundedLine("A", "A", "x", 1, 100, 7), RefundedLine("B", "B", "x", 1, 100, 3)]
    assert [line.points_reversed for line in capped(taken, 5)] == [4, 1]  # 3.5, 1.5
    assert [line.points_reversed for line in capped(taken, 0)] == [0, 0]
    assert capped(taken, 10) == taken
    assert capped([], 4) == []
