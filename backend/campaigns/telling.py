"""Telling a targeted campaign's audience, a batch of members at a time, each member once.

A campaign coming into effect tells its audience ``offer.available``, one leaving it
``offer.expired`` (``backend.campaigns.live``). For everyone that is one broadcast event,
stored in the change's own transaction. For a targeted campaign the change's transaction
records a telling instead (``campaign_telling``: the event, the moment the audience is judged
at, the last member reached), and the audience is told in batches of ``BATCH`` members by id:

- a batch is one transaction: it locks the telling, takes the next ``BATCH`` member ids after
  the one reached (a window of the account table's member index, so a statement's work is
  bounded by the batch whatever the audience's share of the chain: a rare audience does not
  make one statement walk every member), stores the event for the audience within that
  window (``MEMBERS.append_to_each``) and moves the telling's ``reached`` past the window;
- the events and the progress commit together: a batch cut short (a crash, the task
  cancelled by a lost lease, a closed connection) leaves neither and is done again by the
  next run, a batch that committed is never done again, so each member of the audience is
  told exactly once;
- the tellings of one campaign are told in the order they were made (an offer's end never
  reaches a member before its start), those of different campaigns side by side (SKIP
  LOCKED);
- the change's own request (or the scheduler's start or end of the campaign) tells the first
  batch right after its commit, so a small audience hears at once as before; the scheduler's
  job (``tell_audiences``) tells the rest within a time budget per run.

The events of a batch are published after its commit, in bounded pipelines
(``realtime.publisher``). A member who joins the audience later (enrols, changes tier) is told
nothing, as before: ``GET /v1/me/offers`` judges the audience at the time it is asked.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec

from backend.campaigns.catalogue import LiveCampaign
from backend.campaigns.live import audience_conditions, offer_data
from backend.campaigns.targeting import Targeting
from backend.streams.broadcast import BROADCASTS
from backend.streams.member import MEMBERS
from backend.streams.stream import json_text
from db import sql
from db.ids import new_id
from db.pool import engine
from realtime.publisher import EventPublisher, Outgoing

log = logging.getLogger(__name__)

# Members per batch (per statement, per transaction): at the 1M-member chain's measured rate
# a batch holds its accounts' locks for about a second (docs/performance.md).
BATCH = 5_000
# What one scheduler run may spend telling: a third of its 30-s interval, like expiry.
BUDGET_S = 10.0
_NOBODY = uuid.UUID(int=0)

# The oldest unfinished telling whose campaign has no older one unfinished (in order per
# campaign), that nobody else is telling now; through campaign_telling_unfinished.
_NEXT = """
SELECT t.id, t.campaign, t.type, t.data, t.audience_at, t.reached, c.targeting
FROM campaign_telling t JOIN campaign c ON c.id = t.campaign
WHERE t.finished_at IS NULL AND ({campaign}::uuid IS NULL OR t.campaign = {campaign})
  AND NOT EXISTS (SELECT 1 FROM campaign_telling e WHERE e.campaign = t.campaign
                  AND e.finished_at IS NULL AND e.id < t.id)
ORDER BY t.id LIMIT 1
FOR UPDATE OF t SKIP LOCKED
"""
# The window of a batch: the next ``{batch}`` member ids after ``{after}`` (fewer: the last
# window), read once from the account index so that the audience statement and the progress
# agree on it even while members enrol.
_WINDOW = (
    "SELECT COALESCE(array_agg(member ORDER BY member), '{{}}') AS members FROM "
    "(SELECT member FROM account WHERE member > {after} ORDER BY member LIMIT {batch}) w"
)
_MOVE_ON = """
UPDATE campaign_telling SET reached = {reached}, told = told + {told},
       finished_at = CASE WHEN {finished} THEN {now}::timestamptz END
