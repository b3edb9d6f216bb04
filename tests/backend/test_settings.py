from __future__ import annotations

import pytest

from backend.settings import DEV_SECRET_KEY, SettingsError, load_settings

EXTERNAL = {"DATABASE_URL": "postgresql://db/x", "REDIS_URL": "redis://cache/0"}
STRONG_SECRET = "s" * 40


def production_refusal(env: dict[str, str]) -> str:
    """Why settings from ``env`` are refused in production (ASTROCOFFEE_ENVIRONMENT set to it)."""
    with pytest.raises(SettingsError) as refused:
        load_settings({**env, "ASTROCOFFEE_ENVIRONMENT": "production"})
    return str(refused.value)


def test_defaults_describe_a_development_service_on_embedded_servers() -> None:
    settings = load_settings({})
    assert settings.environment == "development"
    assert settings.uses_embedded_servers
    assert settings.port == 8000
    assert settings.secret_key == DEV_SECRET_KEY


def test_values_come_from_prefixed_variables_and_are_converted() -> None:
    settings = load_settings({**EXTERNAL, "ASTROCOFFEE_PORT": "9001", "ASTROCOFFEE_WORKERS": "4"})
    assert (settings.port, settings.workers) == (9001, 4)
    assert settings.database_url == "postgresql://db/x"
    assert not settings.uses_embedded_servers


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ASTROCOFFEE_PORT": "0"}, "port"),
        ({"ASTROCOFFEE_PORT": "eighty"}, "port"),
        ({"ASTROCOFFEE_ENVIRONMENT": "staging"}, "environment"),
        ({"ASTROCOFFEE_SECRET_KEY": "short"}, "secret_key"),
        ({"DATABASE_URL": "postgresql://db/x"}, "both"),
    ],
)
def test_invalid_settings_are_refused_with_the_reason(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(env)


def test_production_refuses_development_secret_switches_and_embedded_servers() -> None:
    reason = production_refusal({"ASTROCOFFEE_DEV_OTP_CODE": "000000"})
    assert "embedded servers" in reason
    assert "SECRET_KEY" in reason
    assert "DEV_OTP_CODE" in reason
    assert "SMS_GATEWAY_URL" in reason
    assert "PAYMENT_WEBHOOK_SECRET" in reason
    assert "ACCOUNTING_URL" in reason
    assert "PAYMENT_PROVIDER_URL" in reason


def test_production_starts_with_real_servers_and_a_real_secret() -> None:
    settings = load_settings(
        {
            **EXTERNAL,
            "ASTROCOFFEE_ENVIRONMENT": "production",
            "ASTROCOFFEE_SECRET_KEY": STRONG_SECRET,
            "ASTROCOFFEE_SMS_GATEWAY_URL": "https://sms.example/send",
            "ASTROCOFFEE_PAYMENT_WEBHOOK_SECRET": "w" * 32,
            "ASTROCOFFEE_ACCOUNTING_URL": "https://accounting.example",
            "ASTROCOFFEE_PAYMENT_PROVIDER_URL": "https://payments.example",
        }
    )
    assert settings.environment == "production"
    assert settings.webhook_secrets == ("w" * 32,)


def test_development_defaults_to_the_fakes_that_make_run_starts() -> None:
    # So that `astrocoffee reconcile` in a new shell finds them without run.sh's environment.
    from devkit.fakes.accounting import AccountingSystem
    from devkit.fakes.payment_provider import PaymentProvider

    settings = load_settings({})
    assert settings.accounting_url == "http://127.0.0.1:8091"
    assert settings.payment_provider_url == "http://127.0.0.1:8092"
    assert settings.accounting_token == AccountingSystem.token
    assert settings.payment_provider_token == PaymentProvider.token


def test_a_set_address_never_gets_the_development_token() -> None:
    settings = load_settings({"ASTROCOFFEE_ACCOUNTING_URL": "https://accounting.example"})
    assert settings.accounting_url == "https://accounting.example"
    assert settings.accounting_token is None
    assert settings.payment_provider_url == "http://127.0.0.1:8092"


@pytest.mark.parametrize("environment", ["test", "production"])
def test_the_development_defaults_apply_in_development_only(environment: str) -> None:
    if environment == "production":
        with pytest.raises(SettingsError, match="ACCOUNTING_URL is unset"):
            load_settings({"ASTROCOFFEE_ENVIRONMENT": environment})
        return
    settings = load_settings({"ASTROCOFFEE_ENVIRONMENT": environment})
    assert settings.accounting_url is None
    assert settings.payment_provider_url is None


def test_production_refuses_the_development_tokens() -> None:
    reason = production_refusal(
        {
            **EXTERNAL,
            "ASTROCOFFEE_SECRET_KEY": STRONG_SECRET,
            "ASTROCOFFEE_SMS_GATEWAY_URL": "https://sms.example/send",
            "ASTROCOFFEE_PAYMENT_WEBHOOK_SECRET": "w" * 32,
            "ASTROCOFFEE_ACCOUNTING_URL": "https://accounting.example",
            "ASTROCOFFEE_ACCOUNTING_TOKEN": "accounting-token",
            "ASTROCOFFEE_PAYMENT_PROVIDER_URL": "https://payments.example",
            "ASTROCOFFEE_PAYMENT_PROVIDER_TOKEN": "provider-token",
        }
    )
    assert "ACCOUNTING_TOKEN is the development default" in reason
    assert "PAYMENT_PROVIDER_TOKEN is the development default" in reason
