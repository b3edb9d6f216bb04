"""What a campaign being written would have done: the sales stored in the last 30 days
replayed, oldest first, under the draft by the engine every sale uses
(``backend.campaigns.engine.evaluate``), with its per-member and total limits counted as
the sale would count them. Nothing is written or audited.

Each sale is replayed as it was recorded: its store's clock (days and hours on the store's
wall clock), its lines (a sale without them is the amount alone, as the engine took it),
its amount and the points its member's tier earned before any campaign (the sale's points
less what campaigns added). The member is judged by what the stored sales say of them at
that moment (visits before it, the last one), and by what is stored now for the rest (tier,
birth date, home zone, favourite category). The draft is replayed on its own: the
campaigns that were live then are not, and a campaign that must be activated is replayed as
if every member had activated it (an upper bound). See docs/campaigns.md.

The window is read in batches in time order (keyset pagination on ``(created_at, id)``), on
the read replica when there is one, and at most ``MAX_SALES``: a busier window is replayed
from its start to where the cap stopped (``complete: false``, ``replayed_until``).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import msgspec

from backend.campaigns.at_sale import shopper_from
from backend.campaigns.catalogue import LiveCampaign
from backend.campaigns.engine import MemberUsage, evaluate
from backend.campaigns.kinds import Basket, Shopper, kind_of
from backend.campaigns.schemas import CampaignIn
from backend.campaigns.service import ONCE_PER_MEMBER, check_campaign
from backend.local_time import StoreClock
from db import sql

WINDOW = timedelta(days=30)
# A batch's replay runs on the event loop between two reads: a thousand sales keep that to
# tens of milliseconds.
BATCH = 1_000
# The most sales one forecast replays: seconds of work for a person at a form, not minutes.
MAX_SALES = 50_000


class StoredLine(msgspec.Struct, frozen=True):
    """A line of a stored sale (``purchase.lines``, written by ``backend.sales.lines``, a
    layer above), as the engine reads it (``loyalty.earning.CheckLine``)."""

    sku: str
    category: str
    quantity: int
    unit_price: int


_lines = msgspec.json.Decoder(list[StoredLine])


def _stored_lines(value: object) -> list[StoredLine]:
    """The column as asyncpg hands it over (text), or already decoded."""
    if isinstance(value, str):
        return _lines.decode(value)
    return msgspec.convert(value or [], list[StoredLine])


# The window's sales after the keyset's last one, with what the sale knew of its member and
# store. The points a sale's tier earned are its points less those of the campaigns that
# applied (the stored answer lists them; a coupon adds none).
_SALES = """
SELECT p.id, p.created_at, p.member, p.store, p.amount, p.lines,
       p.points_earned - COALESCE((
           SELECT sum((o ->> 'points')::bigint)::bigint
           FROM jsonb_array_elements(p.result -> 'offers_applied') AS o
       ), 0) AS base_points,
       m.tier, m.birth_date, m.time_zone AS member_zone, s.category_counts, s.stamps,
       st.time_zone AS store_zone, st.day_starts_at
FROM purchase p
JOIN member m ON m.id = p.member
JOIN store st ON st.id = p.store
LEFT JOIN member_stats s ON s.member = p.member
WHERE p.created_at >= {since} AND p.created_at < {until}
  AND (p.created_at, p.id) > ({after_at}, {after_id})
