"""How many points a payment earns and how many may be spent on a check."""

from __future__ import annotations

# 1 point = 1 ruble = 100 kopecks of discount.
MINOR_UNITS_PER_POINT = 100
# Points may pay for at most this share of a check (percent).
MAX_REDEEM_SHARE_PERCENT = 50


def points_earned(paid_amount: int, percent: int) -> int:
    """Percent of the paid amount, in points, rounded down."""
    return paid_amount * percent // (100 * MINOR_UNITS_PER_POINT)


def max_redeemable(amount: int) -> int:
    return amount * MAX_REDEEM_SHARE_PERCENT // (100 * MINOR_UNITS_PER_POINT)


def discount_for(points: int) -> int:
    return points * MINOR_UNITS_PER_POINT
