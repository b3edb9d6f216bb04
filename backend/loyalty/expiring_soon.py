"""Points about to expire, per member and local date: what the daily notices (a member's push,
a partner's ``points.expiring``) are told from.

``EXPIRING_DAYS`` is the head of a statement (its ``WITH``), ended by its user's ``SELECT``
from ``days`` (member, day, points): the points of each member's available lots expiring on
each local day (the member's zone, or ``{program}``'s) from now to ``{days}`` days after
their local today, for the members of ``{zones}``. The lots are read first, through
``point_lot_expiring``, the range bounded by instants (``{horizon}``: ``days`` and two more,
enough for any zone's local today). Its cost is the lots expiring soon, never the members:
``MATERIALIZED``, as otherwise the planner walks the members in id order and reads each
one's lots (seen at 20,000 members); and each lot's account and member by their keys in a
``LATERAL`` that ``OFFSET 0`` keeps from being flattened, as otherwise the planner, guessing
the zone filter keeps few members, hashes every member and account (seen at 200,000: 855,000
buffers against 130,000).
"""

from __future__ import annotations

EXPIRING_DAYS = """
WITH soon AS MATERIALIZED (
    SELECT account, expires_at, remaining FROM point_lot
    WHERE remaining > 0 AND status = 'available'
      AND expires_at > {now} AND expires_at < {horizon}
), zoned AS (
    SELECT who.member, l.expires_at, l.remaining, who.tz
    FROM soon l
    CROSS JOIN LATERAL (
        SELECT a.member, COALESCE(m.time_zone, {program}) AS tz
        FROM account a JOIN member m ON m.id = a.member
        WHERE a.id = l.account
        OFFSET 0
    ) who
    WHERE who.tz = ANY({zones}::text[])
), days AS (
    SELECT member, (expires_at AT TIME ZONE tz)::date AS day, SUM(remaining) AS points
    FROM zoned
    WHERE (expires_at AT TIME ZONE tz)::date
          <= ({now}::timestamptz AT TIME ZONE tz)::date + {days}::int
    GROUP BY member, day
)
"""
