"""The daily push notices and the partner feed's enrolments (issue #21): the indexes their
set-based reads need at a million members.

- ``member_birthday``: the members whose birthday is a given month and day (the birthday
  push's daily run reads one day's members, never the whole table);
- ``member_enrolled``: the members enrolled since the partner feed's last run
  (``member.enrolled``);
- ``marketing_consent_latest``: a member's newest consent on a channel (the consent in
  force, asked for each marketing push).

The points-expiring notice reads the lots through ``point_lot_expiring`` (already there).
"""

from db.sql_migration import statements_migration

ID = "2026-12-07T12:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "member_birthday, member_enrolled, marketing_consent_latest indexes"

FORWARDS_SQL = (
    "CREATE INDEX IF NOT EXISTS member_birthday ON member"
    " ((EXTRACT(MONTH FROM birth_date)), (EXTRACT(DAY FROM birth_date)))"
    " WHERE birth_date IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS member_enrolled ON member (created_at)",
    "CREATE INDEX IF NOT EXISTS marketing_consent_latest ON marketing_consent"
    " (member, channel, at DESC, id DESC)",
)
BACKWARDS_SQL = (
    "DROP INDEX IF EXISTS marketing_consent_latest",
    "DROP INDEX IF EXISTS member_enrolled",
    "DROP INDEX IF EXISTS member_birthday",
)

forwards = statements_migration(ID, DESCRIPTION, FORWARDS_SQL, BACKWARDS_SQL)
