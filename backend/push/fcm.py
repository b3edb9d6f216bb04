"""Firebase Cloud Messaging, HTTP v1: Android devices.

The service account signs a JWT (RS256) that Google's OAuth 2.0 token endpoint exchanges for
an access token (RFC 7523), kept until a minute before it expires; each message is
``POST /v1/projects/{project}/messages:send`` with it. The JWT is PyJWT's, already a
dependency: google-auth would sign the same JWT, but its token refresh is synchronous (its
transports are requests or aiohttp), which would block the event loop or bring a second
HTTP stack; the exchange is one form POST, made here with httpx.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import jwt
import msgspec

from backend.push.providers import Device, Failed, HttpProvider, Notification, Outcome, answered

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_ASSERTION_LIFETIME_S = 3600
_RENEW_BEFORE_S = 60


class ServiceAccount(msgspec.Struct, frozen=True):
    """The fields of a service account's JSON file that FCM needs."""

    project_id: str
    private_key: str
    client_email: str
    token_uri: str
    private_key_id: str = ""


class Fcm(HttpProvider):
    def __init__(
        self,
        *,
        service_account: str,
        base_url: str = "https://fcm.googleapis.com",
        timeout_s: float = 10.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._account = msgspec.json.decode(service_account, type=ServiceAccount)
        self._url = f"{base_url.rstrip('/')}/v1/projects/{self._account.project_id}/messages:send"
        super().__init__("fcm", client, timeout_s=timeout_s)
        self._token: tuple[str, float] | None = None  # (access token, renew at)
        self._refreshing = asyncio.Lock()

    async def send(self, device: Device, notification: Notification) -> Outcome:
        try:
            token = await self._access_token()
        except TokenRefused as exc:
            return Failed(str(exc), retryable=exc.retryable)
        response = await self._post(
            self._url,
            json=message(device.token, notification),
            headers={"Authorization": f"Bearer {token}"},
        )
        if isinstance(response, Failed):
            return response
        if response.status_code == 401:
            self._token = None  # revoked or expired early: the next try gets a new one
            return Failed(f"fcm: 401 {response.text[:200]}", retryable=True)
        # 404 NOT_FOUND / UNREGISTERED: the app was uninstalled or the token replaced.
        gone = response.status_code == 404 or error_code(response) == "UNREGISTERED"
        return answered(response, gone=gone, what="fcm")

    async def _access_token(self) -> str:
        async with self._refreshing:
            if self._token is not None and self._token[1] > time.time():
                return self._token[0]
            now = int(time.time())
            assertion = jwt.encode(
                {
                    "iss": self._account.client_email,
                    "scope": SCOPE,
                    "aud": self._account.token_uri,
                    "iat": now,
                    "exp": now + _ASSERTION_LIFETIME_S,
                },
                self._account.private_key,
                algorithm="RS256",
                headers={"kid": self._account.private_key_id},
            )
            response = await self._post(
                self._account.token_uri, data={"grant_type": GRANT_TYPE, "assertion": assertion}
            )
            if isinstance(response, Failed):  # no answer at all: an outage
                raise TokenRefused(response.reason, retryable=response.retryable)
            if not response.is_success:
                raise TokenRefused(
                    f"fcm: the token endpoint answered {response.status_code} "
                    f"{response.text[:200]}",
                    retryable=response.status_code >= 500 or response.status_code == 429,
                )
            granted = response.json()
            expires_in = int(granted.get("expires_in", 3600))
            self._token = (str(granted["access_token"]), now + expires_in - _RENEW_BEFORE_S)
            return self._token[0]


class TokenRefused(Exception):
    def __init__(self, reason: str, *, retryable: bool) -> None:
        super().__init__(reason)
        self.retryable = retryable


def message(token: str, notification: Notification) -> dict[str, Any]:
    """An FCM v1 message: shown by the system, its data for the app (strings only)."""
    return {
        "message": {
            "token": token,
            "notification": {"title": notification.title, "body": notification.body},
            "data": {**notification.data, "kind": notification.kind},
            "android": {
                "collapse_key": notification.collapse_key,
                "ttl": f"{notification.ttl_s}s",
                "priority": "high",
            },
        }
    }


def error_code(response: httpx.Response) -> str | None:
    """The FcmError's ``errorCode`` in a refusal's details (UNREGISTERED, QUOTA_EXCEEDED...)."""
    try:
        details = response.json()["error"]["details"]
    except (ValueError, KeyError, TypeError):
        return None
    for detail in details if isinstance(details, list) else []:
        if isinstance(detail, dict) and "errorCode" in detail:
            return str(detail["errorCode"])
    return None
