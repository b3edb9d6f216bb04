"""The three push services' fakes served together in the caller's event loop, on free ports of
127.0.0.1 (the push tests, ``loadtests/bench_push.py``): Web Push and FCM over HTTP/1.1,
APNs over HTTP/2, the FCM fake accepting the development service account with its token
endpoint pointed at the fake."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from backend.push.development import DEV_FCM_SERVICE_ACCOUNT
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


@asynccontextmanager
async def serving_push_fakes() -> AsyncIterator[PushFakes]:
    web_push, fcm, apns = WebPushService(), FcmService(), ApnsService()
    async with AsyncExitStack() as stack:
        web_address = await stack.enter_async_context(serving(web_push.app()))
        fcm_address = await stack.enter_async_context(serving(fcm.app()))
        apns_address = await stack.enter_async_context(apns.serving())
        account = {
            **json.loads(DEV_FCM_SERVICE_ACCOUNT),
            "token_uri": f"http://{fcm_address}/token",
        }
        fcm.service_account = json.dumps(account)
        yield PushFakes(
            web_push=web_push,
            fcm=fcm,
            apns=apns,
            web_push_origin=f"http://{web_address}",
            fcm_url=f"http://{fcm_address}",
            apns_url=f"http://{apns_address}",
            fcm_service_account=fcm.service_account,
        )
