"""Apple Push Notification service over HTTP/2 with token authentication: iOS devices.

Each request carries a provider token, an ES256 JWT (``iss`` the team, ``kid`` the key id)
that Apple accepts for an hour and wants refreshed no more often than every 20 minutes: one
is signed and reused for 40. HTTP/2 is httpx's (with the ``h2`` package): APNs speaks
nothing else, and one connection carries many pushes at once.
"""

from __future__ import annotations

import hashlib
import time

import httpx
import jwt

from backend.push.providers import Device, Failed, HttpProvider, Notification, Outcome, answered

_TOKEN_REUSED_S = 40 * 60
# Apple's reasons that say the token will never work for this app again.
GONE_REASONS = frozenset({"BadDeviceToken", "Unregistered", "DeviceTokenNotForTopic"})


class Apns(HttpProvider):
    def __init__(
        self,
        *,
        key: str,
        key_id: str,
        team_id: str,
        topic: str,
        base_url: str = "https://api.push.apple.com",
        timeout_s: float = 10.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._key = key
        self._key_id = key_id
        self._team_id = team_id
        self._topic = topic
        self._base = base_url.rstrip("/")
        # HTTP/2 only, also over a plain http:// URL (prior knowledge), as the fake serves it.
        super().__init__("apns", client, timeout_s=timeout_s, http2_only=True)
        self._token: tuple[str, float] | None = None  # (provider token, renew at)

    async def send(self, device: Device, notification: Notification) -> Outcome:
        headers = {
            "authorization": f"bearer {self._provider_token()}",
            "apns-topic": self._topic,
            "apns-push-type": "alert",
            "apns-priority": "10",
            "apns-expiration": str(int(time.time()) + notification.ttl_s),
            "apns-collapse-id": collapse_id(notification.collapse_key),
        }
        response = await self._post(
            f"{self._base}/3/device/{device.token}", json=payload(notification), headers=headers
        )
        if isinstance(response, Failed):
            return response
        reason = apns_reason(response)
        if reason == "ExpiredProviderToken":
            self._token = None  # the next try signs a new one
            return Failed(f"apns: 403 {reason}", retryable=True)
        gone = response.status_code == 410 or reason in GONE_REASONS
        return answered(response, gone=gone, what="apns")

    def _provider_token(self) -> str:
        now = time.time()
        if self._token is None or self._token[1] <= now:
            token = jwt.encode(
                {"iss": self._team_id, "iat": int(now)},
                self._key,
                algorithm="ES256",
                headers={"kid": self._key_id},
            )
            self._token = (token, now + _TOKEN_REUSED_S)
        return self._token[0]


def payload(notification: Notification) -> dict[str, object]:
    """The alert iOS shows, and the data the app reads beside ``aps``."""
    return {
        "aps": {
            "alert": {"title": notification.title, "body": notification.body},
            "sound": "default",
            "thread-id": notification.kind,
        },
        "kind": notification.kind,
        **notification.data,
    }


def collapse_id(collapse_key: str) -> str:
    """apns-collapse-id is at most 64 bytes: a longer key is stood for by its hash."""
    if len(collapse_key.encode()) <= 64:
        return collapse_key
    return hashlib.sha256(collapse_key.encode()).hexdigest()


def apns_reason(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    reason = body.get("reason") if isinstance(body, dict) else None
    return str(reason) if reason else None
