"""A member's use of a campaign by one index (issue #24): ``member_offer_use`` on
``(member, campaign) WHERE coupon_code IS NULL``, the row a campaign's uses per member are
counted on (``backend.campaigns.at_sale``: ``_COUNT_MEMBER_USE``, ``_FIRST_MEMBER_USE``;
an activation in ``backend.campaigns.offers``).

Those statements find it by ``member = {member} AND campaign = {campaign} AND coupon_code IS
NULL``. Without statistics of the table (a prepared statement's generic plan, or autovacuum
off: this machine's PostgreSQL), ``coupon_code IS NULL`` looked selective and the plan ANDed
``member_offer_member`` with the unique index on ``coupon_code``, reading its every NULL, that
is every member's offers, 34 times a second in the load test, more each minute. This index
names the row exactly; it is written once per member and campaign (the uses counted after
are updates of columns no index holds).
"""

from db.sql_migration import statements_migration

ID = "2026-12-07T13:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "member_offer_use (member, campaign) WHERE coupon_code IS NULL"

FORWARDS_SQL = (
    "CREATE INDEX IF NOT EXISTS member_offer_use ON member_offer (member, campaign)"
    " WHERE coupon_code IS NULL",
)
BACKWARDS_SQL = ("DROP INDEX IF EXISTS member_offer_use",)

forwards = statements_migration(ID, DESCRIPTION, FORWARDS_SQL, BACKWARDS_SQL)
