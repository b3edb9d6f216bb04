"""A real streaming replica for the tests: a primary of its own, cloned with ``pg_basebackup -R``.

The primary is made here with ``initdb`` and ``pg_ctl`` from the binaries of the test run's
own server (``pg_config``'s BINDIR, asked of that server: pgserver's in the embedded run, the
machine's PostgreSQL 15 in the other), not the test server itself. Neither test server may be
changed at test time: the machine's refuses replication connections (no ``replication``
line in its pg_hba.conf, which a test must not edit), and the embedded one's data folder is
shared with every other run and process of the checkout, whose databases a clone would copy
(and a config change would need a restart under them). So each run makes a small pair:

- the primary on a free port, ``wal_level=replica`` and ``max_wal_senders``, trust for
  replication from 127.0.0.1 (initdb's ``--auth=trust`` lines, written out anyway);
- the replica: ``pg_basebackup -R -X stream`` of it (``standby.signal`` and
  ``primary_conninfo`` written by ``-R``), started with ``pg_ctl`` on another free port.

Both listen on 127.0.0.1 only, without a Unix socket, and skip fsync (thrown away after).
As root (CI), PostgreSQL refuses to run: the commands run as the ``postgres`` or ``pgserver``
system user, the one the test server itself runs as.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from devkit.ports import free_port

_SERVER_SETTINGS = """
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
port = {port}
wal_level = replica
max_wal_senders = 4
fsync = off
synchronous_commit = on
full_page_writes = off
"""


def _system_user() -> str | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "pgserver"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise RuntimeError("running as root, but no postgres or pgserver user to run PostgreSQL as")


@dataclass
class Server:
    data: Path
    port: int

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"


@dataclass
class StreamingPair:
    bindir: Path
    base: Path
    user: str | None
    primary: Server
    replica: Server

    def run(self, tool: str, *args: str) -> None:
        done = subprocess.run(
            [str(self.bindir / tool), *args],
            user=self.user,
            cwd=self.base,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args)} failed:\n{done.stdout}{done.stderr}")

    def start(self, server: Server) -> None:
        log = self.base / f"{server.data.name}.log"
        self.run("pg_ctl", "-D", str(server.data), "-l", str(log), "-w", "-t", "30", "start")

    def stop(self, server: Server) -> None:
        self.run("pg_ctl", "-D", str(server.data), "-m", "fast", "-w", "stop")

    def is_running(self, server: Server) -> bool:
        return (server.data / "postmaster.pid").exists()

    def clone_replica(self) -> None:
        self.run(
            "pg_basebackup",
            *("-h", "127.0.0.1", "-p", str(self.primary.port), "-U", "postgres"),
            *("-D", str(self.replica.data), "-R", "-X", "stream", "-c", "fast", "--no-sync"),
        )
        with (self.replica.data / "postgresql.conf").open("a") as conf:
            conf.write(f"\nport = {self.replica.port}\n")  # the clone has the primary's

    def close(self) -> None:
        for server in (self.replica, self.primary):
            if self.is_running(server):
                self.run("pg_ctl", "-D", str(server.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.base, ignore_errors=True)


def make_primary(bindir: Path) -> StreamingPair:
    """A running primary ready to be cloned (``clone_replica``, then ``start(replica)``)."""
    user = _system_user()
    base = Path(tempfile.mkdtemp(prefix="astrocoffee-replica-"))
    base.chmod(0o755)
    if user is not None:
        record = pwd.getpwnam(user)
        os.chown(base, record.pw_uid, record.pw_gid)
    pair = StreamingPair(
        bindir=bindir,
        base=base,
        user=user,
        primary=Server(base / "primary", free_port()),
        replica=Server(base / "replica", free_port()),
    )
    try:
        pair.run(
            "initdb",
            *("-D", str(pair.primary.data), "-U", "postgres", "--auth=trust"),
            *("--encoding=UTF8", "--locale=C", "--no-sync"),
        )
        with (pair.primary.data / "postgresql.conf").open("a") as conf:
            conf.write(_SERVER_SETTINGS.format(port=pair.primary.port))
        with (pair.primary.data / "pg_hba.conf").open("a") as hba:
            hba.write("\nhost replication all 127.0.0.1/32 trust\n")
        pair.start(pair.primary)
    except BaseException:
        pair.close()
        raise
    return pair
