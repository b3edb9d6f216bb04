"""How many points a payment earns and how many may be spent on a check, under given rules."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from backend.loyalty.rules import ProgramRules

# 1 point = 1 ruble = 100 kopecks of discount.
MINOR_UNITS_PER_POINT = 100


class CheckLine(Protocol):
    """A line of a check as earning and campaigns read it (``sales.schemas.PurchaseItem``)."""

    @property
    def sku(self) -> str: ...
    @property
    def category(self) -> str: ...
    @property
    def quantity(self) -> int: ...
    @property
    def unit_price(self) -> int: ...


def eligible_amount(
    *, amount: int, paid_amount: int, items: Sequence[CheckLine], rules: ProgramRules
) -> int:
    """The part of the paid amount that earns: excluded lines and small orders earn nothing.

    A loyalty discount is spread over the lines in proportion to their price, so the paid
    share of the eligible lines is ``paid * eligible / amount``, rounded down.
    """
    if amount < rules.min_order_amount or amount <= 0:
        return 0
    if not items:
        return paid_amount
    eligible = sum(line.quantity * line.unit_price for line in items if earns(line, rules))
    return paid_amount * eligible // amount


def earns(line: CheckLine, rules: ProgramRules) -> bool:
    """Whether the line's money earns base points (its category and SKU are not excluded)."""
    return line.category not in rules.excluded_categories and line.sku not in rules.excluded_skus


def points_earned(eligible: int, percent: int) -> int:
    """Percent of the eligible paid amount, in points, rounded down."""
    return eligible * percent // (100 * MINOR_UNITS_PER_POINT)


def max_redeemable(amount: int, rules: ProgramRules) -> int:
    return amount * rules.max_redeem_share_percent // (100 * MINOR_UNITS_PER_POINT)


def discount_for(points: int) -> int:
    return points * MINOR_UNITS_PER_POINT


def share(total: int, part: int, whole: int) -> int:
    """``total * part / whole`` rounded down: cumulative shares of refunds reach ``total``
    exactly when ``part`` reaches ``whole``."""
    return total * part // whole if whole else total
