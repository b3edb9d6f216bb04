"""Errors of the backing services become 503 problems (retry), never 500."""

from __future__ import annotations

import asyncpg
import pytest
from litestar import get
from litestar.testing import create_test_client

from backend.problems import EXCEPTION_HANDLERS


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.AdminShutdownError(
            "terminating connection due to administrator command"
        ),
        asyncpg.exceptions.CrashShutdownError("terminating connection due to crash"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.QueryCanceledError("canceling statement due to statement timeout"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
        asyncpg.exceptions.TooManyConnectionsError("too many clients"),
        asyncpg.InternalClientError("cannot switch to state 15; another operation is in progress"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_a_database_going_away_is_a_503_problem(error: Exception) -> None:
    @get("/fails", sync_to_thread=False)
    def fails() -> None:
        raise error

    with create_test_client([fails], exception_handlers=EXCEPTION_HANDLERS) as client:
        answer = client.get("/fails")
    assert answer.status_code == 503
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == "service_unavailable"
    assert answer.headers["retry-after"] == "1"
