"""Push notifications (issue #21): the devices members register (Web Push subscriptions, FCM
and APNs tokens, one row per provider and token) and each member's notification settings.

Written by hand so that each statement may also run over tables that already exist (the
schema test builds the declared tables and then runs these).
"""

from db.sql_migration import statements_migration

ID = "2026-12-07T11:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "member_device, notification_settings"


FORWARDS_SQL = (
    'CREATE TABLE IF NOT EXISTS "member_device" ("id" UUID PRIMARY KEY NOT NULL,'
    ' "member" UUID NOT NULL REFERENCES "member" ("id") ON DELETE RESTRICT'
    " ON UPDATE CASCADE DEFAULT null, \"provider\" VARCHAR(8) NOT NULL DEFAULT '',"
    ' "token" VARCHAR(2000) NOT NULL DEFAULT \'\', "p256dh" VARCHAR(100) DEFAULT null,'
    ' "auth" VARCHAR(40) DEFAULT null,'
    ' "created_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,'
    ' "updated_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp)',
    'CREATE INDEX IF NOT EXISTS member_device_member ON "member_device" USING btree ("member")',
    'CREATE TABLE IF NOT EXISTS "notification_settings" ("member" UUID PRIMARY KEY NOT NULL'
    ' REFERENCES "member" ("id") ON DELETE RESTRICT ON UPDATE CASCADE DEFAULT null,'
    " \"kinds_off\" VARCHAR(24)[] NOT NULL DEFAULT '{}',"
    " \"language\" VARCHAR(2) NOT NULL DEFAULT 'ru',"
    ' "updated_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp)',
    # The constraints, each only where it is not there yet (the schema test runs these over
    # the declared tables).
    """
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'one_per_token'
                   AND conrelid = 'member_device'::regclass) THEN
        ALTER TABLE member_device ADD CONSTRAINT one_per_token UNIQUE (provider, token);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'known_provider'
                   AND conrelid = 'member_device'::regclass) THEN
        ALTER TABLE member_device
            ADD CONSTRAINT known_provider CHECK (provider IN ('webpush', 'fcm', 'apns'));
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'known_language'
                   AND conrelid = 'notification_settings'::regclass) THEN
        ALTER TABLE notification_settings
            ADD CONSTRAINT known_language CHECK (language IN ('ru', 'en'));
    END IF;
END
$$
""",
)

BACKWARDS_SQL = (
    "DROP TABLE IF EXISTS notification_settings",
    "DROP TABLE IF EXISTS member_device",
)

forwards = statements_migration(ID, DESCRIPTION, FORWARDS_SQL, BACKWARDS_SQL)