ORDER BY p.created_at, p.id
LIMIT {batch}
"""
# Visits are counted from the sales, one per sale, as the sale counts them (member_stats):
# those before the window once per member, then each replayed one.
_VISITS_BEFORE = """
SELECT member, count(*) AS visits, max(created_at) AS last_visit_at
FROM purchase WHERE member = ANY({members}) AND created_at < {since}
GROUP BY member
"""


class ForecastDay(msgspec.Struct, frozen=True):
    day: date  # the store's business day of the sales
    sales: int  # touched that day
    points: int


class Forecast(msgspec.Struct, frozen=True, kw_only=True):
    since: datetime
    until: datetime
    sales_replayed: int
    sales_touched: int
    points: int  # the extra points the campaign would have awarded
    stamps: int  # stamp cards: the stamps it would have given
    members_reached: int
    # False when MAX_SALES stopped the replay: it covers since .. replayed_until only.
    complete: bool
    replayed_until: datetime | None
    days: list[ForecastDay]


def draft_as_live(campaign: CampaignIn) -> LiveCampaign:
    """The draft as the engine sees a campaign in effect, whatever its schedule says (the
    forecast asks what it would have done had it run over the window)."""
    kind = kind_of(campaign.rule)
    # As the campaign would be saved (service._columns): a return is rewarded once.
    per_member_limit = campaign.per_member_limit
    if per_member_limit is None and kind in ONCE_PER_MEMBER:
        per_member_limit = 1
    # The draft's terms as drafted (convert leaves out what a live campaign has no field for:
    # the schedule in local time), in effect for the whole window.
    in_effect = {
        "id": uuid.uuid4(),
        "kind": kind,
        "status": "active",
        "starts_at": None,
        "ends_at": None,
        "per_member_limit": per_member_limit,
    }
    return msgspec.convert(msgspec.structs.asdict(campaign) | in_effect, LiveCampaign)


class _Replay:
    """The counts a replay keeps as the engine's sales would: per member, and in total."""

    def __init__(self, campaign: LiveCampaign) -> None:
        self.campaign = campaign
        self.key = str(campaign.id)
        self.shoppers: dict[uuid.UUID, Shopper] = {}  # as of their last replayed sale
        self.usage: dict[uuid.UUID, MemberUsage] = {}
        self.clocks: dict[uuid.UUID, StoreClock] = {}
        self.used = 0
        self.touched = 0
        self.points = 0
        self.stamps = 0
        self.members: set[uuid.UUID] = set()
        self.days: dict[date, list[int]] = defaultdict(lambda: [0, 0])

    async def meet(self, rows: Sequence[sql.Row], since: datetime) -> None:
        """The members of ``rows`` not met yet, with their visits before the window."""
        new = {row["member"]: row for row in rows if row["member"] not in self.shoppers}
        if not new:
            return
        before = {
            visits["member"]: visits
            for visits in await sql.fetch_lagging(_VISITS_BEFORE, members=list(new), since=since)
        }
        for member, row in new.items():
            visits = before.get(member, {"visits": 0, "last_visit_at": None})
            self.shoppers[member] = shopper_from(
                member, {**row, **visits}, default_zone=row["store_zone"]
            )

    def sale(self, row: sql.Row) -> None:
        member: uuid.UUID = row["member"]
        clock = self.clocks.get(row["store"])
        if clock is None:
            clock = self.clocks[row["store"]] = StoreClock.of(
                row["store_zone"], row["day_starts_at"]
            )
        at: datetime = row["created_at"]
        basket = Basket(
            store_id=str(row["store"]),
            clock=clock,
            at=at,
            amount=row["amount"],
            items=_stored_lines(row["lines"]),
            base_points=row["base_points"],
        )
        shopper = self.shoppers[member]
        self.shoppers[member] = replace(shopper, visits=shopper.visits + 1, last_visit_at=at)
        usage = self.usage.get(member) or MemberUsage(frozenset({self.key}), {})
        awards = evaluate([self.campaign], basket, shopper, usage)
        total_limit = self.campaign.total_limit
        if not awards or (total_limit is not None and self.used >= total_limit):
            return
        award = awards[0]
        self.used += 1
        # One use, for good and in the award's period (at_sale's _COUNT_MEMBER_USE).
        periods = dict(usage.periods)
        if award.period is not None:
            periods[self.key] = (award.period, usage.uses_in(self.key, award.period) + 1)
        else:
            periods.pop(self.key, None)
        uses = {self.key: usage.uses.get(self.key, 0) + 1}
        self.usage[member] = MemberUsage(usage.activated, uses, periods)
        self.touched += 1
        self.points += award.points
        self.stamps += award.stamps
        self.members.add(member)
        day = self.days[clock.business_day(at)]
        day[0] += 1
        day[1] += award.points


async def forecast_draft(
    campaign: CampaignIn, *, batch_size: int = BATCH, max_sales: int = MAX_SALES
) -> Forecast:
    """Replay the last ``WINDOW`` of stored sales under ``campaign`` (checked as a create
    would check it first), ``batch_size`` sales a read, ``max_sales`` at most."""
    until = datetime.now(UTC)
    check_campaign(campaign, now=until)
    since = until - WINDOW
    replay = _Replay(draft_as_live(campaign))
    after_at, after_id = since - timedelta(microseconds=1), uuid.UUID(int=0)
    replayed = 0
    complete = True
    while True:
        batch = min(batch_size, max_sales - replayed)
        if batch == 0:
            complete = not await _more(since, until, after_at, after_id)
            break
        rows = await sql.fetch_lagging(
            _SALES, since=since, until=until, after_at=after_at, after_id=after_id, batch=batch
        )
        await replay.meet(rows, since)
        for row in rows:
            replay.sale(row)
        replayed += len(rows)
        if len(rows) < batch:
            break
        after_at, after_id = rows[-1]["created_at"], rows[-1]["id"]
    return Forecast(
        since=since,
        until=until,
        sales_replayed=replayed,
        sales_touched=replay.touched,
        points=replay.points,
        stamps=replay.stamps,
        members_reached=len(replay.members),
        complete=complete,
        replayed_until=None if complete else after_at,
        days=[
            ForecastDay(day, sales, points) for day, (sales, points) in sorted(replay.days.items())
        ],
    )


async def _more(since: datetime, until: datetime, after_at: datetime, after_id: uuid.UUID) -> bool:
    rows = await sql.fetch_lagging(
        _SALES, since=since, until=until, after_at=after_at, after_id=after_id, batch=1
    )
    return bool(rows)
