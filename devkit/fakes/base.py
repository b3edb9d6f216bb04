"""What the fakes of the external systems share: a bearer token, the switches that make them
misbehave (attributes in-process, ``POST /_control`` over HTTP, all or none), the answers of
a system that is down, slow or hanging, the test-only ``/_control`` and ``/_state``
endpoints, and running one as a process (``python -m devkit.fakes.<name> --port N``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar

from litestar import Litestar, Request, Response, get, post
from litestar.handlers import HTTPRouteHandler

# How long ``hang`` holds a request: far longer than any client waits.
HANG_S = 3600.0

# A fake's switches by name, each with the check of a value ``/_control`` sets it to.
Switches = dict[str, Callable[[Any], Any]]


@dataclass
class FakeSystem:
    """The switches every fake has; subclasses add their own and list them in ``SWITCHES``
    (name -> check, in the order ``/_control`` reports them)."""

    token: str = ""
    fail_next: int = 0  # the next N writes answer 503 and do nothing
    down: bool = False  # every /v1 request answers 503
    delay_s: float = 0.0  # every /v1 request waits this long before it is answered
    hang: bool = False  # /v1 requests are not answered (up to an hour) while this is on
    held: int = 0  # requests ``hang`` holds right now (a test waits for a client's to end)

    SWITCHES: ClassVar[Switches]
    DOWN: ClassVar[str]  # the error of every /v1 request while ``down``
    # Served as a process (``command_line``): the ``--help`` text, the default ``--port``,
    # and what the line that says it is serving calls it.
    HELP: ClassVar[str]
    PORT: ClassVar[int]
    WHAT: ClassVar[str]

    @classmethod
    def module(cls) -> str:
        """The fake's module, ``devkit.fakes.accounting`` (under ``python -m`` too, where it
        is ``__main__``)."""
        spec = sys.modules[cls.__module__].__spec__
        return spec.name if spec is not None else cls.__module__

    @property
    def log(self) -> logging.Logger:
        """The fake's logger: ``fakes.accounting``, ``fakes.payment_provider``."""
        return logging.getLogger(self.module().removeprefix("devkit."))

    def switches(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.SWITCHES}

    def control(self, values: dict[str, Any]) -> None:
        """Set switches by name; all or none (``ValueError`` names the first bad one)."""
        checked = {name: self._checked(name, value) for name, value in values.items()}
        for name, value in checked.items():
            setattr(self, name, value)

    def _checked(self, name: str, value: Any) -> Any:
        check = self.SWITCHES.get(name)
        if check is None:
            raise ValueError(f"{name!r} is not a switch; switches: {', '.join(self.SWITCHES)}")
        try:
            return check(value)
        except ValueError as exc:
            raise ValueError(f"{name} {exc}") from None

    def state(self) -> dict[str, Any]:
        raise NotImplementedError

    def app(self) -> Litestar:
        raise NotImplementedError

    @classmethod
    def arguments(cls) -> argparse.ArgumentParser:
        """The command line every fake takes: ``--host``, ``--port``, ``--token``."""
        parser = argparse.ArgumentParser(prog=f"python -m {cls.module()}", description=cls.HELP)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=cls.PORT)
        parser.add_argument("--token", default=cls.token)
        return parser

    @classmethod
    def own_options(cls, parser: argparse.ArgumentParser) -> None:
        """The options a fake adds to ``arguments``, each (as ``--token``) setting the fake's
        field of its name."""

    @classmethod
    def command_line(cls, argv: list[str] | None = None) -> None:
        """``python -m <module>`` of a fake: ``arguments`` and ``own_options``; serve it."""
        parser = cls.arguments()
        cls.own_options(parser)
        fields = vars(parser.parse_args(argv))
        host, listen_port = fields.pop("host"), fields.pop("port")
        cls(**fields).serve(host, listen_port)

    def serve(self, host: str, port: int) -> None:
        """Serve until interrupted, everything logged to stderr (``configure_logging``)."""
        import uvicorn

        configure_logging()
        self.log.info(
            "%s on http://%s:%d (token %s)%s",
            self.WHAT,
            host,
            port,
            self.token,
            self.started_note(),
        )
        uvicorn.run(self.app(), host=host, port=port, log_config=None)

    def started_note(self) -> str:
        """What the line that says a fake is serving adds about its own settings."""
        return ""

    async def unavailable(self, request: Request[Any, Any, Any]) -> Response[Any] | None:
        """The answer of a system that is down, slow or hanging; None when it works."""
        if self.down:
            return error(503, self.DOWN)
        if self.delay_s > 0:
            await asyncio.sleep(self.delay_s)
        if self.hang:
            self.held += 1
            try:
                if await hold_while(lambda: self.hang, request):
                    return error(503, "nobody is listening any more")  # the client left
            finally:
                self.held -= 1
        return None

    async def refused(self, request: Request[Any, Any, Any]) -> Response[Any] | None:
        """``unavailable``, else 401 without the bearer token; None when it may go on."""
        if (refusal := await self.unavailable(request)) is not None:
            return refusal
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return error(401, "unauthorized")
        return None

    async def write_key(self, request: Request[Any, Any, Any]) -> str | Response[Any]:
        """The Idempotency-Key of a write that may go on, or the answer that refuses it:
        ``refused``'s, 400 without a key, 503 while ``fail_next`` lasts (counted down). Read
        the body first."""
        if (refusal := await self.refused(request)) is not None:
            return refusal
        key = request.headers.get("idempotency-key")
        if not key:
            return error(400, "the Idempotency-Key header is required")
        if self.fail_next > 0:
            self.fail_next -= 1
            return error(503, "try again later")
        return key

    async def listed_by_day(
        self,
        request: Request[Any, Any, Any],
        parameter: str,
        name: str,
        on: Callable[[date], list[dict[str, Any]]],
    ) -> Response[Any]:
        """``GET ...?<parameter>=YYYY-MM-DD``: 200 ``{name: on(day)}``, else the refusal, or
        400 without a valid day."""
        if (refusal := await self.refused(request)) is not None:
            return refusal
        try:
            day = date.fromisoformat(request.query_params.get(parameter) or "")
        except ValueError:
            return error(400, f"{parameter}=YYYY-MM-DD is required")
        return Response({name: on(day)}, status_code=200)

    def control_handlers(self) -> list[HTTPRouteHandler]:
        """``POST /_control`` (switch name -> value) and ``GET /_state``."""

        @post("/_control", status_code=200)
        async def control(request: Request[Any, Any, Any]) -> Response[Any]:
            values = json_object(await request.body())
            if values is None:
                return error(400, "the body must be a JSON object")
            try:
                self.control(values)
            except ValueError as exc:
                return error(400, str(exc))
            self.log.info("switches: %s", values)
            return Response({"switches": self.switches()}, status_code=200)

        @get("/_state")
        async def state() -> dict[str, Any]:
            return self.state()

        return [control, state]


