"""The program's rules: stored, versioned, edited by admins.

Each published change is a new version; a purchase or checkout records the version it was
priced under, so a later change never rewrites what was earned. With no version stored yet
the defaults below apply as version 0.
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated

import msgspec
from piccolo.custom_types import Combinable

from backend.audit.trail import record
from backend.errors import NotFound
from backend.text import Line
from db import sql
from db.tables import ProgramRules as ProgramRulesRow

Percent = Annotated[int, msgspec.Meta(ge=0, le=100)]
Days = Annotated[int, msgspec.Meta(ge=0, le=3650)]
Label = Annotated[Line, msgspec.Meta(min_length=1, max_length=100)]
# Minor units: as far as a purchase's amount may go (backend.sales.schemas).
MinorUnits = Annotated[int, msgspec.Meta(ge=0, le=10**12)]
TIER_ORDER = ("green", "gold", "platinum")


class ProgramRules(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    # Earning: percent of the paid amount per tier, rounded down to whole points.
    tier_earn_percent: dict[str, Percent] = msgspec.field(
        default_factory=lambda: {"green": 5, "gold": 7, "platinum": 10}
    )
    # Qualifying spend (minor units, net of refunds, over the window) that reaches a tier.
    tier_thresholds: dict[str, MinorUnits] = msgspec.field(
        default_factory=lambda: {"gold": 1_500_000, "platinum": 5_000_000}
    )
    tier_window_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] = 365
    excluded_categories: list[Label] = msgspec.field(default_factory=list)
    excluded_skus: list[Label] = msgspec.field(default_factory=list)
    min_order_amount: MinorUnits = 0
    # Earned points stay pending this long (the return window) before they can be spent.
    return_window_days: Days = 0
    # Spending: points may pay for at most this share of a check.
    max_redeem_share_percent: Percent = 50
    # A checkout's hold is voided if not completed within this time.
    hold_ttl_s: Annotated[int, msgspec.Meta(ge=30, le=86_400)] = 900
    # Points expire this long after they were credited.
    points_expire_after_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] = 365

    def __post_init__(self) -> None:
        if set(self.tier_earn_percent) != set(TIER_ORDER):
            raise ValueError(f"tier_earn_percent needs exactly the tiers {', '.join(TIER_ORDER)}")
        if set(self.tier_thresholds) != set(TIER_ORDER[1:]):
            raise ValueError("tier_thresholds needs exactly gold and platinum")
        if self.tier_thresholds["gold"] >= self.tier_thresholds["platinum"]:
            raise ValueError("the gold threshold must be below the platinum threshold")


class RulesVersion(msgspec.Struct, frozen=True):
    version: int
    rules: ProgramRules


DEFAULT_RULES = ProgramRules()


# Read on every sale; published a few times a year. Each process keeps the newest version for
# a few seconds, so a publication takes effect everywhere within CACHE_S (at once here).
CACHE_S = 5.0
_cached: tuple[float, RulesVersion] | None = None


async def current_rules() -> RulesVersion:
    global _cached
    now = time.monotonic()
    if _cached is not None and now - _cached[0] < CACHE_S:
        return _cached[1]
    _cached = (now, await _load_current())
    return _cached[1]


async def _load_current() -> RulesVersion:
    return await _newest() or RulesVersion(version=0, rules=DEFAULT_RULES)


async def rules_at(version: int) -> ProgramRules:
    if version == 0:
        return DEFAULT_RULES
    found = await _newest(ProgramRulesRow.version == version)
    if found is None:
        raise NotFound(f"rules version {version} does not exist")
    return found.rules


async def _newest(*where: Combinable) -> RulesVersion | None:
    """The newest published version (of those ``where`` picks); None: there is none."""
    row = (
        await ProgramRulesRow.select(ProgramRulesRow.version, ProgramRulesRow.rules)
        .where(*where)
        .order_by(ProgramRulesRow.version, ascending=False)
        .first()
        .output(load_json=True)
    )
    if row is None:
        return None
    return RulesVersion(version=row["version"], rules=msgspec.convert(row["rules"], ProgramRules))


async def publish_rules(rules: ProgramRules, *, staff_id: uuid.UUID) -> RulesVersion:
    async with ProgramRulesRow._meta.db.transaction():
        # The table lock makes concurrent publications take consecutive versions.
        await sql.fetch("LOCK TABLE program_rules IN EXCLUSIVE MODE")
        latest = await _load_current()
        version = latest.version + 1
        await ProgramRulesRow(
            version=version, rules=msgspec.to_builtins(rules), created_by=staff_id
        ).save()
        await record(
            "rules.published",
            target_type="rules",
            target_id=version,
            before=latest,
            after=RulesVersion(version=version, rules=rules),
        )
    forget_cached_rules()
    return RulesVersion(version=version, rules=rules)


def forget_cached_rules() -> None:
    global _cached
    _cached = None
