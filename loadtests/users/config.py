"""What one Locust process is told: ``loadtests/targets.toml`` and the environment.

``LOADTEST_TARGETS`` (default ``loadtests/targets.toml``): ``[run]`` gives the users'
weights, paces and mixes, ``[targets] push_deadline_ms`` the push deadline, unless
``LOADTEST_PUSH_DEADLINE_MS`` says otherwise. ``LOADTEST_CREDENTIALS`` (default
``loadtests/.credentials.json``, written by ``python -m loadtests.seed``): the seeded stores,
terminals, managers and members. ``LOADTEST_WORKERS``, for a distributed run: the number of
worker processes, so that each worker signs in as its own share of the members (a refresh
token must not be rotated by two processes). ``LOADTEST_CHURN_S`` and ``LOADTEST_TILL_DROP``:
connection churn (``users.phones``, ``users.tills``), off unless set.
"""

from __future__ import annotations

import logging
import os
import random
import tomllib
from pathlib import Path
from typing import Any

LOADTESTS = Path(__file__).resolve().parents[1]
TARGETS = tomllib.loads(
    Path(os.environ.get("LOADTEST_TARGETS", LOADTESTS / "targets.toml")).read_text(encoding="utf-8")
)
RUN: dict[str, Any] = TARGETS["run"]
PUSH_DEADLINE_MS = float(
    os.environ.get("LOADTEST_PUSH_DEADLINE_MS") or TARGETS["targets"]["push_deadline_ms"]
)
CREDENTIALS = Path(os.environ.get("LOADTEST_CREDENTIALS", LOADTESTS / ".credentials.json"))
WORKERS = max(1, int(os.environ.get("LOADTEST_WORKERS", "1")))
CHURN_S = float(os.environ.get("LOADTEST_CHURN_S") or 0)  # 0: phones never churn
TILL_DROP = float(os.environ.get("LOADTEST_TILL_DROP") or 0)  # 0: tills keep their connection
OTP_CODE = os.environ.get("ASTROCOFFEE_DEV_OTP_CODE", "")
if CHURN_S > 0 and not OTP_CODE:
    raise RuntimeError("LOADTEST_CHURN_S needs ASTROCOFFEE_DEV_OTP_CODE (the server's too)")
log = logging.getLogger("loadtests")
# Who buys what, and when: a load generator, not cryptography.
RNG = random.Random()  # noqa: S311
