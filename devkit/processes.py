"""Our programs as child processes of the repository root: ``astrocoffee`` commands run to
completion, and ``astrocoffee serve``/``worker`` or a fake (``python -m devkit.fakes.…``) kept
running, waited for until they answer, signalled and stopped, their stdout and stderr in a
log file. Only ever on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from devkit.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(sys.executable).with_name("astrocoffee")  # this environment's console script


class NotReady(RuntimeError):
    """A process exited, or did not answer in time, before it was ready (the end of its log
    is in the message)."""


def app_env(database_url: str, redis_url: str, **settings: str) -> dict[str, str]:
    """The environment of an ``astrocoffee`` process on these servers with these settings
    (``ASTROCOFFEE_...``), and none of the caller's own: its ``ASTROCOFFEE_...`` variables,
    URLs and metrics folder are left out."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("ASTROCOFFEE_")
        and key not in ("DATABASE_URL", "REDIS_URL", "PROMETHEUS_MULTIPROC_DIR")
    }
    return {**env, "DATABASE_URL": database_url, "REDIS_URL": redis_url, **settings}


def astrocoffee(
    *args: str, env: Mapping[str, str], timeout_s: float = 120, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``astrocoffee <args>`` to completion; its exit status and output, whatever they are."""
    return subprocess.run(
        [str(SCRIPT), *args],
        env=dict(env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
        input=stdin,
    )


class AppProcess:
    """One long-running process of ours; ``stop()`` (or the end of a ``with`` block) ends it.

    Its stdout and stderr go to ``log`` (a temporary file, removed by ``stop``, if none is
    given). ``port``: where it listens, if it does."""

    def __init__(
        self,
        argv: list[str],
        env: Mapping[str, str] | None = None,
        *,
        log: Path | None = None,
        port: int = 0,
    ) -> None:
        self.port = port
        self.name = " ".join([Path(argv[0]).name, *argv[1:3]])  # "astrocoffee serve --port"
        self._temporary_log = log is None
        if log is None:
            handle, name = tempfile.mkstemp(prefix="astrocoffee-", suffix=".log")
            os.close(handle)
            log = Path(name)
        self.log = log
        self._log_file = log.open("wb")
        self.process = subprocess.Popen(
            argv,
            env=None if env is None else dict(env),
            cwd=ROOT,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )

    @classmethod
    def command(
        cls, *args: str, env: Mapping[str, str], log: Path | None = None, port: int = 0
    ) -> AppProcess:
        """``astrocoffee <args>`` (``worker``, ...)."""
        return cls([str(SCRIPT), *args], env, log=log, port=port)

    @classmethod
    def serve(
        cls, env: Mapping[str, str], *args: str, log: Path | None = None, port: int | None = None
    ) -> AppProcess:
        """``astrocoffee serve --port <port> <args>``, on a free port unless one is given."""
        port = port or free_port()
        return cls.command("serve", "--port", str(port), *args, env=env, log=log, port=port)

    @classmethod
    def module(
        cls, module: str, *args: str, env: Mapping[str, str] | None = None, log: Path | None = None
    ) -> AppProcess:
        """``python -m <module> --port <free port> <args>``: a fake, as ``make run`` runs it."""
        port = free_port()
        argv = [sys.executable, "-m", module, "--port", str(port), *args]
        return cls(argv, env, log=log, port=port)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.address}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.address}/v1/ws"

    def wait_ready(
        self, path: str = "/health/ready", *, timeout_s: float = 60, any_answer: bool = False
    ) -> None:
        """Return once ``GET path`` answers 200 (``any_answer``: anything at all); NotReady if
        the process exits first or ``timeout_s`` passes."""
        url = self.base_url + path
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise NotReady(
                    f"{self.name} exited with {self.process.returncode} before "
                    f"{url} answered: {self.log_text()}"
                )
            try:
                status = httpx.get(url, timeout=2).status_code
            except httpx.TransportError:
                pass
            else:
                if any_answer or status == 200:
                    return
            time.sleep(0.1)
        raise NotReady(f"{url} did not become ready within {timeout_s:.0f} s: {self.log_text()}")

    async def ready(
        self, path: str = "/health/ready", *, timeout_s: float = 60, any_answer: bool = False
    ) -> None:
        """``wait_ready`` without blocking the event loop (which may carry a load meanwhile)."""
        await asyncio.to_thread(self.wait_ready, path, timeout_s=timeout_s, any_answer=any_answer)

    def signal(self, number: signal.Signals) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, number)

    def kill(self) -> None:
        """SIGKILL: no shutdown of any kind, in-flight requests and all."""
        self.signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def terminate(self) -> None:
        """SIGTERM, without waiting (``stop`` waits)."""
        if self.process.poll() is None:
            self.process.terminate()

    def stop(self, timeout_s: float = 20) -> None:
        """SIGTERM and wait (SIGKILL after ``timeout_s``); close (or remove) its log."""
        stop(self.process, timeout_s)
        if not self._log_file.closed:
            self._log_file.close()
            if self._temporary_log:
                self.log.unlink(missing_ok=True)

    def log_text(self, tail: int = 4000) -> str:
        """The end of its output (``tail=0``: all of it)."""
        if self._log_file.closed and self._temporary_log:
            return ""
        self._log_file.flush()
        return self.log.read_text(errors="replace")[-tail:]

    def __enter__(self) -> AppProcess:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> AppProcess:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """``stop`` without blocking the event loop (which may serve what it talks to)."""
        await asyncio.to_thread(self.stop)


def stop(process: subprocess.Popen[Any] | None, timeout_s: float = 20) -> None:
    """SIGTERM a child process if it still runs and wait for it; SIGKILL after ``timeout_s``."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def raise_open_files_limit(at_least: int = 8192) -> None:
    """Raise this process's soft limit of open files (as far as the hard one allows): a load
    generator holds thousands of sockets."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, at_least)), hard))
