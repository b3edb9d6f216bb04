"""Push latency to the buyer's phone: ``PUSH purchase -> balance.updated``.

Every purchase (one-shot or completed checkout) made by this process for a member whose
socket this process holds must reach that socket within ``[targets] push_deadline_ms`` (or
``LOADTEST_PUSH_DEADLINE_MS``): its response time is the push's commit-to-client latency,
and a failure when it comes late or not at all. The till says what it sold
(``expect_push``), the member's socket what it was pushed (``pushed``), whichever comes
first; a watcher fails the sales whose push did not come in time.
"""

from __future__ import annotations

import time
from typing import Any

import gevent

from loadtests.users.config import PUSH_DEADLINE_MS
from loadtests.users.reporting import fire
from loadtests.users.shared import Shared

PUSH_NAME = "purchase -> balance.updated"


class PushLate(Exception):
    pass


class PushMissing(Exception):
    pass


def expect_push(environment: Any, purchase_id: str, member_id: str, sent: float) -> None:
    """A purchase for a member this process follows: its balance.updated must arrive."""
    got = Shared.pushed.pop(purchase_id, None)
    if got is not None:
        _settle(environment, got[0])
        return
    Shared.expected[purchase_id] = (sent, time.monotonic() + PUSH_DEADLINE_MS / 1000, member_id)
    if Shared.watcher is None:
        Shared.watcher = gevent.spawn(_watch, environment)


def pushed(environment: Any, purchase_id: str, latency_ms: float) -> None:
    if Shared.expected.pop(purchase_id, None) is not None:
        _settle(environment, latency_ms)
    else:  # the push beat the HTTP response, or another process made the sale
        Shared.pushed[purchase_id] = (latency_ms, time.monotonic())


def forget_expected(member_id: str) -> None:
    """The member's socket closes on purpose: its pending pushes are not to be waited for."""
    for purchase_id, (_, _, member) in list(Shared.expected.items()):
        if member == member_id:
            Shared.expected.pop(purchase_id, None)


def _settle(environment: Any, latency_ms: float) -> None:
    late = None
    if latency_ms > PUSH_DEADLINE_MS:
        late = PushLate(f"pushed later than the {PUSH_DEADLINE_MS:.0f} ms deadline")
    fire(environment, "PUSH", PUSH_NAME, latency_ms, exception=late)


def _watch(environment: Any) -> None:
    """Fail the purchases whose push did not come in time: if it had, it would be settled.

    The deadline counts from the HTTP response, which comes after the commit (and so after
    ``ts``): a push that arrives after it is late by the commit-to-client measure too.
    """
    while True:
        gevent.sleep(0.02)
        now = time.monotonic()
        for purchase_id, (sent, deadline, member_id) in list(Shared.expected.items()):
            if now <= deadline:
                continue
            del Shared.expected[purchase_id]
            if Shared.stopping or member_id not in Shared.followed:
                continue  # the test or the member's socket is closing: nothing to measure
            fire(
                environment,
                "PUSH",
                PUSH_NAME,
                (now - sent) * 1000,
                exception=PushMissing(f"no balance.updated within {PUSH_DEADLINE_MS:.0f} ms"),
            )
        for purchase_id, (_, at) in list(Shared.pushed.items()):
            if now - at > 30:
                del Shared.pushed[purchase_id]
