"""Campaigns in local time (issue: the chain's clock).

* ``campaign.schedule_time_zone``: the zone a campaign's start and end were given in.
* ``campaign.per_member_period``: a per-member limit per day, week, month or year.
* ``member_offer.period_start`` / ``period_uses``: the uses in the current period (or for the
  current birthday) next to the lifetime ``uses``.

Existing data keeps its meaning:

* Campaign days and hours were stated in UTC; they are now read on each store's wall clock.
  They are moved to the program's zone (``ASTROCOFFEE_PROGRAM_TIME_ZONE``, read as the
  service reads it) by its current UTC offset, so they mean what they meant in the stores of
  that zone: 04:00-08:00 UTC on Monday becomes 07:00-11:00 on Monday in Moscow, and
  22:00-23:00 UTC on Sunday becomes 01:00-02:00 on Monday. Days without hours (whole UTC
  days) stay the days of the same names.
* A birthday campaign used to default to once per member for good (``per_member_limit`` 1);
  it now pays once per birthday, so that default is dropped, and a member already paid is
  counted as paid for the birthday nearest that payment (their zone, else the program's).

Written by hand so that the rows are moved between adding a column and relying on it; each
statement may also run over tables that already have the columns (the schema test builds
the declared tables and then runs these).
"""

import os
from datetime import datetime


from backend.local_time import is_zone, zone
from backend.settings import Settings
from db.sql_migration import statements_migration

ID = "2026-12-07T00:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "campaign schedules in a named zone, per-member limits per period, birthdays yearly"


def program_time_zone() -> str:
    """The zone the service would read from its environment (only a known zone's name, so
    it is safe to write into the statements)."""
    name = os.environ.get("ASTROCOFFEE_PROGRAM_TIME_ZONE") or Settings().program_time_zone
    if not is_zone(name):
        raise ValueError(f"ASTROCOFFEE_PROGRAM_TIME_ZONE: {name!r} is not an IANA zone")
    return name


def offset_minutes(name: str) -> int:
    """The zone's UTC offset now, in minutes (east positive)."""
    offset = datetime.now(zone(name)).utcoffset()
    assert offset is not None
    return int(offset.total_seconds() // 60)


def _minutes_of(path: str) -> str:
    return f"(split_part({path}, ':', 1)::int * 60 + split_part({path}, ':', 2)::int + {{offset}})"


def _hh_mm(minutes: str) -> str:
    day = f"((({minutes}) % 1440 + 1440) % 1440)"
    return f"lpad(({day} / 60)::text, 2, '0') || ':' || lpad(({day} % 60)::text, 2, '0')"


def move_hours_sql(offset: int) -> str:
    """Campaign hours stated in UTC, moved to the wall clock ``offset`` minutes east of it;
    the days of the week follow the window's start across midnight."""
    start = _minutes_of("targeting->'hours'->>'from'").format(offset=int(offset))
    end = _minutes_of("targeting->'hours'->>'to'").format(offset=int(offset))
    return f"""
WITH moved AS (
    SELECT id, {start} AS start_minute, {end} AS end_minute FROM campaign
    WHERE jsonb_typeof(targeting->'hours') = 'object'
)
UPDATE campaign c SET targeting = c.targeting
    || jsonb_build_object('hours', jsonb_build_object(
        'from', {_hh_mm("m.start_minute")}, 'to', {_hh_mm("m.end_minute")}))
    || CASE WHEN jsonb_typeof(c.targeting->'days_of_week') = 'array' THEN
        jsonb_build_object('days_of_week', (
            SELECT COALESCE(jsonb_agg(day ORDER BY day), '[]'::jsonb) FROM (
                SELECT DISTINCT ((d::int + floor(m.start_minute / 1440.0)::int) % 7 + 7) % 7 AS day
                FROM jsonb_array_elements_text(c.targeting->'days_of_week') d
            ) days
        ))
    ELSE '{{}}'::jsonb END
FROM moved m WHERE c.id = m.id
"""  # noqa: S608 (only integers and fixed fragments are formatted in)


def paid_birthdays_sql(program_zone: str) -> str:
    """Members a birthday campaign already paid: counted for the birthday nearest the
    payment, on their calendar (29 February is 1 March in a common year)."""
    return f"""
UPDATE member_offer o SET period_uses = 1, period_start = (
    SELECT b.day FROM member m
    CROSS JOIN LATERAL (
        SELECT (o.updated_at AT TIME ZONE COALESCE(m.time_zone, '{program_zone}'))::date AS today
    ) t
    CROSS JOIN LATERAL generate_series(
        EXTRACT(year FROM t.today)::int - 1, EXTRACT(year FROM t.today)::int + 1
    ) AS y
    CROSS JOIN LATERAL (
        SELECT CASE
            WHEN EXTRACT(month FROM m.birth_date) = 2 AND EXTRACT(day FROM m.birth_date) = 29
                AND NOT (y % 4 = 0 AND (y % 100 <> 0 OR y % 400 = 0))
            THEN make_date(y, 3, 1)
            ELSE make_date(
                y, EXTRACT(month FROM m.birth_date)::int, EXTRACT(day FROM m.birth_date)::int
            )
        END AS day
    ) b
    WHERE m.id = o.member AND m.birth_date IS NOT NULL
    ORDER BY abs(b.day - t.today) LIMIT 1
)
FROM campaign c
WHERE c.id = o.campaign AND c.kind = 'birthday' AND o.coupon_code IS NULL AND o.uses > 0
    AND o.period_start IS NULL
"""  # noqa: S608 (only a known zone's name is formatted in)


FORWARDS_SQL = (
    "ALTER TABLE campaign ADD COLUMN IF NOT EXISTS schedule_time_zone character varying(64) "
    "NULL DEFAULT NULL",
    "ALTER TABLE campaign ADD COLUMN IF NOT EXISTS per_member_period character varying(8) "
    "NULL DEFAULT NULL",
    """
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'known_member_period') THEN
        ALTER TABLE campaign ADD CONSTRAINT known_member_period
            CHECK (per_member_period IN ('day', 'week', 'month', 'year'));
    END IF;
END
$$
""",
    "ALTER TABLE member_offer ADD COLUMN IF NOT EXISTS period_start date NULL DEFAULT NULL",
    "ALTER TABLE member_offer ADD COLUMN IF NOT EXISTS period_uses integer NOT NULL DEFAULT 0",
    move_hours_sql(offset_minutes(program_time_zone())),
    "UPDATE campaign SET per_member_limit = NULL WHERE kind = 'birthday' AND per_member_limit = 1",
    paid_birthdays_sql(program_time_zone()),
)

BACKWARDS_SQL = (
    "ALTER TABLE member_offer DROP COLUMN IF EXISTS period_uses",
    "ALTER TABLE member_offer DROP COLUMN IF EXISTS period_start",
    "ALTER TABLE campaign DROP CONSTRAINT IF EXISTS known_member_period",
    "ALTER TABLE campaign DROP COLUMN IF EXISTS per_member_period",
    "ALTER TABLE campaign DROP COLUMN IF EXISTS schedule_time_zone",
)


forwards = statements_migration(ID, DESCRIPTION, FORWARDS_SQL, BACKWARDS_SQL)
