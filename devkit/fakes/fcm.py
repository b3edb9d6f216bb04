"""Firebase Cloud Messaging's HTTP v1 API and Google's OAuth 2.0 token endpoint, as a
service account sees them.

Tests run it in-process (``tests.conftest.serving(Fcm(...).app())``); development runs it as
a process (``python -m devkit.fakes.fcm``) with the development service account
(``backend.push.development``), whose ``token_uri`` points here.

Protocol:

- ``POST /token`` (form: ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer``,
  ``assertion=<JWT>``): the JWT must be RS256-signed by the service account's key, ``iss``
  its email, ``aud`` its ``token_uri``, ``scope`` FCM's, and live at most an hour; 200
  ``{"access_token", "expires_in", "token_type": "Bearer"}``, else 400 ``invalid_grant``.
- ``POST /v1/projects/{project}/messages:send`` with ``Authorization: Bearer <access
  token>`` (else 401 UNAUTHENTICATED; another project: 403) and ``{"message": {"token",
  ...}}``: 200 ``{"name"}``; 404 with ``errorCode: UNREGISTERED`` for a ``gone`` token, 429
  QUOTA_EXCEEDED with ``Retry-After`` while ``too_many`` lasts, 503 UNAVAILABLE while
  ``fail_next`` lasts. Switches: ``devkit.fakes.push_service``.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, ClassVar

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from litestar import Litestar, Request, Response, post
from litestar.params import FromPath

from backend.push.development import DEV_FCM_SERVICE_ACCOUNT, DEV_FCM_URL
from backend.push.fcm import GRANT_TYPE, SCOPE, Fcm
from devkit.fakes.base import json_object
from devkit.fakes.push_service import PushService

DEV_PORT = int(DEV_FCM_URL.rsplit(":", 1)[1])
_STATUS = {404: "NOT_FOUND", 410: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE"}
_CODE = {404: "UNREGISTERED", 410: "UNREGISTERED", 429: "QUOTA_EXCEEDED", 503: "UNAVAILABLE"}


def fcm_error(status: int, message: str, code: str | None = None) -> Response[Any]:
    """An error as Google's APIs give one, with the FcmError detail when there is one."""
    details = (
        [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code}]
        if code
        else []
    )
    body = {"error": {"code": status, "message": message, "status": _STATUS.get(status, "")}}
    return Response({"error": {**body["error"], "details": details}}, status_code=status)


@dataclass
class FcmService(PushService):
    service_account: str = DEV_FCM_SERVICE_ACCOUNT
    access_tokens: set[str] = field(default_factory=set)
    grants: int = 0  # access tokens issued

    DOWN: ClassVar[str] = "FCM is unavailable"
    HELP: ClassVar[str] = "Serve a fake FCM HTTP v1 API."
    PORT: ClassVar[int] = DEV_PORT
    WHAT: ClassVar[str] = "FCM"

    def listening_at(self, address: str) -> None:
        """Take the development service account with its ``token_uri`` at this fake, which
        listens on ``address`` (host:port)."""
        account = {**json.loads(DEV_FCM_SERVICE_ACCOUNT), "token_uri": f"http://{address}/token"}
        self.service_account = json.dumps(account)

    def provider(self, base_url: str) -> Fcm:
        """A provider with this fake's service account, sending to ``base_url`` (the caller
        closes it)."""
        return Fcm(service_account=self.service_account, base_url=base_url)

    def _account(self) -> dict[str, Any]:
        account: dict[str, Any] = json.loads(self.service_account)
        return account

    def grant_problem(self, assertion: str) -> str | None:
        account = self._account()
        key = load_pem_private_key(account["private_key"].encode(), password=None).public_key()
        try:
            claims = jwt.decode(
                assertion,
                key,  # type: ignore[arg-type]
                algorithms=["RS256"],
                audience=account["token_uri"],
                issuer=account["client_email"],
                options={"require": ["exp", "iat", "iss", "aud", "scope"]},
            )
        except jwt.PyJWTError as exc:
            return str(exc)
        if SCOPE not in str(claims["scope"]).split():
            return "the scope does not include FCM's"
        if claims["exp"] - claims["iat"] > 3600 or claims["iat"] > time.time() + 60:
            return "the assertion lives longer than an hour"
        return None

    def app(self) -> Litestar:
        @post("/token", status_code=200)
        async def token(request: Request[Any, Any, Any]) -> Response[Any]:
            form = await request.form()
            if form.get("grant_type") != GRANT_TYPE:
                return Response({"error": "unsupported_grant_type"}, status_code=400)
            if (problem := self.grant_problem(str(form.get("assertion", "")))) is not None:
                return Response(
                    {"error": "invalid_grant", "error_description": problem}, status_code=400
                )
            access = secrets.token_urlsafe(24)
            self.access_tokens.add(access)
            self.grants += 1
            return Response(
                {"access_token": access, "expires_in": 3599, "token_type": "Bearer"},
                status_code=200,
            )

        @post("/v1/projects/{project:str}/messages:send", status_code=200)
        async def send(project: FromPath[str], request: Request[Any, Any, Any]) -> Response[Any]:
            body = json_object(await request.body())
            if (refusal := await self.unavailable(request)) is not None:
                return refusal
            bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
            if bearer not in self.access_tokens:
                return fcm_error(401, "Request had invalid authentication credentials.")
            if project != self._account()["project_id"]:
                return fcm_error(403, "The caller does not have permission")
            message = (body or {}).get("message")
            if not isinstance(message, dict) or not isinstance(message.get("token"), str):
                return fcm_error(400, "Invalid JSON payload: message.token is required")
            to = message["token"]
            if (refused := self.refusal(to)) is not None:
                status = 404 if refused.status == 410 else refused.status
                answer = fcm_error(status, refused.reason, _CODE[status])
                if refused.retry_after_s:
                    answer.headers["Retry-After"] = str(refused.retry_after_s)
                return answer
            self.received.append(
                {
                    "to": to,
                    "payload": {
                        "notification": message.get("notification"),
                        "data": message.get("data"),
                    },
                    "android": message.get("android"),
                }
            )
            return Response(
                {"name": f"projects/{project}/messages/{uuid.uuid4().hex}"}, status_code=200
            )

        return Litestar([token, send, *self.control_handlers()], logging_config=None)


def main(argv: list[str] | None = None) -> None:
    FcmService.command_line(argv)


if __name__ == "__main__":
    main()