WHERE id = {id}
"""


@dataclass(frozen=True, slots=True)
class Batch:
    """One batch told: the telling, the members told in it, and whether it was the last."""

    telling: uuid.UUID
    told: int
    finished: bool


async def begin_telling(campaign: LiveCampaign, type: str, *, now: datetime) -> list[Outgoing]:
    """Inside the campaign change's transaction: a campaign for everyone tells everyone now
    (one broadcast event: publish what this returns after commit); a targeted one records a
    telling, told by ``tell_audiences``."""
    data = offer_data(campaign)
    if campaign.targeting.everyone:
        return await BROADCASTS.append(None, [(type, data)])
    await sql.fetch(
        "INSERT INTO campaign_telling (id, campaign, type, data, audience_at, created_at) "
        "VALUES ({id}, {campaign}, {type}, {data}::jsonb, {now}, {now})",
        id=new_id(),
        campaign=campaign.id,
        type=type,
        data=json_text(data),
        now=now,
    )
    return []


# The members a targeting can match (``live.AUDIENCE_FROM``'s rows), for a window of account
# rows: the member and their stats looked up by key for each account, in subqueries the
# planner keeps as such (OFFSET 0), so no join of a batch can turn into a scan of a table
# that grows with the chain, whatever the planner estimates.
_WINDOW_FROM = (
    "SELECT a.member FROM account a "
    "CROSS JOIN LATERAL (SELECT tier FROM member WHERE id = a.member OFFSET 0) m "
    "LEFT JOIN LATERAL (SELECT visits, last_visit_at, category_counts FROM member_stats "
    "WHERE member = a.member OFFSET 0) s ON TRUE"
)


def audience_window(
    targeting: Targeting, at: datetime, window: list[uuid.UUID]
) -> tuple[str, dict[str, Any]]:
    """SQL selecting the audience's account rows among the members ``window`` names (an
    array of ids, read by the account's member key), locked in member order, and its
    parameters."""
    where, params = audience_conditions(targeting, at)
    # Only fixed fragments are joined; every value is a bound parameter.
    audience = (
        f"{_WINDOW_FROM} WHERE a.member = ANY({{window}}::uuid[]) AND {where} "
        "ORDER BY a.member FOR UPDATE OF a"
    )
    return audience, {**params, "window": window}


async def tell_batch(
    publisher: EventPublisher, *, campaign: uuid.UUID | None = None, batch: int = BATCH
) -> Batch | None:
    """Tell the next batch of a telling (of ``campaign``, or the oldest of any), in one
    transaction, and publish its events after commit; None: nothing to tell now."""
    async with engine().transaction():
        rows = await sql.fetch(_NEXT, campaign=campaign)
        if not rows:
            return None
        telling = rows[0]
        after = telling["reached"] or _NOBODY
        window = list((await sql.fetch(_WINDOW, after=after, batch=batch))[0]["members"])
        targeting = msgspec.convert(sql.loaded_json(telling["targeting"]), Targeting)
        audience, params = audience_window(targeting, telling["audience_at"], window)
        now = datetime.now(UTC)
        events = await MEMBERS.append_to_each(
            audience, params, type=telling["type"], data=sql.loaded_json(telling["data"]), at=now
        )
        finished = len(window) < batch
        await sql.fetch(
            _MOVE_ON,
            id=telling["id"],
            reached=window[-1] if window else after,
            told=len(events),
            finished=finished,
            now=now,
        )
    await publisher.publish(events)
    return Batch(telling=telling["id"], told=len(events), finished=finished)


async def tell_audiences(
    publisher: EventPublisher,
    *,
    campaign: uuid.UUID | None = None,
    batch: int = BATCH,
    batches: int | None = None,
    budget_s: float = BUDGET_S,
) -> int:
    """Tell batches until no telling is left, ``batches`` were told, or ``budget_s`` seconds
    have passed (a batch started is finished); return how many members were told."""
    deadline = time.monotonic() + budget_s
    told, done = 0, 0
    while (batches is None or done < batches) and time.monotonic() < deadline:
        told_now = await tell_batch(publisher, campaign=campaign, batch=batch)
        if told_now is None:
            break
        told += told_now.told
        done += 1
    return told


async def tell_first_batch(
    publisher: EventPublisher, campaign: uuid.UUID, *, batch: int = BATCH
) -> None:
    """Right after a campaign's change commits: its audience's first batch (all of a small
    one). A failure here is left to the scheduler's job, which tells the same batch next
    run: the change itself is done and must not be reported as failed."""
    try:
        await tell_audiences(publisher, campaign=campaign, batch=batch, batches=1)
    except Exception:
        log.warning(
            "campaign %s: its first batch is left to the scheduler", campaign, exc_info=True
        )
