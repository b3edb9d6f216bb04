"""What the push routes and the push worker take from the settings."""

from __future__ import annotations

from dataclasses import dataclass

from py_vapid import Vapid02

from backend.push.apns import Apns
from backend.push.fcm import Fcm
from backend.push.providers import PushProvider
from backend.push.web_push import WebPush, vapid_public_key
from backend.settings import Settings


@dataclass(frozen=True)
class PushSetup:
    vapid_public_key: str | None
    # http:// endpoints on loopback are accepted (the fake push service): never in production.
    loopback_http: bool

    @classmethod
    def for_settings(cls, settings: Settings) -> PushSetup:
        key = settings.push_vapid_private_key
        return cls(
            vapid_public_key=vapid_public_key(Vapid02.from_string(key)) if key else None,
            loopback_http=settings.environment != "production",
        )


def providers_for(settings: Settings) -> dict[str, PushProvider]:
    """The providers whose credentials are set."""
    found: dict[str, PushProvider] = {}
    timeout_s = settings.push_timeout_s
    if settings.push_vapid_private_key and settings.push_vapid_subject:
        found["webpush"] = WebPush(
            vapid_private_key=settings.push_vapid_private_key,
            subject=settings.push_vapid_subject,
            timeout_s=timeout_s,
        )
    if settings.push_fcm_service_account:
        found["fcm"] = Fcm(
            service_account=settings.push_fcm_service_account,
            base_url=settings.push_fcm_url,
            timeout_s=timeout_s,
        )
    key, key_id = settings.push_apns_key, settings.push_apns_key_id
    team_id, topic = settings.push_apns_team_id, settings.push_apns_topic
    if key and key_id and team_id and topic:
        found["apns"] = Apns(
            key=key,
            key_id=key_id,
            team_id=team_id,
            topic=topic,
            base_url=settings.push_apns_url,
            timeout_s=timeout_s,
        )
    return found
