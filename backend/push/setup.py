"""What the push routes take from the settings."""

from __future__ import annotations

from dataclasses import dataclass

from py_vapid import Vapid02

from backend.push.web_push import vapid_public_key
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
