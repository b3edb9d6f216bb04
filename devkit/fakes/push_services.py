"""The three push services' fakes served together in the caller's event loop, on free ports of
127.0.0.1 (the push tests, ``loadtests/bench_push.py``): Web Push and FCM over HTTP/1.1,
APNs over HTTP/2, the FCM fake accepting the development service account with its token
endpoint pointed at the fake; the providers, the worker's settings and browsers'
subscriptions that go with them, all with the development credentials."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from py_vapid import Vapid02

from backend.push.development import (
    DEV_APNS_KEY,
    DEV_APNS_KEY_ID,
    DEV_APNS_TEAM_ID,
    DEV_APNS_TOPIC,
    DEV_VAPID_PRIVATE_KEY,
    DEV_VAPID_SUBJECT,
)
from backend.push.providers import PushProvider
from backend.push.web_push import WebPush, vapid_public_key
from devkit.fakes.apns import ApnsService
from devkit.fakes.fcm import FcmService
from devkit.fakes.web_push import WebPushService
from devkit.serving import serving


@dataclass
class PushFakes:
    web_push: WebPushService
    fcm: FcmService
    apns: ApnsService
    web_push_origin: str  # http://host:port, where its subscriptions' endpoints are
    fcm_url: str
    apns_url: str
    fcm_service_account: str  # the development one, its token_uri at the fake

    def providers(self) -> dict[str, PushProvider]:
        """The three providers, by name, sending to these fakes (the caller closes them)."""
        return {
            "webpush": WebPush(vapid_private_key=DEV_VAPID_PRIVATE_KEY, subject=DEV_VAPID_SUBJECT),
            "fcm": self.fcm.provider(self.fcm_url),
            "apns": self.apns.provider(self.apns_url),
        }

    def worker_env(self) -> dict[str, str]:
        """A push worker's settings that send to these fakes (Web Push needs none in
        development, where its key defaults to the development one, and a subscription names
        its endpoint)."""
        return {
            "ASTROCOFFEE_PUSH_FCM_SERVICE_ACCOUNT": self.fcm_service_account,
            "ASTROCOFFEE_PUSH_FCM_URL": self.fcm_url,
            # A provider's settings are a group: one set, every one of them set.
            "ASTROCOFFEE_PUSH_APNS_KEY": DEV_APNS_KEY,
            "ASTROCOFFEE_PUSH_APNS_KEY_ID": DEV_APNS_KEY_ID,
            "ASTROCOFFEE_PUSH_APNS_TEAM_ID": DEV_APNS_TEAM_ID,
            "ASTROCOFFEE_PUSH_APNS_TOPIC": DEV_APNS_TOPIC,
            "ASTROCOFFEE_PUSH_APNS_URL": self.apns_url,
        }

    def browser(self) -> dict[str, Any]:
        """A new browser's subscription at the Web Push fake, for the development key."""
        key = vapid_public_key(Vapid02.from_string(DEV_VAPID_PRIVATE_KEY))
        return self.web_push.subscribe(key, origin=self.web_push_origin)


@asynccontextmanager
async def serving_push_fakes() -> AsyncIterator[PushFakes]:
    web_push, fcm, apns = WebPushService(), FcmService(), ApnsService()
    async with AsyncExitStack() as stack:
        web_address = await stack.enter_async_context(serving(web_push.app()))
        fcm_address = await stack.enter_async_context(serving(fcm.app()))
        apns_address = await stack.enter_async_context(apns.serving())
        fcm.listening_at(fcm_address)
        yield PushFakes(
            web_push=web_push,
            fcm=fcm,
            apns=apns,
            web_push_origin=f"http://{web_address}",
            fcm_url=f"http://{fcm_address}",
            apns_url=f"http://{apns_address}",
            fcm_service_account=fcm.service_account,
        )
