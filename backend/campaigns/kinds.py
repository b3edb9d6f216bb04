"""Campaign kinds: each a small rule type that says what it awards, validated on its own.

Purchase-time kinds (multiplier, bonus, stamp card, win-back, birthday) implement
``award``; welcome (on enrolment) and reward (bought with points, becomes a coupon) act
elsewhere (``backend.campaigns.offers``) and award nothing at the till.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Annotated

import msgspec

from backend.errors import ValidationFailed
from backend.local_time import StoreClock, zone
from backend.loyalty.earning import CheckLine
from backend.text import Line

Points = Annotated[int, msgspec.Meta(gt=0, le=1_000_000)]
MinorUnits = Annotated[int, msgspec.Meta(gt=0, le=10**9)]
Category = Annotated[Line, msgspec.Meta(min_length=1, max_length=200)]


@dataclass(frozen=True, slots=True)
class Shopper:
    """What targeting and kinds may know of the member, read once per sale."""

    member_id: str
    tier: str
    visits: int  # before this sale
    last_visit_at: datetime | None  # before this sale
    favourite_category: str | None
    birth_date: date | None
    stamps: dict[str, int] = field(default_factory=dict)
    # The member's home zone; None only outside a sale for a member who has neither chosen
    # one nor bought anywhere (the caller then uses the program's zone).
    time_zone: str | None = None


@dataclass(frozen=True, slots=True)
class Basket:
    store_id: str
    clock: StoreClock  # the store's: campaign days and hours are its local ones
    at: datetime
    amount: int
    items: Sequence[CheckLine]
    base_points: int  # earned at the member's tier, before any campaign

    def members_date(self, shopper: Shopper) -> date:
        """The date of the sale on the member's calendar (their home zone; the store's for a
        member without one): birthdays and limits per day count in it."""
        where = zone(shopper.time_zone) if shopper.time_zone else self.clock.zone
        return self.at.astimezone(where).date()


def amount_in(items: Sequence[CheckLine], categories: frozenset[str]) -> int:
    return sum(i.quantity * i.unit_price for i in items if i.category in categories)


class Multiplier(msgspec.Struct, frozen=True, tag="multiplier", forbid_unknown_fields=True):
    """Points x ``factor`` (on the whole check, or on the listed categories' share)."""

    factor: Annotated[float, msgspec.Meta(gt=1, le=10)]  # counted in hundredths
    categories: list[Category] = msgspec.field(default_factory=list)

    def check(self) -> None:
        pass

    def award(self, basket: Basket, shopper: Shopper) -> int:
        base = basket.base_points
        if self.categories:
            share = amount_in(basket.items, frozenset(self.categories))
            base = base * share // basket.amount if basket.amount else 0
        # In hundredths, as integers: float arithmetic would make x1.2 of 10 points 1.
        extra_hundredths = round((self.factor - 1) * 100)
        return base * extra_hundredths // 100


class Bonus(msgspec.Struct, frozen=True, tag="bonus", forbid_unknown_fields=True):
    """Fixed ``points`` when the check has the SKU, or the category, or reaches the amount."""

    points: Points
    sku: Category | None = None
    category: Category | None = None
    min_amount: MinorUnits | None = None

    def check(self) -> None:
        if self.sku is None and self.category is None and self.min_amount is None:
            raise ValidationFailed("a bonus needs a sku, a category or a min_amount")

    def award(self, basket: Basket, shopper: Shopper) -> int:
        if self.sku is not None and not any(i.sku == self.sku for i in basket.items):
            return 0
        if self.category is not None and not any(i.category == self.category for i in basket.items):
            return 0
        if self.min_amount is not None and basket.amount < self.min_amount:
            return 0
        return self.points


class StampCard(msgspec.Struct, frozen=True, tag="stamp_card", forbid_unknown_fields=True):
    """A stamp per item of ``category``; every ``stamps_needed``-th earns a coupon for one
    free item of the category (worth up to ``reward_max_value``)."""

    category: Category
    stamps_needed: Annotated[int, msgspec.Meta(ge=2, le=50)]
    reward_max_value: MinorUnits

    def check(self) -> None:
        pass

    def stamps_in(self, basket: Basket) -> int:
        return sum(i.quantity for i in basket.items if i.category == self.category)

    def award(self, basket: Basket, shopper: Shopper) -> int:
        return 0  # stamps and coupons, not points (see backend.campaigns.engine)


class WinBack(msgspec.Struct, frozen=True, tag="win_back", forbid_unknown_fields=True):
    """``points`` on the first visit after ``inactive_days`` or more away."""

    inactive_days: Annotated[int, msgspec.Meta(ge=7, le=730)]
    points: Points

    def check(self) -> None:
        pass

    def award(self, basket: Basket, shopper: Shopper) -> int:
        last = shopper.last_visit_at
        if last is None or basket.at - last < timedelta(days=self.inactive_days):
            return 0
        return self.points


class Birthday(msgspec.Struct, frozen=True, tag="birthday", forbid_unknown_fields=True):
    """``points`` on a visit within ``window_days`` either side of the member's birthday (0:
    the day itself), on the member's local calendar; once per birthday (the engine counts
    the awards per occurrence: ``occurrence``)."""

    points: Points
    window_days: Annotated[int, msgspec.Meta(ge=0, le=30)] = 7

    def check(self) -> None:
        pass

    def award(self, basket: Basket, shopper: Shopper) -> int:
        if shopper.birth_date is None:
            return 0
        return self.points if self.is_near(shopper.birth_date, basket.members_date(shopper)) else 0

    def is_near(self, birth_date: date, today: date) -> bool:
        return self.occurrence(birth_date, today) is not None

    def occurrence(self, birth_date: date, today: date) -> date | None:
        """The birthday whose window ``today`` is in (a window around 31 December reaches
        into January: that is still last year's birthday), or None."""
        for year in (today.year - 1, today.year, today.year + 1):
            birthday = birthday_in(birth_date, year)
            if abs((today - birthday).days) <= self.window_days:
                return birthday
        return None


def birthday_in(birth_date: date, year: int) -> date:
    """The member's birthday in ``year``: 29 February is kept on 1 March in a common year."""
    try:
        return birth_date.replace(year=year)
    except ValueError:
        return date(year, 3, 1)


class Welcome(msgspec.Struct, frozen=True, tag="welcome", forbid_unknown_fields=True):
    """``points`` credited once when a member enrols while the campaign is active."""

    points: Points

    def check(self) -> None:
        pass

    def award(self, basket: Basket, shopper: Shopper) -> int:
        return 0


class Reward(msgspec.Struct, frozen=True, tag="reward", forbid_unknown_fields=True):
    """A catalogue item: ``cost_points`` buy a one-time coupon for one item of ``category``
    (worth up to ``max_value``), valid ``valid_days``."""

    cost_points: Points
    category: Category
    max_value: MinorUnits
    valid_days: Annotated[int, msgspec.Meta(ge=1, le=365)] = 30

    def check(self) -> None:
        pass

    def award(self, basket: Basket, shopper: Shopper) -> int:
        return 0


Rule = Multiplier | Bonus | StampCard | WinBack | Birthday | Welcome | Reward
PURCHASE_KINDS = frozenset({"multiplier", "bonus", "stamp_card", "win_back", "birthday"})


def kind_of(rule: Rule) -> str:
    tag = type(rule).__struct_config__.tag
    assert isinstance(tag, str)
    return tag