# --- the checks of the switches ----------------------------------------------------------


def flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def count(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError("must be an integer >= 0")
    return value


def seconds(value: Any) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        raise ValueError("must be a number >= 0")
    return float(value)


def string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return value


def text(value: Any) -> str:
    if not string(value):
        raise ValueError("must be a non-empty string")
    return str(value)


# The switches of ``FakeSystem``'s own faults, which every fake's ``SWITCHES`` includes.
FAULTS: Switches = {"fail_next": count, "down": flag, "delay_s": seconds, "hang": flag}


# --- requests and answers ----------------------------------------------------------------


def json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def error(status: int, message: str) -> Response[Any]:
    return Response({"error": message}, status_code=status)


async def hold_while(still: Callable[[], bool], request: Request[Any, Any, Any]) -> bool:
    """Leave a request unanswered while ``still()``, up to ``HANG_S``; True if the client left.

    The wait also watches the connection: a client that times out and disconnects ends it.
    Otherwise a server shutting down at the end of a test would wait an hour for the handler,
    since uvicorn lets running requests finish. Read the request body before calling this.
    """
    loop = asyncio.get_running_loop()
    gone = asyncio.ensure_future(_disconnected(request))
    deadline = loop.time() + HANG_S
    try:
        while still() and not gone.done() and loop.time() < deadline:
            await asyncio.wait({gone}, timeout=0.05)
        return gone.done() and not gone.cancelled() and gone.exception() is None
    finally:
        if not gone.done():
            gone.cancel()
            await asyncio.wait({gone})


async def _disconnected(request: Request[Any, Any, Any]) -> None:
    # Once the body is read, the server's next ASGI message is the disconnect.
    while (await request.receive())["type"] != "http.disconnect":
        pass


# --- as a process ---------------------------------------------------------------------


def configure_logging() -> None:
    """Everything, uvicorn's access lines included, to stderr (uvicorn's own sends those to
    stdout)."""
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
