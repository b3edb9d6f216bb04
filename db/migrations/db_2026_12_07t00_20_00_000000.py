"""Store days and accounting dates in each store's own calendar (issue: the chain's clock).

What a stored day means changed: ``store_day`` and ``store_day_member`` rows were keyed by
the UTC date of the sale; they are now keyed by the store's business day (its local date in
its zone, from its ``day_starts_at`` hour), and an accounting document's ``business_date`` is
the store's business day (sales, refunds) or the program zone's date (movements no store
made). The rows are moved, nothing lost:

* The day counters are recounted from the purchases they count, which keep everything they
  were made of: a sale counts on its business day (``sales``, the paid ``sales_amount``,
  points earned and redeemed, its buyer once per day, as new when they joined on that day),
  and its refunds on the same day (``points_reversed``, and the paid share refunded, which
  the refunds added up as ``refunded * paid // amount``, telescoped to the purchase's
  totals).
* Documents not yet delivered (pending, or dead letters to retry) are re-dated, column and
  payload, in their store's calendar, or the program zone's (``ASTROCOFFEE_PROGRAM_TIME_ZONE``,
  read as the service reads it). Delivered ones keep the date the accounting system booked
  them under: reconciliation compares our dates with its books, which do not move.

Backwards recounts and re-dates in UTC days. The local dates here are PostgreSQL's reading of
the zones (the service uses Python's ``zoneinfo``; both are the IANA database). Data only: no
schema change, so the schema test has nothing of it to run.
"""

import os

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder
from piccolo.querystring import QueryString

from backend.local_time import is_zone
from backend.settings import Settings

ID = "2026-12-07T00:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "store days and accounting business dates in each store's local calendar"


def program_time_zone() -> str:
    """The zone the service would read from its environment."""
    name = os.environ.get("ASTROCOFFEE_PROGRAM_TIME_ZONE") or Settings().program_time_zone
    if not is_zone(name):
        raise ValueError(f"ASTROCOFFEE_PROGRAM_TIME_ZONE: {name!r} is not an IANA zone")
    return name


# Each statement takes {} twice: the zone of a store (NULL: its own) and whether its day
# starts at its day_starts_at (false: at midnight); forwards passes (NULL, true), backwards
# ('UTC', false). The business day of an instant t in store s is then
# (t AT TIME ZONE zone - day_starts_at hours)::date, as StoreClock.business_day reads it.
CLEAR = ("DELETE FROM store_day_member", "DELETE FROM store_day")
RECOUNT = (
    """
WITH calendar AS (
    SELECT s.id AS store, COALESCE({}::text, s.time_zone) AS zone,
           CASE WHEN {}::boolean THEN s.day_starts_at ELSE 0 END AS day_starts_at
    FROM store s
), sold AS (
    SELECT p.store, p.member,
           ((p.created_at AT TIME ZONE c.zone) - make_interval(hours => c.day_starts_at))::date
               AS day
    FROM purchase p JOIN calendar c ON c.store = p.store
)
INSERT INTO store_day_member (id, store, day, member)
SELECT gen_random_uuid(), store, day, member FROM sold GROUP BY store, day, member
""",
    """
WITH calendar AS (
    SELECT s.id AS store, COALESCE({}::text, s.time_zone) AS zone,
           CASE WHEN {}::boolean THEN s.day_starts_at ELSE 0 END AS day_starts_at
    FROM store s
), sold AS (
    SELECT p.*,
           ((p.created_at AT TIME ZONE c.zone) - make_interval(hours => c.day_starts_at))::date
               AS day,
           ((m.created_at AT TIME ZONE c.zone) - make_interval(hours => c.day_starts_at))::date
               AS joined
    FROM purchase p JOIN calendar c ON c.store = p.store JOIN member m ON m.id = p.member
)
INSERT INTO store_day (id, store, day, sales, sales_amount, points_earned, points_redeemed,
                       points_reversed, refunded_amount, active_members, new_members)
SELECT gen_random_uuid(), store, day, COUNT(*), SUM(paid_amount), SUM(points_earned),
       SUM(points_redeemed), SUM(points_reversed),
       SUM(CASE WHEN amount > 0 THEN refunded_amount * paid_amount / amount ELSE 0 END),
       COUNT(DISTINCT member), COUNT(DISTINCT member) FILTER (WHERE joined = day)
FROM sold GROUP BY store, day
""",
)

# {}: the zone of store-less documents (forwards: the program's; backwards: UTC), then the
# zone of stores' documents and whether their day-start hour counts, as in RECOUNT.
REDATE = """
WITH dated AS (
    SELECT o.id,
           CASE WHEN s.id IS NULL THEN (o.created_at AT TIME ZONE {}::text)::date
                ELSE ((o.created_at AT TIME ZONE COALESCE({}::text, s.time_zone))
                      - make_interval(hours => CASE WHEN {}::boolean
                                                    THEN s.day_starts_at ELSE 0 END))::date
           END AS day
    FROM outbox_message o LEFT JOIN store s ON s.id::text = o.payload->>'store_id'
    WHERE o.destination = 'accounting' AND o.status <> 'delivered'
)
UPDATE outbox_message o
SET business_date = dated.day,
    payload = jsonb_set(o.payload, ARRAY['business_date'], to_jsonb(dated.day::text))
FROM dated WHERE o.id = dated.id
"""


async def move_days(*, local: bool) -> None:
    """Recount the store days and re-date undelivered documents: in local calendars, or
    (``local`` false) in UTC days."""
    engine = engine_finder()
    assert engine is not None
    store_zone = None if local else "UTC"
    for statement in CLEAR:
        await engine.run_querystring(QueryString(statement))
    for statement in RECOUNT:
        await engine.run_querystring(QueryString(statement, store_zone, local))
    unstored_zone = program_time_zone() if local else "UTC"
    await engine.run_querystring(QueryString(REDATE, unstored_zone, store_zone, local))


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="db", description=DESCRIPTION)

    async def run():
        await move_days(local=True)

    async def run_backwards():
        await move_days(local=False)

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
