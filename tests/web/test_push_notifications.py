"""Push on the member page, in a real Chromium: the member turns notifications on, the page
asks for permission, registers its service worker, subscribes with the server's VAPID key
and registers the subscription; a points-earned notification sent through the Web Push
provider is decrypted by the push service, delivered to the service worker through the
DevTools protocol, and shown as a notification.

Chromium's own push service is Google's (FCM): unreachable offline, and refused to headless
Chromium ("Registration failed - permission denied"). The fake push service
(``devkit.fakes.web_push``) stands in for it: the page's ``PushManager`` hands out a
subscription the fake made (its endpoint, a real P-256 key and auth secret), and records the
applicationServerKey it was asked to subscribe with. Everything else is the browser's own.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
from playwright.async_api import Page, expect

from backend.push.development import DEV_VAPID_PRIVATE_KEY, DEV_VAPID_SUBJECT
from backend.push.devices import devices_of
from backend.push.providers import Delivered
from backend.push.web_push import WebPush
from devkit.fakes.web_push import WebPushService
from tests.backend.push.samples import points_earned
from tests.conftest import LiveServer, serving
from tests.web.conftest import OpenPage
from tests.web.test_member_page import log_in, member_headers

# The browser's push service, as the fake plays it: subscribe() answers the fake's
# subscription, getSubscription() what was subscribed.
_PUSH_SERVICE = """
(() => {
  const made = %s;
  PushManager.prototype.subscribe = async function (options) {
    const key = new Uint8Array(options.applicationServerKey);
    window.subscribedWithKey = btoa(String.fromCharCode(...key))
      .replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
    sessionStorage.setItem('fake-subscribed', '1');
    return { endpoint: made.endpoint, toJSON: () => made };
  };
  PushManager.prototype.getSubscription = async function () {
    return sessionStorage.getItem('fake-subscribed') ? { endpoint: made.endpoint, toJSON: () => made } : null;
  };
})();
"""

_SHOWN = """
async () => {
  const registration = await navigator.serviceWorker.ready;
  const shown = await registration.getNotifications();
  return shown.map((n) => ({ title: n.title, body: n.body, tag: n.tag, data: n.data }));
}
"""


async def registration_id(page: Page, cdp: Any, origin: str) -> str:
    """The service worker registration's id, as DevTools names it."""
    found: dict[str, str] = {}

    def updated(event: dict[str, Any]) -> None:
        for registration in event["registrations"]:
            if registration["scopeURL"] == origin + "/" and not registration["isDeleted"]:
                found["id"] = registration["registrationId"]

    cdp.on("ServiceWorker.workerRegistrationUpdated", updated)
    await cdp.send("ServiceWorker.enable")
    for _ in range(50):
        if "id" in found:
            return found["id"]
        await page.wait_for_timeout(100)
    raise AssertionError("DevTools named no service worker registration for the page")


async def test_a_push_becomes_a_notification_from_the_service_worker(
    open_page: OpenPage, live_server: LiveServer, client: httpx.AsyncClient
) -> None:
    web_push = WebPush(vapid_private_key=DEV_VAPID_PRIVATE_KEY, subject=DEV_VAPID_SUBJECT)
    service = WebPushService()
    async with serving(service.app()) as address:
        made = service.subscribe(web_push.public_key, origin=f"http://{address}")
        page = await open_page(live_server.base_url, locale="en-GB")
        await page.context.grant_permissions(["notifications"], origin=live_server.base_url)
        await page.context.add_init_script(_PUSH_SERVICE % json.dumps(made))
        await page.reload()
        await log_in(page, live_server)
        await expect(page.locator("#push-state")).to_have_text("Off for this device.")

        await page.click("#push-enable")
        await expect(page.locator("#push-message")).to_have_text("Notifications are on.")
        await expect(page.locator("#push-state")).to_have_text("On for this device.")
        assert await page.evaluate("window.subscribedWithKey") == web_push.public_key
        headers = await member_headers(page)
        (listed,) = (await client.get("/v1/me/devices", headers=headers)).json()["items"]
        assert (listed["provider"], listed["label"]) == ("webpush", "127.0.0.1")

        # The server sends to the subscription the page registered; the push service
        # decrypts it as the browser would.
        me = (await client.get("/v1/me", headers=headers)).json()
        (device,) = await devices_of(uuid.UUID(me["member_id"]))
        notification = points_earned()
        assert await web_push.send(device, notification) == Delivered()
        (push,) = service.taken(device.token.rsplit("/", 1)[1])
    await web_push.aclose()

    # Delivered to the page's service worker, which shows it.
    cdp = await page.context.new_cdp_session(page)
    origin = live_server.base_url.rstrip("/")
    await cdp.send(
        "ServiceWorker.deliverPushMessage",
        {
            "origin": origin,
            "registrationId": await registration_id(page, cdp, origin),
            "data": json.dumps(push["payload"], ensure_ascii=False),
        },
    )
    shown: list[dict[str, Any]] = []
    for _ in range(50):
        shown = await page.evaluate(_SHOWN)
        if shown:
            break
        await asyncio.sleep(0.1)
    assert shown == [
        {
            "title": notification.title,
            "body": notification.body,
            "tag": notification.collapse_key,
            "data": {"kind": "points_earned", **notification.data},
        }
    ]

    # From now on the page's socket names this browser's push device, so that push does not
    # tell it what the open page showed (docs/notifications.md).
    async with page.expect_websocket(lambda socket: "/v1/ws" in socket.url) as opened:
        await page.reload()
    assert f"device={listed['id']}" in (await opened.value).url
