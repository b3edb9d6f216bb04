"""``MobileMember``: a seeded member with the app open on their phone.

It holds ``/v1/ws?token=...`` (``users.streams``), reads ``/v1/me``,
``/v1/me/transactions`` and ``/v1/me/offers``, now and then activates an offer that must be
activated (``[run.member] activate_share``) and rotates its refresh token
(``POST /v1/auth/refresh``: ``refresh_share``, and whenever the access token is about to
expire). A till of this process often serves a member whose phone it follows
(``followed_share``): that purchase's push must reach this phone (``users.pushes``).

Connection churn (``LOADTEST_CHURN_S`` = S > 0; ``make soak`` turns it on, ``make
loadtest`` does not): about every S seconds (uniformly 0.5 S to 1.5 S), the phone closes its
socket (half of the time abruptly, with no close frame, like a phone losing its network) and
its HTTP connection, logs out (``POST /v1/auth/logout``), logs in again with a one-time code
(``POST /v1/auth/otp`` and ``/v1/auth/token``, the code being ``ASTROCOFFEE_DEV_OTP_CODE``,
which the server must be started with) and reopens the socket, resuming from the last seq it
saw: what it missed comes as ``WS-replay`` and must keep every stream's seq gapless.
"""

from __future__ import annotations

import time
import uuid
from typing import Any
from urllib.parse import quote

from locust import task
from locust.exception import StopUser

from loadtests.users.config import CHURN_S, OTP_CODE, RNG, RUN, log
from loadtests.users.pacing import poisson_pacing
from loadtests.users.pushes import forget_expected
from loadtests.users.shared import Shared
from loadtests.users.streams import Stream
from loadtests.users.tokens import TokenUser


class MobileMember(TokenUser):
    weight = int(RUN["weights"]["MobileMember"])
    wait_time = poisson_pacing(float(RUN["pace"]["MobileMember"]))
    member: dict[str, Any] | None = None
    stream: Stream | None = None
    activated: set[str]
    churn_at = 0.0  # monotonic time of the next close, log out, log in, reopen

    def on_start(self) -> None:
        Shared.load(self.environment)
        if not Shared.free_members:
            log.error("every seeded member of this process is signed in: seed more members")
            raise StopUser()
        self.member = Shared.free_members.pop()
        self.access_token = self.member["access_token"]
        self.refresh_token = self.member["refresh_token"]
        self.access_expires_at = float(self.member["access_expires_at"])
        self.activated = set(self.member.get("activated", ()))
        self.ensure_token()
        self.stream = Stream(self, "member")
        self.stream.start()
        if CHURN_S > 0:
            self.next_churn()

    def on_stop(self) -> None:
        if self.member is None:
            return
        self.stream_dropped()
        if self.stream is not None:
            self.stream.close()
        self.member["activated"] = sorted(self.activated)
        Shared.free_members.insert(0, self.member)
        self.member = None

    def ws_path(self) -> str:
        return f"/v1/ws?token={quote(self.access_token)}"

    def tokens_changed(self) -> None:
        assert self.member is not None  # handed back with the newest tokens
        self.member["access_token"] = self.access_token
        self.member["refresh_token"] = self.refresh_token
        self.member["access_expires_at"] = self.access_expires_at

    def stream_opened(self) -> None:
        assert self.member is not None
        Shared.followed[self.member["id"]] = self.member
        Shared.opened_at[self.member["id"]] = time.monotonic()

    def stream_dropped(self) -> None:
        if self.member is not None:
            Shared.followed.pop(self.member["id"], None)
            Shared.opened_at.pop(self.member["id"], None)

    # -- connection churn (LOADTEST_CHURN_S) ------------------------------------------------

    def next_churn(self) -> None:
        self.churn_at = time.monotonic() + RNG.uniform(0.5, 1.5) * CHURN_S

    def prepare(self) -> None:
        """Before every task run: churn when it is due, then a token that is not expiring."""
        self.churn_if_due()
        self.ensure_token()

    def churn_if_due(self) -> None:
        if CHURN_S > 0 and time.monotonic() >= self.churn_at:
            self.churn()

    def churn(self) -> None:
        """Like a phone that loses its network or is signed out: close the socket, log out,
        log in again with a one-time code, reopen the socket and resume where it was."""
        assert self.member is not None
        self.next_churn()
        old = self.stream
        self.stream_dropped()
        forget_expected(self.member["id"])
        if old is not None:
            old.close(abrupt=RNG.random() < 0.5)
        self.fresh_connection()  # the app comes back with no connection left
        self.ensure_token()
        self.call("POST", "/v1/auth/logout", expect=204, headers=self.bearer())
        if not self.log_in():
            self.churn_at = time.monotonic() + 5  # try again soon; requests fail meanwhile
            return
        fresh = Stream(self, "member")
        if old is not None:
            fresh.seqs = dict(old.seqs)  # resume: the missed events come as replays
        self.stream = fresh
        fresh.start()

    def log_in(self) -> bool:
        assert self.member is not None
        phone = self.member["phone"]
        if self.call("POST", "/v1/auth/otp", expect=202, json={"phone": phone}) is None:
            return False
        body = self.call("POST", "/v1/auth/token", json={"phone": phone, "code": OTP_CODE})
        if body is None:
            return False
        self.take_tokens(body)
        return True

    # -- tasks ------------------------------------------------------------------------------

    @task(5)
    def me(self) -> None:
        self.prepare()
        self.get_json("/v1/me", "/v1/me")

    @task(3)
    def transactions(self) -> None:
        self.prepare()
        self.get_json("/v1/me/transactions?limit=20", "/v1/me/transactions")

    @task(2)
    def offers(self) -> None:
        self.prepare()
        body = self.get_json("/v1/me/offers", "/v1/me/offers")
        if not body:
            return
        waiting = [
            offer
            for offer in body["items"]
            if offer.get("requires_activation")
            and offer.get("status") == "available"
            and offer["campaign_id"] not in self.activated
        ]
        if waiting and RNG.random() < float(RUN["member"]["activate_share"]):
            offer = RNG.choice(waiting)
            self.fresh_connection()
            activated = self.call(
                "POST",
                f"/v1/me/offers/{offer['campaign_id']}/activate",
                name="/v1/me/offers/{id}/activate",
                headers={**self.bearer(), "Idempotency-Key": uuid.uuid4().hex},
            )
            if activated is None:
                return
            self.activated.add(offer["campaign_id"])

    @task(1)
    def rotate(self) -> None:
        self.churn_if_due()
        if RNG.random() < float(RUN["member"]["refresh_share"]):
            self.refresh()
        else:
            self.ensure_token()
