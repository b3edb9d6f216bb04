"""Campaign total limits without a chain-wide hot row (issue #24): a limited campaign's uses
are counted in ``campaign_limit_share``, SHARES rows per campaign, instead of by an
``UPDATE campaign SET uses = uses + 1`` that every sale applying the campaign queued on
(``backend.campaigns.total_limit``).

Each campaign with a limit (or with uses counted) gets its shares: the uses counted so far in
share 0, and what the limit leaves split over the shares as evenly as it goes; then
``campaign.uses`` (and its check) goes, the uses being the sum of the shares' ``taken``.
Backwards puts the sum back in ``campaign.uses``.

Written by hand so that each statement may also run over tables that already exist (the
schema test builds the declared tables and then runs these): the move of the counts only
runs while ``campaign.uses`` is still there.
"""

from db.sql_migration import statements_migration

ID = "2026-12-07T13:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "campaign_limit_share; campaign.uses is the sum of its shares"

FORWARDS_SQL = (
    'CREATE TABLE IF NOT EXISTS "campaign_limit_share" ("id" UUID PRIMARY KEY NOT NULL,'
    ' "campaign" UUID NOT NULL REFERENCES "campaign" ("id") ON DELETE RESTRICT'
    ' ON UPDATE CASCADE DEFAULT null, "share" INTEGER NOT NULL DEFAULT 0,'
    ' "taken" INTEGER NOT NULL DEFAULT 0, "quota" INTEGER NOT NULL DEFAULT 0)',
    """
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'one_per_campaign_share'
                   AND conrelid = 'campaign_limit_share'::regclass) THEN
        ALTER TABLE campaign_limit_share
            ADD CONSTRAINT one_per_campaign_share UNIQUE (campaign, share);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'taken_within_quota'
                   AND conrelid = 'campaign_limit_share'::regclass) THEN
        ALTER TABLE campaign_limit_share
            ADD CONSTRAINT taken_within_quota CHECK (taken >= 0 AND taken <= quota);
    END IF;
END
$$
""",
    # The counts so far: share 0 holds them, and the limit's rest is split over the 16
    # shares (backend.campaigns.total_limit.SHARES), the first ones one more where it does
    # not divide. A campaign without a limit but with uses (a limit taken off a draft) keeps
    # them, with nothing left to take.
    """
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM information_schema.columns
               WHERE table_schema = 'public' AND table_name = 'campaign'
               AND column_name = 'uses') THEN
        INSERT INTO campaign_limit_share (id, campaign, share, taken, quota)
        SELECT gen_random_uuid(), c.id, s.share,
               CASE WHEN s.share = 0 THEN c.uses ELSE 0 END,
               CASE WHEN s.share = 0 THEN c.uses ELSE 0 END
               + CASE WHEN c.total_limit IS NULL THEN 0
                      ELSE (c.total_limit - c.uses) / 16
                           + CASE WHEN s.share < (c.total_limit - c.uses) % 16
                                  THEN 1 ELSE 0 END
                 END
        FROM campaign c CROSS JOIN generate_series(0, 15) AS s(share)
        WHERE c.total_limit IS NOT NULL OR c.uses > 0
        ON CONFLICT (campaign, share) DO NOTHING;
        ALTER TABLE campaign DROP CONSTRAINT IF EXISTS uses_within_limit;
        ALTER TABLE campaign DROP COLUMN uses;
    END IF;
END
$$
""",
)
BACKWARDS_SQL = (
    "ALTER TABLE campaign ADD COLUMN IF NOT EXISTS uses INTEGER NOT NULL DEFAULT 0",
    "UPDATE campaign c SET uses = s.taken FROM (SELECT campaign, sum(taken)::int AS taken"
    " FROM campaign_limit_share GROUP BY campaign) s WHERE s.campaign = c.id",
    "ALTER TABLE campaign ADD CONSTRAINT uses_within_limit"
    " CHECK (total_limit IS NULL OR uses <= total_limit)",
    "DROP TABLE IF EXISTS campaign_limit_share",
)

forwards = statements_migration(ID, DESCRIPTION, FORWARDS_SQL, BACKWARDS_SQL)
