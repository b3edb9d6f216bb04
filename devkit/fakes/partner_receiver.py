"""A partner's webhook receiver: an external system that takes Standard Webhooks deliveries
(``backend.partners``), checks each signature with its own copy of the endpoint's secret, and
keeps what it received.

Tests run it in-process (``tests.conftest.serving(PartnerReceiver(secret=...).app())``) and
set its switches as attributes; development runs it as a process (``python -m
devkit.fakes.partner_receiver --port 8094 --secret whsec_...``) and sets them over HTTP
(``POST /_control``).

Protocol: ``POST /hooks`` (any path under it) with ``webhook-id``, ``webhook-timestamp`` and
``webhook-signature``. A delivery whose signature does not verify (against ``secret``, or
``old_secret`` while a rotation lasts) or whose timestamp is more than five minutes off is
answered 401 and not kept; a good one 200, kept once per ``webhook-id`` (``received``, in
order of first arrival; ``attempts`` counts every arrival).

Switches: ``fail_next`` (503), ``down``, ``delay_s``, ``hang`` (``FakeSystem``), ``gone``
(410 Gone: the partner wants no more), ``throttle_next`` (the next N answer 429 with
``Retry-After: retry_after_s``), ``fail_ids`` (webhook-ids answered 500 every time).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

from litestar import Litestar, Request, Response, post

from devkit.fakes.base import FAULTS, FakeSystem, Switches, count, error, flag, seconds, string

DEV_PORT = 8094
TOLERANCE_S = 300


def _ids(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError("must be a list of webhook-ids")
    return list(value)


@dataclass
class Delivery:
    webhook_id: str
    timestamp: int
    body: dict[str, Any]
    signatures: int  # how many of the header's signatures verified
    raw: bytes  # as received: what an independent check verifies
    headers: dict[str, str]


@dataclass
class PartnerReceiver(FakeSystem):
    token: str = "unused"  # a partner checks signatures, not a bearer token
    secret: str = ""
    old_secret: str = ""
    gone: bool = False
    throttle_next: int = 0
    retry_after_s: float = 30.0
    fail_ids: list[str] = field(default_factory=list)
    attempts: list[str] = field(default_factory=list)  # every arrival's webhook-id
    received: dict[str, Delivery] = field(default_factory=dict)  # by webhook-id
    refused_signatures: int = 0

    SWITCHES: ClassVar[Switches] = {
        "secret": string,
        "old_secret": string,
        **FAULTS,
        "gone": flag,
        "throttle_next": count,
        "retry_after_s": seconds,
        "fail_ids": _ids,
    }
    DOWN: ClassVar[str] = "the partner is down"
    HELP: ClassVar[str] = "Serve a fake partner webhook receiver for development and tests."
    PORT: ClassVar[int] = DEV_PORT
    WHAT: ClassVar[str] = "partner receiver"

    @classmethod
    def own_options(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--secret", required=True, help="the endpoint's whsec_... secret")

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [delivery.body for delivery in self.received.values()]

    def verified(self, headers: dict[str, str], raw: bytes) -> int:
        """How many of the signatures verify against the secrets known (0: refuse)."""
        webhook_id = headers.get("webhook-id", "")
        try:
            timestamp = int(headers.get("webhook-timestamp", ""))
        except ValueError:
            return 0
        if abs(time.time() - timestamp) > TOLERANCE_S:
            return 0
        signed = f"{webhook_id}.{timestamp}.".encode() + raw
        expected = set()
        for secret in (self.secret, self.old_secret):
            if secret:
                key = base64.b64decode(secret.removeprefix("whsec_"))
                expected.add(base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()))
        given = [
            part.partition(",")[2].encode()
            for part in headers.get("webhook-signature", "").split()
            if part.startswith("v1,")
        ]
        return sum(any(hmac.compare_digest(sig, want) for want in expected) for sig in given)

    def state(self) -> dict[str, Any]:
        return {
            "attempts": len(self.attempts),
            "received": [
                {"webhook_id": d.webhook_id, "timestamp": d.timestamp, "body": d.body}
                for d in self.received.values()
            ],
            "refused_signatures": self.refused_signatures,
            "switches": {k: v for k, v in self.switches().items() if "secret" not in k},
        }

    async def _answer(self, request: Request[Any, Any, Any]) -> Response[Any]:
        raw = await request.body()  # before any hold (see FakeSystem.unavailable)
        webhook_id = request.headers.get("webhook-id", "")
        self.attempts.append(webhook_id)
        if (refusal := await self.unavailable(request)) is not None:
            return refusal
        if self.gone:
            return error(410, "this endpoint is gone")
        if self.throttle_next > 0:
            self.throttle_next -= 1
            response = error(429, "slow down")
            response.headers["Retry-After"] = str(int(self.retry_after_s))
            return response
        if self.fail_next > 0:
            self.fail_next -= 1
            return error(503, "try again later")
        if webhook_id in self.fail_ids:
            return error(500, "this one fails")
        headers = dict(request.headers)
        signatures = self.verified(headers, raw)
        if signatures == 0:
            self.refused_signatures += 1
            self.log.warning("refused %s: no signature verifies", webhook_id)
            return error(401, "no signature verifies")
        if webhook_id not in self.received:
            self.received[webhook_id] = Delivery(
                webhook_id=webhook_id,
                timestamp=int(request.headers["webhook-timestamp"]),
                body=json.loads(raw),
                signatures=signatures,
                raw=raw,
                headers=headers,
            )
        return Response({"received": webhook_id}, status_code=200)

    def app(self) -> Litestar:
        @post(["/hooks", "/hooks/{rest:path}"], status_code=200)
        async def deliver(request: Request[Any, Any, Any]) -> Response[Any]:
            return await self._answer(request)

        return Litestar([deliver, *self.control_handlers()], logging_config=None)


def main(argv: list[str] | None = None) -> None:
    PartnerReceiver.command_line(argv)


if __name__ == "__main__":
    main()
