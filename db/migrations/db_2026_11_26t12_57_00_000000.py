"""Fill the store day counters from the purchases made before they existed."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-26T12:57:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "store day counters from earlier purchases"

_MEMBERS = """
INSERT INTO store_day_member (id, store, day, member)
SELECT gen_random_uuid(), store, (created_at AT TIME ZONE 'UTC')::date, member
FROM purchase GROUP BY 2, 3, 4
"""

_DAYS = """
INSERT INTO store_day (id, store, day, sales, sales_amount, points_earned, points_redeemed,
                       points_reversed, refunded_amount, active_members, new_members)
SELECT gen_random_uuid(), p.store, (p.created_at AT TIME ZONE 'UTC')::date, COUNT(*),
       COALESCE(SUM(p.paid_amount), 0), COALESCE(SUM(p.points_earned), 0),
       COALESCE(SUM(p.points_redeemed), 0), COALESCE(SUM(p.points_reversed), 0),
       COALESCE(SUM(p.refunded_amount * p.paid_amount / p.amount), 0),
       COUNT(DISTINCT p.member),
       COUNT(DISTINCT p.member) FILTER (
           WHERE (m.created_at AT TIME ZONE 'UTC')::date = (p.created_at AT TIME ZONE 'UTC')::date
       )
FROM purchase p JOIN member m ON m.id = p.member
GROUP BY 2, 3
"""


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="db", description=DESCRIPTION)

    async def run():
        await engine_finder().run_ddl(_MEMBERS)
        await engine_finder().run_ddl(_DAYS)

    async def run_backwards():
        await engine_finder().run_ddl("DELETE FROM store_day")
        await engine_finder().run_ddl("DELETE FROM store_day_member")

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
