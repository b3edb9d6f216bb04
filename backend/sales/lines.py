"""A sale's lines as kept with its purchase, the points each line earned, and what a refund
of some of their units takes back (docs/ledger.md, "Lines").

The lines live on the purchase row (``purchase.lines``), written by the sale's one INSERT:
a sale writes no more rows and makes no more round trips for them.

Each line's ``points_earned`` is the sum of its part of every award of the sale:

* the base points, in proportion to the line's eligible money (an excluded line gets 0);
* a campaign's extra that targets SKUs or categories (a multiplier on categories, a bonus for
  a SKU or a category), over the lines it targeted, in proportion to their eligible money;
* any other extra (a multiplier on the whole check, a bonus on the amount, welcome,
  birthday, win-back), over all lines in proportion to their eligible money.

Each award is split by the largest remainder (shares rounded down, the points left one each
to the largest remainders, ties to the earlier line), so the lines add up exactly to what
the purchase earned, and the same sale always splits the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Annotated, Any

import msgspec

from backend.accounting.documents import DocumentLine
from backend.campaigns.kinds import Bonus, Multiplier, Rule
from backend.errors import (
    PurchaseHasNoLines,
    RefundAmountMismatch,
    RefundExceedsLines,
    RefundLineUnknown,
    ValidationFailed,
)
from backend.loyalty.earning import CheckLine, earns, share
from backend.loyalty.rules import ProgramRules
from backend.sales.schemas import PurchaseItem, Text
from db import sql

Quantity = Annotated[int, msgspec.Meta(gt=0, le=10_000)]
MAX_REFUND_LINES = 200


class SoldLine(msgspec.Struct, frozen=True):
    """A line of a purchase as kept: the item as sold, and the points it earned."""

    sku: str
    name: str
    category: str
    quantity: int
    unit_price: int
    points_earned: int


class RefundLine(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Units of a SKU of the receipt that come back."""

    sku: Text
    quantity: Quantity


class RefundedLine(msgspec.Struct, frozen=True):
    """What a refund took back for a SKU: its units, their money and the points they earned."""

    sku: str
    name: str
    category: str
    quantity: int
    amount: int
    points_reversed: int


def largest_remainder(total: int, weights: Sequence[int]) -> list[int]:
    """``total`` in whole parts proportional to ``weights`` (their sum must be positive),
    adding up to ``total`` exactly."""
    whole = sum(weights)
    parts = [total * weight // whole for weight in weights]
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % whole), i))
    for i in by_remainder[: total - sum(parts)]:
        parts[i] += 1
    return parts


def _targets(rule: Rule | None) -> Callable[[CheckLine], bool] | None:
    """Which lines a campaign's extra goes to; None: the whole check."""
    if isinstance(rule, Multiplier) and rule.categories:
        categories = frozenset(rule.categories)
        return lambda line: line.category in categories
    if isinstance(rule, Bonus) and rule.sku is not None:
        sku = rule.sku
        return lambda line: line.sku == sku
    if isinstance(rule, Bonus) and rule.category is not None:
        category = rule.category
        return lambda line: line.category == category
    return None


def _split(
    points: int,
    items: Sequence[CheckLine],
    rules: ProgramRules,
    targeted: Callable[[CheckLine], bool] | None = None,
) -> list[int]:
    """``points`` over the (targeted) lines by eligible money; where that is nothing, by
    money, then by units, so that an award always lands somewhere."""
    chosen = [targeted is None or targeted(line) for line in items]
    if not any(chosen):
        chosen = [True] * len(items)
    for weigh in (_eligible_money(rules), _money, _units_of):
        weights = [weigh(line) if pick else 0 for line, pick in zip(items, chosen, strict=True)]
        if sum(weights) > 0:
            return largest_remainder(points, weights)
    return [0] * len(items)  # unreachable: every line has a unit


def _money(line: CheckLine) -> int:
    return line.quantity * line.unit_price


def _units_of(line: CheckLine) -> int:
    return line.quantity


def _eligible_money(rules: ProgramRules) -> Callable[[CheckLine], int]:
    return lambda line: _money(line) if earns(line, rules) else 0


def sold_lines(
    items: Sequence[PurchaseItem],
    *,
    rules: ProgramRules,
    base_points: int,
    extras: Iterable[tuple[int, Rule | None]],
) -> list[SoldLine]:
    """The lines of a sale with the points each earned: ``base_points`` and each campaign's
    ``(points, rule)`` split as the module says."""
    if not items:
        return []
    earned = _split(base_points, items, rules)
    for points, rule in extras:
        if points:
            part = _split(points, items, rules, _targets(rule))
            earned = [a + b for a, b in zip(earned, part, strict=True)]
    return [
        SoldLine(**msgspec.structs.asdict(item), points_earned=points)
        for item, points in zip(items, earned, strict=True)
    ]


