"""The soak test's samples of the server process (``loadtests.soak``): resident memory and
open file descriptors, asyncio tasks, the PostgreSQL and Redis pools, Redis clients, open
WebSockets and the HTTP requests it counted, each ``Sample`` read from its ``/metrics``
(``backend.ops.sampler``) and, with several workers, ``/proc``; ``Recorder`` takes them on
a schedule while Locust runs."""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

Metrics = dict[str, list[tuple[dict[str, str], float]]]  # sample name -> [(labels, value)]


@dataclass
class Sample:
    label: str
    at_s: float  # seconds since Locust started (negative: before)
    rss_mib: float
    fds: int
    tasks: int
    db_in_use: int
    db_idle: int
    redis_in_use: int
    redis_idle: int
    redis_clients: int | None  # INFO clients of the whole Redis server
    websockets: int
    requests: float  # the server's HTTP requests so far
    rate: float | None = None  # HTTP requests/s since the previous sample

    @property
    def db_pool(self) -> int:
        return self.db_in_use + self.db_idle

    @property
    def redis_pool(self) -> int:
        return self.redis_in_use + self.redis_idle


def scrape(port: int) -> Metrics:
    """The server's /metrics: sample name -> [(labels, value)]."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as answer:
        text = answer.read().decode()
    out: Metrics = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((sample.labels, sample.value))
    return out


def total(metrics: Metrics, name: str, **labels: str) -> float:
    return sum(
        value
        for have, value in metrics.get(name, [])
        if all(have.get(k) == v for k, v in labels.items())
    )


@dataclass
class Recorder:
    """Takes the samples of one server process (and its workers, if any)."""

    port: int
    server_pid: int
    redis_url: str
    samples: list[Sample] = field(default_factory=list)
    marks: list[float] = field(default_factory=list)  # when to sample, seconds into the run
    errors: list[str] = field(default_factory=list)
    _redis: Any = None

    def schedule(self, *, warmup_s: float, interval_s: float, run_s: float) -> None:
        """After the warm-up, then every interval, and 5 s before Locust's end."""
        end = run_s - 5
        mark = warmup_s
        while mark <= end:
            self.marks.append(mark)
            mark += interval_s
        if not self.marks or end - self.marks[-1] >= min(15.0, interval_s / 2):
            self.marks.append(end)

    def every_second(self, elapsed: float) -> None:
        if self.marks and elapsed >= self.marks[0]:
            self.marks.pop(0)
            first = not any(s.at_s >= 0 for s in self.samples)
            self.take("warm" if first else "load", elapsed)

    def redis_clients(self) -> int | None:
        from redis import Redis
        from redis.exceptions import RedisError

        try:
            if self._redis is None:
                self._redis = Redis.from_url(self.redis_url, socket_timeout=10)
            return int(self._redis.info("clients")["connected_clients"])
        except RedisError as exc:
            self.errors.append(f"Redis INFO clients: {exc}")
            return None

    def process_figures(self, metrics: Metrics) -> tuple[float, int]:
        """(RSS MiB, open fds): the process collector's, or /proc of the process and its
        workers (prometheus-client's multiprocess mode has no process collector)."""
        if "process_resident_memory_bytes" in metrics and "process_open_fds" in metrics:
            return (
                total(metrics, "process_resident_memory_bytes") / 2**20,
                int(total(metrics, "process_open_fds")),
            )
        import psutil

        main = psutil.Process(self.server_pid)
        rss = fds = 0
        for process in (main, *main.children(recursive=True)):
            try:
                rss += process.memory_info().rss
                fds += process.num_fds()
            except psutil.Error:
                continue
        return rss / 2**20, fds

    def take(self, label: str, at_s: float) -> Sample | None:
        try:
            metrics = scrape(self.port)
        except (urllib.error.URLError, OSError) as exc:
            self.errors.append(f"{label} at {at_s:.0f} s: /metrics did not answer: {exc}")
            return None
        rss, fds = self.process_figures(metrics)
        pool = "astrocoffee_db_pool_connections"
        redis_pool = "astrocoffee_redis_pool_connections"
        sample = Sample(
            label=label,
            at_s=at_s,
            rss_mib=rss,
            fds=fds,
            tasks=int(total(metrics, "astrocoffee_asyncio_tasks")),
            db_in_use=int(total(metrics, pool, node="primary", state="in_use")),
            db_idle=int(total(metrics, pool, node="primary", state="idle")),
            redis_in_use=int(total(metrics, redis_pool, state="in_use")),
            redis_idle=int(total(metrics, redis_pool, state="idle")),
            redis_clients=self.redis_clients(),
            websockets=int(total(metrics, "astrocoffee_websocket_connections")),
            requests=total(metrics, "astrocoffee_requests_total"),
        )
        if label in ("warm", "load") and self.samples and at_s > self.samples[-1].at_s:
            last = self.samples[-1]
            sample.rate = (sample.requests - last.requests) / (at_s - last.at_s)
        self.samples.append(sample)
        print(f"sample {describe(sample)}", flush=True)
        return sample

    def close(self) -> None:
        if self._redis is not None:
            self._redis.close()


def clock(at_s: float) -> str:
    sign = "-" if at_s < 0 else ""
    whole = int(abs(at_s))
    return f"{sign}{whole // 60}:{whole % 60:02d}"


def describe(s: Sample) -> str:
    return (
        f"{s.label} t={clock(s.at_s)}: RSS {s.rss_mib:.1f} MiB, {s.fds} fds, {s.tasks} tasks, "
        f"DB pool {s.db_in_use}/{s.db_idle}, Redis pool {s.redis_in_use}/{s.redis_idle}, "
        f"Redis clients {s.redis_clients}, {s.websockets} WebSockets"
    )
