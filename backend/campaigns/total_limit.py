"""A campaign's total limit, counted exactly without a chain-wide hot row.

A single counter on the ``campaign`` row (``UPDATE campaign SET uses = uses + 1``) is locked
by every sale that applies the campaign until that sale commits: all the chain's sales
applying it queue on one row. Here the limit is split over ``SHARES`` rows of
``campaign_limit_share``, each with its ``quota`` (its part of the limit) and the uses it has
``taken``; the quotas add up to the limit, the campaign's uses are the sum of ``taken``.

A take (``take_one``, in the caller's transaction) is one statement, one round trip: it takes
a use from the first share, starting from the member's own (a hash of their id) and going
round, that has a use left and that no other transaction holds (``FOR UPDATE SKIP LOCKED``):
concurrent sales of different members land on different rows and none waits for another.
Only when every share with a use left is held by a sale still in flight does the statement
take nothing but say that uses are left; the take then tries again after a short pause
(another statement, with a newer snapshot) until it gets one or none is left. So it answers
"ran out" only when no share has a use left, never because of a use that an in-flight sale
may yet give back (a rollback), and never takes more than the limit (``taken < quota``,
checked on the row's newest version under its lock, and the table's check).

Why a pause and not a wait for the row's lock (``FOR UPDATE`` without ``SKIP LOCKED``): a
lock taken on a row whose newest version fails the statement's condition (a share another
sale emptied after the snapshot) is kept to commit, though the row is skipped. Sales near
the limit would then each hold a share they passed over while waiting for another's, and
PostgreSQL finds the cycle and fails one of them (the first version of this did, under the
concurrency test). Here no take ever waits for a share's lock, so such leftovers only make
others skip a share that is empty anyway. A take that must pause holds at most the shares it
took for campaigns before this one in the sale, in the same order in every sale (the
engine's), so pauses do not go round in a circle; ``WAIT_S`` bounds them all the same.

Why ``taken`` and ``quota`` rather than a single ``remaining`` per share: the uses are then a
plain sum that does not depend on the limit, and a change of the limit (``set_total_limit``)
only moves the quotas, never the counts; a campaign whose limit is taken off keeps its
shares (and uses) with nothing left to take.

Unlimited campaigns do not come here: no row is read or locked for them.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

from backend.errors import ValidationFailed
from db import sql
from db.ids import new_id

SHARES = 16
log = logging.getLogger(__name__)

# How long a take keeps trying while all the uses left are held by sales in flight, and
# its first and longest pauses.
WAIT_S = 10.0
FIRST_PAUSE_S = 0.002
LONGEST_PAUSE_S = 0.05

# ``share``: the share a use was taken from (NULL: none); ``left``: whether any share had a
# use left when the statement began (held by sales in flight, when none was taken).
_TAKE_ONE = """
WITH free AS (
    SELECT share FROM campaign_limit_share
    WHERE campaign = {campaign_id} AND taken < quota
    ORDER BY (share + {shares} - {preferred}) % {shares}
    LIMIT 1 FOR UPDATE SKIP LOCKED
), took AS (
    UPDATE campaign_limit_share SET taken = taken + 1
    WHERE campaign = {campaign_id} AND share = (SELECT share FROM free) AND taken < quota
    RETURNING share
)
SELECT (SELECT share FROM took) AS share,
       EXISTS (SELECT FROM campaign_limit_share
               WHERE campaign = {campaign_id} AND taken < quota) AS left
"""
_LOCK_SHARES = """
SELECT share, taken FROM campaign_limit_share WHERE campaign = {campaign_id}
ORDER BY share FOR UPDATE
"""
_SET_QUOTAS = """
INSERT INTO campaign_limit_share (id, campaign, share, taken, quota)
SELECT id, {campaign_id}, share, 0, quota
FROM unnest({ids}::uuid[], {shares}::int[], {quotas}::int[]) AS q(id, share, quota)
ON CONFLICT (campaign, share) DO UPDATE SET quota = EXCLUDED.quota
"""


def preferred_share(member_id: uuid.UUID) -> int:
    """The share a member's takes start from: members spread over the shares."""
    return member_id.int % SHARES


async def take_one(campaign_id: uuid.UUID, member_id: uuid.UUID) -> bool:
    """Count one use against the campaign's total limit, in the caller's transaction (its
    share stays locked until that commits); False when no use is left."""
    deadline = time.monotonic() + WAIT_S
    pause = FIRST_PAUSE_S
    while True:
        (row,) = await sql.fetch(
            _TAKE_ONE,
            campaign_id=campaign_id,
            preferred=preferred_share(member_id),
            shares=SHARES,
        )
        if row["share"] is not None:
            return True
        if not row["left"]:
            return False
        if time.monotonic() >= deadline:
            log.warning("campaign %s: its last uses stayed held by sales in flight", campaign_id)
            return False
        await asyncio.sleep(pause)
        pause = min(pause * 2, LONGEST_PAUSE_S)


def quotas(taken: list[int], total_limit: int | None) -> list[int]:
    """Each share's quota: what it has taken, and its part of what the limit leaves (the
    first shares one more where it does not divide); no more for a campaign without one."""
    left = 0 if total_limit is None else total_limit - sum(taken)
    return [
        count + left // SHARES + (1 if share < left % SHARES else 0)
        for share, count in enumerate(taken)
    ]


async def set_total_limit(campaign_id: uuid.UUID, total_limit: int | None) -> None:
    """Make the shares count ``total_limit`` (None: no limit), keeping the uses counted so
    far; in the caller's transaction. Waits for the sales holding a share to commit. A
    limit below the uses counted is refused."""
    rows = await sql.fetch(_LOCK_SHARES, campaign_id=campaign_id)
    if total_limit is None and not rows:
        return
    taken = [0] * SHARES
    for row in rows:
        taken[row["share"]] = row["taken"]
    used = sum(taken)
    if total_limit is not None and total_limit < used:
        raise ValidationFailed(
            f"total_limit is below the {used} uses counted so far", field="total_limit"
        )
    await sql.fetch(
        _SET_QUOTAS,
        campaign_id=campaign_id,
        ids=[new_id() for _ in range(SHARES)],
        shares=list(range(SHARES)),
        quotas=quotas(taken, total_limit),
    )