def encode_lines(lines: Sequence[SoldLine]) -> str:
    return msgspec.json.encode(lines).decode()


def load_lines(stored: Any) -> list[SoldLine]:
    """A purchase's ``lines`` column (JSON text or decoded) as ``SoldLine``s."""
    return msgspec.convert(sql.loaded_json(stored) or [], list[SoldLine])


def load_refunded(stored: Any) -> dict[str, int]:
    """A purchase's ``refunded_lines`` column: units refunded so far per SKU."""
    return msgspec.convert(sql.loaded_json(stored) or {}, dict[str, int])


def _units(line_start: int, quantity: int, taken: int) -> int:
    """Of a line whose units are the SKU's ``line_start`` .. ``+quantity``, how many are
    among the SKU's first ``taken`` units."""
    return min(max(taken - line_start, 0), quantity)


def refunded_per_line(lines: Sequence[SoldLine], refunded: dict[str, int]) -> list[int]:
    """Units refunded of each line: a SKU's refunded units fill its lines in receipt order."""
    before: dict[str, int] = {}
    out = []
    for line in lines:
        start = before.get(line.sku, 0)
        out.append(_units(start, line.quantity, refunded.get(line.sku, 0)))
        before[line.sku] = start + line.quantity
    return out


def take_back(
    lines: Sequence[SoldLine], refunded: dict[str, int], asked: Sequence[RefundLine]
) -> tuple[list[RefundedLine], dict[str, int]]:
    """What refunding ``asked`` takes back, per SKU (units in receipt order, points per unit
    of each line, rounded down cumulatively so that all units reverse all the line's points),
    and the units refunded per SKU afterwards. Refuses a SKU not on the receipt and more
    units than are left."""
    if not lines:
        raise PurchaseHasNoLines("this purchase was sold by amount only: refund it by amount")
    wanted: dict[str, int] = {}
    for line in asked:  # the same SKU twice is the sum of its units
        wanted[line.sku] = wanted.get(line.sku, 0) + line.quantity
    after = dict(refunded)
    taken: list[RefundedLine] = []
    for sku, quantity in wanted.items():
        of_sku = [line for line in lines if line.sku == sku]
        if not of_sku:
            raise RefundLineUnknown(f"{sku!r} is not on this receipt", sku=sku)
        sold = sum(line.quantity for line in of_sku)
        done = refunded.get(sku, 0)
        if done + quantity > sold:
            raise RefundExceedsLines(
                f"{sold - done} of {sku!r} left to refund", sku=sku, refundable_quantity=sold - done
            )
        after[sku] = done + quantity
        amount = points = start = 0
        for sold_line in of_sku:
            units = sold_line.quantity
            was, now = _units(start, units, done), _units(start, units, done + quantity)
            amount += (now - was) * sold_line.unit_price
            points += share(sold_line.points_earned, now, units)
            points -= share(sold_line.points_earned, was, units)
            start += units
        first = of_sku[0]
        taken.append(RefundedLine(sku, first.name, first.category, quantity, amount, points))
    return taken, after


def capped(taken: list[RefundedLine], points: int) -> list[RefundedLine]:
    """``taken`` with its points cut down to ``points`` in all (a refund by lines after one by
    amount that already took points back), split over the lines by what each would have
    taken: the lines always add up to what the refund reversed."""
    wanted = [line.points_reversed for line in taken]
    if not taken or sum(wanted) == points:  # (never more: the refund takes at most this)
        return taken
    parts = largest_remainder(points, wanted) if points else [0] * len(taken)
    return [
        msgspec.structs.replace(line, points_reversed=p)
        for line, p in zip(taken, parts, strict=True)
    ]


def refund_amount(asked: int | None, taken: Sequence[RefundedLine]) -> int:
    """The refund's gross amount: the lines' value, or the ``asked`` amount, which must agree."""
    value = sum(line.amount for line in taken)
    if asked is not None and asked != value:
        raise RefundAmountMismatch(
            f"the lines are worth {value}, but amount is {asked}", lines_amount=value
        )
    if value <= 0:
        raise ValidationFailed("the lines named are worth nothing: there is no money to refund")
    return value


def document_line(line: SoldLine | RefundedLine) -> DocumentLine:
    """A sale's line with its money and points earned, or a refund's with its money and the
    points taken back (negative, as the refund document's ``points_issued``)."""
    if isinstance(line, SoldLine):
        amount, points = line.quantity * line.unit_price, line.points_earned
    else:
        amount, points = line.amount, -line.points_reversed
    return DocumentLine(line.sku, line.name, line.category, line.quantity, amount, points)
