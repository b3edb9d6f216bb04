"""Points about to expire, per member and local date: what the daily notices (a member's push,
a partner's ``points.expiring``) are told from.

``EXPIRING_DAYS`` is the head of a statement (its ``WITH``), ended by its user's ``SELECT``
from ``days`` (member, day, points): the points of each member's available lots expiring on
each local day (the member's zone, or ``{program}``'s) from now to ``{days}`` days after
their local today, for the members of ``{zones}``. The lots are read first, through
``point_lot_expiring``, the range bounded by instants (``{horizon}``: ``days`` and two more,
enough for any zone's local today); ``MATERIALIZED``, as otherwise the planner walks the
members in id order and reads each one's lots (seen at 20,000 members).
"""

from __future__ import annotations

EXPIRING_DAYS = """
WITH soon AS MATERIALIZED (
    SELECT account, expires_at, remaining FROM point_lot
    WHERE remaining > 0 AND status = 'available'
      AND expires_at > {now} AND expires_at < {horizon}
), days AS (
    SELECT a.member, (l.expires_at AT TIME ZONE z.tz)::date AS day, SUM(l.remaining) AS points
    FROM soon l
    JOIN account a ON a.id = l.account
    JOIN member m ON m.id = a.member
    JOIN unnest({zones}::text[]) AS z(tz) ON z.tz = COALESCE(m.time_zone, {program})
    WHERE (l.expires_at AT TIME ZONE z.tz)::date
          <= ({now}::timestamptz AT TIME ZONE z.tz)::date + {days}::int
    GROUP BY a.member, day
)
"""
