"""DATABASE_PGBOUNCER and DATABASE_MIGRATION_URL: migrations never go through PgBouncer."""

from __future__ import annotations

import pytest

from backend.settings import SettingsError, load_settings

POOLED = {
    "DATABASE_URL": "postgresql://app@pgbouncer:6432/astrocoffee",
    "REDIS_URL": "redis://cache/0",
    "DATABASE_PGBOUNCER": "true",
}
DIRECT = "postgresql://app@primary:5432/astrocoffee"
PRODUCTION = {
    "ASTROCOFFEE_ENVIRONMENT": "production",
    "ASTROCOFFEE_SECRET_KEY": "s" * 40,
    "ASTROCOFFEE_SMS_GATEWAY_URL": "https://sms.example/send",
    "ASTROCOFFEE_PAYMENT_WEBHOOK_SECRET": "w" * 32,
    "ASTROCOFFEE_ACCOUNTING_URL": "https://accounting.example",
    "ASTROCOFFEE_PAYMENT_PROVIDER_URL": "https://payments.example",
}


def test_migrations_use_the_direct_url() -> None:
    settings = load_settings({**POOLED, "DATABASE_MIGRATION_URL": DIRECT})
    assert settings.database_pgbouncer
    assert settings.migration_url == DIRECT


def test_without_pgbouncer_migrations_use_the_database_url() -> None:
    settings = load_settings({"DATABASE_URL": DIRECT, "REDIS_URL": "redis://cache/0"})
    assert not settings.database_pgbouncer
    assert settings.migration_url == DIRECT


def test_migrations_through_pgbouncer_are_refused() -> None:
    settings = load_settings(POOLED)  # serving is fine; migrating is not
    with pytest.raises(SettingsError, match="DATABASE_MIGRATION_URL"):
        _ = settings.migration_url


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DATABASE_PGBOUNCER": "true"}, "DATABASE_URL is not"),
        ({**POOLED, "DATABASE_MIGRATION_URL": POOLED["DATABASE_URL"]}, "the primary itself"),
        ({**POOLED, "DATABASE_PGBOUNCER": "perhaps"}, "database_pgbouncer"),
    ],
    ids=["no URL to pool", "the migration URL is the pooled one", "not a yes or no"],
)
def test_contradictions_are_refused_anywhere(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(env)


def test_production_refuses_pgbouncer_without_a_migration_url() -> None:
    with pytest.raises(SettingsError, match="without DATABASE_MIGRATION_URL"):
        load_settings({**POOLED, **PRODUCTION})
    settings = load_settings({**POOLED, **PRODUCTION, "DATABASE_MIGRATION_URL": DIRECT})
    assert settings.migration_url == DIRECT
