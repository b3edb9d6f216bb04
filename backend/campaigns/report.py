"""A campaign's report: its uses and the points it cost per day, and the sales of the items
it promotes over the same days.

Uses and points are the campaign's awards: each sale it paid is one ledger entry whose cause
is the campaign (``backend.campaigns.at_sale``), read through an index of those entries
only (``ledger_entry_campaign``), so the cost is the campaign's own awards, never the
ledger. Points are as awarded: a refund later takes back the sale's points under the
refund's cause, not the campaign's. A stamp card's stamps and a reward's coupons award no
points at the sale and so are not uses here.

The promoted items are the SKU and categories its rule names (a multiplier's categories, a
bonus's SKU or category, a stamp card's or reward's category); a campaign on the whole check
promotes none. Their sales are read from the purchases' stored lines over the range (the
stores it targets, or every store), as sold: later refunds are not taken off.

Days are the calendar days of the zone the campaign was scheduled in (UTC if none), the
zone its start and end are read in.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from backend.errors import NotFound, ValidationFailed
from backend.http import csv_text
from backend.local_time import days_from, instant_of
from db import sql

MAX_DAYS = 92

_CAMPAIGN = """
SELECT id, name, kind, rule, targeting, starts_at, ends_at, schedule_time_zone, created_at
FROM campaign WHERE id = {campaign_id}
"""
_AWARDS = """
SELECT (created_at AT TIME ZONE {zone})::date AS day, count(*) AS uses,
       coalesce(sum(available_delta + pending_delta), 0)::bigint AS points
FROM ledger_entry
WHERE cause_type = 'campaign' AND cause_id = {campaign_id}
  AND created_at >= {start} AND created_at < {end}
GROUP BY 1
"""
_ITEMS = """
SELECT (p.created_at AT TIME ZONE {zone})::date AS day, count(DISTINCT p.id) AS sales,
       coalesce(sum(l.quantity), 0)::bigint AS quantity,
       coalesce(sum(l.quantity * l.unit_price), 0)::bigint AS amount
FROM purchase p
CROSS JOIN LATERAL jsonb_to_recordset(p.lines)
    AS l(sku text, category text, quantity bigint, unit_price bigint)
WHERE p.created_at >= {start} AND p.created_at < {end}
  AND (cardinality({store_ids}::uuid[]) = 0 OR p.store = ANY({store_ids}::uuid[]))
  AND (l.sku = ANY({skus}::text[]) OR l.category = ANY({categories}::text[]))
GROUP BY 1
"""


class CampaignDay(msgspec.Struct, frozen=True, kw_only=True):
    day: date
    uses: int  # sales the campaign paid
    points: int  # points it awarded
    item_sales: int  # sales with a promoted item
    item_quantity: int  # promoted units sold
    item_amount: int  # their price, minor units


class CampaignReport(msgspec.Struct, frozen=True, kw_only=True):
    campaign_id: uuid.UUID
    name: str
    kind: str
    time_zone: str
    skus: list[str]
    categories: list[str]
    uses: int
    points: int
    days: list[CampaignDay]


class Promoted(msgspec.Struct, frozen=True):
    skus: list[str]
    categories: list[str]


def promoted(rule: dict[str, Any]) -> Promoted:
    """The SKU and categories a campaign's rule names."""
    skus = [rule["sku"]] if rule.get("sku") else []
    categories = list(rule.get("categories") or [])
    if rule.get("category"):
        categories.append(rule["category"])
    return Promoted(skus, sorted(set(categories)))


def _default_range(row: sql.Row, zone: ZoneInfo, now: datetime) -> tuple[date, date]:
    began = row["starts_at"] or row["created_at"]
    until = min(row["ends_at"] or now, now)
    last = until.astimezone(zone).date()
    first = max(began.astimezone(zone).date(), last - timedelta(days=MAX_DAYS - 1))
    return min(first, last), last


async def campaign_report(
    campaign_id: uuid.UUID, *, first: date | None, last: date | None, now: datetime
) -> CampaignReport:
    rows = await sql.fetch_lagging(_CAMPAIGN, campaign_id=campaign_id)
    if not rows:
        raise NotFound(f"campaign {campaign_id} does not exist")
    row = rows[0]
    zone = ZoneInfo(row["schedule_time_zone"] or "UTC")
    default_first, default_last = _default_range(row, zone, now)
    last = last or default_last
    first = first or min(default_first, last)
    if first > last or (last - first).days >= MAX_DAYS:
        raise ValidationFailed(f"from must be on or before to, at most {MAX_DAYS} days")
    start = instant_of(datetime.combine(first, time()), zone)
    end = instant_of(datetime.combine(last + timedelta(days=1), time()), zone)
    rule = sql.loaded_json(row["rule"]) or {}
    items = promoted(rule)
    awards = await sql.fetch_lagging(
        _AWARDS, zone=zone.key, campaign_id=campaign_id, start=start, end=end
    )
    sold: list[sql.Row] = []
    if items.skus or items.categories:
        targeting = sql.loaded_json(row["targeting"]) or {}
        sold = list(
            await sql.fetch_lagging(
                _ITEMS,
                zone=zone.key,
                start=start,
                end=end,
                store_ids=[uuid.UUID(str(s)) for s in targeting.get("store_ids", [])],
                skus=items.skus,
                categories=items.categories,
            )
        )
    by_award = {r["day"]: r for r in awards}
    by_items = {r["day"]: r for r in sold}
    none = {"uses": 0, "points": 0, "sales": 0, "quantity": 0, "amount": 0}
    days = []
    for day in days_from(first, last):
        award, item = by_award.get(day, none), by_items.get(day, none)
        days.append(
            CampaignDay(
                day=day,
                uses=award["uses"],
                points=award["points"],
                item_sales=item["sales"],
                item_quantity=item["quantity"],
                item_amount=item["amount"],
            )
        )
    return CampaignReport(
        campaign_id=campaign_id,
        name=row["name"],
        kind=row["kind"],
        time_zone=zone.key,
        skus=items.skus,
        categories=items.categories,
        uses=sum(d.uses for d in days),
        points=sum(d.points for d in days),
        days=days,
    )


def campaign_csv(report: CampaignReport) -> str:
    return csv_text(
        ["day", "uses", "points", "item_sales", "item_quantity", "item_amount_minor"],
        (
            (d.day, d.uses, d.points, d.item_sales, d.item_quantity, d.item_amount)
            for d in report.days
        ),
    )
