"""A Web Push service (RFC 8030) that does what a browser's push service and the browser do
together: it issues subscriptions (an endpoint, the browser's P-256 key and auth secret),
checks each push's VAPID token (RFC 8292) against the application server key the
subscription was made with, and decrypts the aes128gcm payload (RFC 8291) with the
subscription's private key, as the browser would.

Tests run it in-process (``tests.conftest.serving(WebPushService().app())``) and make
subscriptions with ``subscribe``; development runs it as a process (``python -m
devkit.fakes.web_push``) and makes them with ``POST /_subscribe {"application_server_key"}``.

Protocol: ``POST /push/{id}`` with ``Authorization: vapid t=<JWT>,k=<key>``, ``TTL``,
``Content-Encoding: aes128gcm`` and the encrypted body: 201 with ``Location``; 404 for an
unknown subscription, 410 for one that is ``gone``, 429 with ``Retry-After`` while
``too_many`` lasts, 503 while ``fail_next`` lasts, 401/403 for a missing or wrong VAPID
token, 400 for a body that does not decrypt. Switches: ``devkit.fakes.push_service``.
"""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, ClassVar

import http_ece
import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from litestar import Litestar, Request, Response, post
from litestar.params import FromPath

from backend.push.development import DEV_WEB_PUSH_PORT
from devkit.fakes.base import error, json_object
from devkit.fakes.push_service import PushService


def _b64(value: bytes) -> str:
    return base64.urlsafe_b64encode(value).rstrip(b"=").decode()


def _unb64(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


@dataclass
class Subscription:
    id: str
    endpoint: str
    application_server_key: str
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes

    def as_json(self) -> dict[str, Any]:
        """As the browser's ``PushSubscription.toJSON()`` gives it to the page."""
        public = self.private_key.public_key().public_bytes(
            Encoding.X962, PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": self.endpoint,
            "keys": {"p256dh": _b64(public), "auth": _b64(self.auth)},
        }


@dataclass
class WebPushService(PushService):
    subscriptions: dict[str, Subscription] = field(default_factory=dict)

    DOWN: ClassVar[str] = "the push service is down"
    HELP: ClassVar[str] = "Serve a fake Web Push service."
    PORT: ClassVar[int] = DEV_WEB_PUSH_PORT
    WHAT: ClassVar[str] = "web push service"

    def subscribe(self, application_server_key: str, *, origin: str) -> dict[str, Any]:
        """A new subscription at ``origin`` (this service's http://host:port), as JSON."""
        sid = uuid.uuid4().hex
        self.subscriptions[sid] = Subscription(
            id=sid,
            endpoint=f"{origin}/push/{sid}",
            application_server_key=application_server_key,
            private_key=ec.generate_private_key(ec.SECP256R1()),
            auth=os.urandom(16),
        )
        return self.subscriptions[sid].as_json()

    def vapid_problem(self, subscription: Subscription, header: str, origin: str) -> str | None:
        """Why the VAPID token does not do (RFC 8292), checked with PyJWT rather than the
        py_vapid that signed it; None when it does."""
        scheme, _, params = header.partition(" ")
        if scheme.lower() != "vapid":
            return "the Authorization scheme is not vapid"
        parts = dict(part.split("=", 1) for part in params.split(",") if "=" in part)
        if parts.get("k") != subscription.application_server_key:
            return "k is not the key the subscription was made with"
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), _unb64(parts["k"]))
        try:
            claims = jwt.decode(parts.get("t", ""), key, algorithms=["ES256"], audience=origin)
        except jwt.PyJWTError as exc:
            return f"the token: {exc}"
        if claims["exp"] > time.time() + 24 * 3600:
            return "exp is more than 24 hours ahead"
        if not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
            return "sub is not a mailto: or https: contact"
        return None

    def app(self) -> Litestar:
        @post("/push/{sid:str}", status_code=201)
        async def push(sid: FromPath[str], request: Request[Any, Any, Any]) -> Response[Any]:
            body = await request.body()
            if (refusal := await self.unavailable(request)) is not None:
                return refusal
            subscription = self.subscriptions.get(sid)
            if subscription is None:
                return error(404, "no such subscription")
            if (refused := self.refusal(sid)) is not None:
                headers = (
                    {"Retry-After": str(refused.retry_after_s)} if refused.retry_after_s else {}
                )
                return Response(
                    {"error": refused.reason}, status_code=refused.status, headers=headers
                )
            origin = str(request.base_url).rstrip("/")
            auth = request.headers.get("authorization")
            if auth is None:
                return error(401, "VAPID authorization is required")
            if (problem := self.vapid_problem(subscription, auth, origin)) is not None:
                return error(403, problem)
            if request.headers.get("content-encoding") != "aes128gcm":
                return error(400, "Content-Encoding must be aes128gcm")
            if not request.headers.get("ttl", "").isdigit():
                return error(400, "TTL is required")
            try:
                plain = http_ece.decrypt(
                    body,
                    private_key=subscription.private_key,
                    auth_secret=subscription.auth,
                    version="aes128gcm",
                )
            except Exception as exc:  # any failure is the sender's bad body
                return error(400, f"the payload does not decrypt: {exc}")
            self.received.append(
                {
                    "to": sid,
                    "payload": json.loads(plain),
                    "ttl": int(request.headers["ttl"]),
                    "topic": request.headers.get("topic"),
                    "urgency": request.headers.get("urgency"),
                }
            )
            self.log.info("push to %s: %d bytes", sid, len(plain))
            return Response(b"", status_code=201, headers={"Location": f"/messages/{uuid.uuid4()}"})

        @post("/_subscribe", status_code=201)
        async def subscribe(request: Request[Any, Any, Any]) -> Response[Any]:
            values = json_object(await request.body()) or {}
            key = values.get("application_server_key")
            if not isinstance(key, str):
                return error(400, 'the body must be {"application_server_key": ...}')
            origin = str(request.base_url).rstrip("/")
            return Response(self.subscribe(key, origin=origin), status_code=201)

        return Litestar([push, subscribe, *self.control_handlers()], logging_config=None)


def main(argv: list[str] | None = None) -> None:
    WebPushService.command_line(argv)


if __name__ == "__main__":
    main()
