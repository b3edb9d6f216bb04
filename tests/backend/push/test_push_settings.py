"""The push providers' credentials: development's are the fakes', production refuses them."""

from __future__ import annotations

from backend.push import development as dev
from backend.settings import load_settings
from tests.backend.test_settings import production_refusal


def test_development_defaults_to_the_credentials_the_fakes_accept() -> None:
    settings = load_settings({})
    assert settings.push_vapid_private_key == dev.DEV_VAPID_PRIVATE_KEY
    assert settings.push_fcm_service_account == dev.DEV_FCM_SERVICE_ACCOUNT
    assert settings.push_fcm_url == dev.DEV_FCM_URL
    assert settings.push_apns_key == dev.DEV_APNS_KEY
    assert settings.push_apns_url == dev.DEV_APNS_URL


def test_a_provider_set_by_hand_gets_none_of_its_development_values() -> None:
    settings = load_settings({"ASTROCOFFEE_PUSH_APNS_KEY_ID": "ABC123DEFG"})
    assert settings.push_apns_key is None
    assert settings.push_apns_url == "https://api.push.apple.com"
    assert settings.push_fcm_service_account == dev.DEV_FCM_SERVICE_ACCOUNT


def test_outside_development_push_is_off_until_configured() -> None:
    settings = load_settings({"ASTROCOFFEE_ENVIRONMENT": "test"})
    assert settings.push_vapid_private_key is None
    assert settings.push_fcm_service_account is None
    assert settings.push_apns_key is None


def test_production_refuses_the_development_credentials() -> None:
    reason = production_refusal(
        {
            "ASTROCOFFEE_PUSH_VAPID_PRIVATE_KEY": dev.DEV_VAPID_PRIVATE_KEY,
            "ASTROCOFFEE_PUSH_FCM_SERVICE_ACCOUNT": dev.DEV_FCM_SERVICE_ACCOUNT,
            "ASTROCOFFEE_PUSH_APNS_KEY": dev.DEV_APNS_KEY,
        }
    )
    assert "PUSH_VAPID_PRIVATE_KEY is the development default" in reason
    assert "PUSH_FCM_SERVICE_ACCOUNT is the development default" in reason
    assert "PUSH_APNS_KEY is the development default" in reason


async def test_each_provider_whose_credentials_are_set_is_built() -> None:
    from backend.push.setup import providers_for

    built = providers_for(load_settings({}))
    assert sorted(built) == ["apns", "fcm", "webpush"]
    for provider in built.values():
        await provider.aclose()
    assert providers_for(load_settings({"ASTROCOFFEE_ENVIRONMENT": "test"})) == {}
