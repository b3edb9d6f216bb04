"""What a member has done with the campaigns' offers: activated them, used them so many times
(for good and in the current period). The rules that cap uses per member read it
(``backend.campaigns.engine.MemberUsage``); a sale reads it with its buyer."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from backend.campaigns.engine import MemberUsage
from db import sql

# The member's offers (not coupons) that count, as one JSON column of a read about member
# ``m`` (the sale's read of its buyer): an array of [campaign, status, uses, period_start,
# period_uses], or NULL. Which offers count is the aggregate's FILTER, not the WHERE: without
# statistics (a generic plan, a table grown since its last ANALYZE) ``coupon_code IS NULL``
# looked selective, and the plan ANDed the member's index with the unique index on
# ``coupon_code``, reading every NULL in it, that is every offer of every member, on every
# sale (issue #24). Keyed by the member alone, it reads that member's few offers.
USAGE_COLUMN = """
(SELECT json_agg(json_build_array(o.campaign, o.status, o.uses, o.period_start,
                                  o.period_uses))
        FILTER (WHERE o.coupon_code IS NULL AND o.status IN ('available', 'activated', 'used'))
 FROM member_offer o WHERE o.member = m.id) AS offer_usage
"""
_USAGE = f"SELECT {USAGE_COLUMN} FROM member m WHERE m.id = {{member_id}}"  # noqa: S608 (fixed)


async def load_usage(member_id: uuid.UUID) -> MemberUsage:
    rows = await sql.fetch(_USAGE, member_id=member_id)
    return usage_from_column(rows[0]["offer_usage"] if rows else None)


def usage_from_column(value: str | None) -> MemberUsage:
    """``MemberUsage`` from ``USAGE_COLUMN``'s value (None: the member holds no offer)."""
    rows = [
        {
            "campaign": campaign,
            "status": status,
            "uses": uses,
            "period_start": date.fromisoformat(start) if start is not None else None,
            "period_uses": period_uses,
        }
        for campaign, status, uses, start, period_uses in sql.loaded_json(value) or []
    ]
    return usage_from(rows)


def usage_from(rows: Sequence[Mapping[str, Any]]) -> MemberUsage:
    return MemberUsage(
        activated=frozenset(str(r["campaign"]) for r in rows if r["status"] == "activated"),
        uses={str(r["campaign"]): int(r["uses"]) for r in rows},
        periods={
            str(r["campaign"]): (r["period_start"], int(r["period_uses"]))
            for r in rows
            if r["period_start"] is not None
        },
    )
