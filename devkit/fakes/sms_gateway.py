"""A small SMS gateway speaking the protocol of ``backend.auth.sms``: an external system."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from litestar import Litestar, Request, Response, post


@dataclass
class SmsGateway:
    token: str = "gateway-token"
    fail_next: int = 0
    fail_status: int = 503
    received: list[dict[str, Any]] = field(default_factory=list)
    delivered_keys: set[str] = field(default_factory=set)

    def app(self) -> Litestar:
        @post("/send", status_code=202)
        async def send(request: Request[Any, Any, Any]) -> Response[dict[str, str]]:
            key = request.headers.get("idempotency-key", "")
            self.received.append(
                {
                    "auth": request.headers.get("authorization"),
                    "key": key,
                    "body": await request.json(),
                }
            )
            if request.headers.get("authorization") != f"Bearer {self.token}":
                return Response({"error": "unauthorized"}, status_code=401)
            if self.fail_next > 0:
                self.fail_next -= 1
                return Response({"error": "busy"}, status_code=self.fail_status)
            self.delivered_keys.add(key)
            return Response({"status": "queued"}, status_code=202)

        return Litestar([send], logging_config=None)
