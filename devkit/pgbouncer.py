"""Debian's PgBouncer in transaction mode in front of one PostgreSQL server, as a child
process on a free port of 127.0.0.1 (``tests/e2e/test_pgbouncer.py`` puts it between app
processes and the test database).

Clients authenticate with ``trust`` against a userlist naming the server URL's user; every
database name is passed through to the same server (``*``). ``ignore_startup_parameters``
is left empty on purpose: the app must connect without PgBouncer dropping anything for it.
A missing binary is an error that says what to install, never a reason to skip.
"""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

from devkit.ports import free_port, wait_for_port
from devkit.processes import AppProcess

# Debian installs it in /usr/sbin, which is not on a non-root user's PATH.
_PLACES = ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer")


class PgBouncerMissing(RuntimeError):
    """No pgbouncer binary on this machine."""


def binary() -> str:
    found = shutil.which("pgbouncer") or next((p for p in _PLACES if os.access(p, os.X_OK)), None)
    if found is None:
        raise PgBouncerMissing(
            "pgbouncer is not installed: `make system-packages` (deploy/dev/provision.sh) "
            "installs it, or: sudo apt-get install pgbouncer"
        )
    return found


@dataclass(frozen=True)
class Server:
    """Where a PostgreSQL URL points: TCP host or socket folder, port, user, password."""

    host: str
    port: int
    user: str
    password: str

    def os_user(self) -> str:
        """Who may open the server's socket: its folder's owner, or anyone over TCP."""
        if not self.host.startswith("/"):
            return "nobody"
        return pwd.getpwuid(Path(self.host).stat().st_uid).pw_name

    @classmethod
    def of(cls, database_url: str) -> Server:
        parts = urlsplit(database_url)
        # pgserver's embedded URL names its socket folder as ?host=/path.
        host = parts.hostname or parse_qs(parts.query).get("host", ["127.0.0.1"])[0]
        return cls(
            host=host,
            port=parts.port or 5432,
            user=unquote(parts.username or "postgres"),
            password=unquote(parts.password or ""),
        )


@dataclass(frozen=True)
class PgBouncer:
    port: int
    user: str
    process: AppProcess

    def url(self, database: str) -> str:
        """A URL of ``database`` through this PgBouncer."""
        return f"postgresql://{quote(self.user)}@127.0.0.1:{self.port}/{database}"

    def log_text(self) -> str:
        return self.process.log_text(tail=0)


def config(*, server: Server, port: int, pool_size: int, folder: Path) -> str:
    """pgbouncer.ini: transaction pooling of every database of ``server`` on ``port``."""
    password = f" password={server.password}" if server.password else ""
    return f"""[databases]
* = host={server.host} port={server.port} user={server.user}{password}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {folder / "userlist.txt"}
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 1000
log_connections = 1
log_disconnections = 0
"""


@contextmanager
def running_pgbouncer(database_url: str, *, pool_size: int) -> Iterator[PgBouncer]:
    """PgBouncer in front of the server of ``database_url`` with at most ``pool_size`` server
    connections per database; stopped (SIGTERM) after."""
    server = Server.of(database_url)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="pgbouncer-") as name:
        folder = Path(name)
        (folder / "userlist.txt").write_text(f'"{server.user}" ""\n')
        ini = folder / "pgbouncer.ini"
        ini.write_text(config(server=server, port=port, pool_size=pool_size, folder=folder))
        argv = [binary(), str(ini)]
        if os.geteuid() == 0:
            # PgBouncer refuses to run as root: it reads its files, then becomes a user who
            # can reach the server (the owner of the embedded server's socket folder).
            folder.chmod(0o755)
            argv[1:1] = ["-u", server.os_user()]
        with AppProcess(argv, port=port) as process:
            try:
                wait_for_port(port)
            except AssertionError as exc:
                raise AssertionError(f"{exc}; pgbouncer said: {process.log_text()}") from exc
            yield PgBouncer(port=port, user=server.user, process=process)
