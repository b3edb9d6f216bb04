"""Figures from Locust's JSON statistics (Locust's own percentiles over its rounded
response-time buckets, rates over the run's window) and from the server's /metrics."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families


def read_stats(prefix_path: Path, locust_log: Path) -> list[dict[str, Any]] | None:
    """The statistics Locust wrote to ``<prefix_path>.json``; None (said) if it wrote none."""
    json_path = Path(f"{prefix_path}.json")
    if not json_path.exists():
        print(f"locust wrote no {json_path}; see {locust_log}", file=sys.stderr)
        return None
    stats: list[dict[str, Any]] = json.loads(json_path.read_text(encoding="utf-8"))
    return stats


def percentile(times: dict[int, int], count: int, q: float) -> int:
    """Locust's own percentile over its rounded response-time buckets."""
    wanted = int(count * q)
    processed = 0
    for value in sorted(times, reverse=True):
        processed += times[value]
        if count - processed <= wanted:
            return value
    return 0


def window(stats: list[dict[str, Any]]) -> float:
    """Seconds from the first request of the run to its last (Locust opens an entry at the
    entry's first request, so one entry's own window says little about the run)."""
    starts = [e["start_time"] for e in stats if e.get("start_time")]
    ends = [e["last_request_timestamp"] for e in stats if e.get("last_request_timestamp")]
    return max(0.0, max(ends) - min(starts)) if starts and ends else 0.0


def merged(entries: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    times: dict[int, int] = {}
    for entry in entries:
        for value, count in entry["response_times"].items():
            times[int(float(value))] = times.get(int(float(value)), 0) + count
    requests = sum(e["num_requests"] for e in entries)
    return {
        "requests": requests,
        "failures": sum(e["num_failures"] for e in entries),
        "times": times,
        "timed": sum(times.values()),
        "max": max((e["max_response_time"] or 0 for e in entries), default=0),
        "rps": requests / seconds if seconds > 0 else 0.0,
    }


def label(entry: dict[str, Any]) -> str:
    return f"{entry['method']} {entry['name']}"


def client_mean(stats: list[dict[str, Any]], names: tuple[str, ...]) -> str:
    chosen = [e for e in stats if e["method"] == "POST" and e["name"] in names]
    count = sum(e["num_requests"] for e in chosen)
    total = sum(e["total_response_time"] for e in chosen)
    return f"client-side mean of the same: {total / count:.1f} ms" if count else ""


def server_view(port: int, path: str = "/v1/purchases") -> str | None:
    """The server's own histogram of ``POST path`` (its /metrics), to set beside what the
    clients measured: the difference is the time outside the app (network, the client)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
            text = answer.read().decode()
    except (urllib.error.URLError, OSError):
        return None
    count, total, within = _histogram(
        text, "astrocoffee_request_duration_seconds", path=path, method="POST"
    )
    if not count:
        return None
    return (
        f"server-side view of POST {path} (its /metrics histogram): {count:.0f} requests, "
        f"mean {total / count * 1000:.1f} ms, {within.get(0.025, 0) / count:.1%} within 25 ms, "
        f"{within.get(0.05, 0) / count:.1%} within 50 ms"
        + loop_lag(text)
        + publish_and_collector(text)
    )


def publish_and_collector(metrics: str) -> str:
    """Two places a push can lose its 50 ms before it leaves the server: from an event's
    commit to its publication on Redis (``realtime.metrics``), and the collector's passes,
    each of which holds the event loop (``backend.ops.garbage``)."""
    parts = (
        _over(metrics, "astrocoffee_event_publish_lag_seconds", "commit to Redis publish", 0.025),
        _over(metrics, "astrocoffee_gc_pause_seconds", "collector passes", 0.01),
    )
    return "".join(f"; {part}" for part in parts if part)


def _over(metrics: str, name: str, what: str, bound: float) -> str:
    """How many of a histogram's samples, its mean, how many over ``bound`` and twice it."""
    count, total, within = _histogram(metrics, name)
    if not count:
        return ""
    over = ", ".join(
        f"{count - within.get(b, count):.0f} over {b * 1000:g} ms" for b in (bound, 2 * bound)
    )
    return f"{what}: {count:.0f}, mean {total / count * 1000:.1f} ms, {over}"


def loop_lag(metrics: str) -> str:
    """The server's event loop lag (``backend.ops.loop_watch``): how late its heartbeat
    timer ran, which every await of every request waits as well."""
    count, total, within = _histogram(metrics, "astrocoffee_event_loop_lag_seconds")
    if not count:
        return ""
    # Shares for the common lags, counts for the rare ones (a share rounds them to 0.0%).
    shares = ", ".join(
        f"{1 - within[bound] / count:.1%} over {bound * 1000:g} ms"
        if bound < 0.025
        else f"{count - within[bound]:.0f} beats over {bound * 1000:g} ms"
        for bound in (0.005, 0.01, 0.025, 0.05)
        if bound in within
    )
    return f"; event loop lag mean {total / count * 1000:.1f} ms ({shares})"


def _histogram(metrics: str, name: str, **labels: str) -> tuple[float, float, dict[float, float]]:
    """Count, sum and the cumulative bucket counts by upper bound of the histogram ``name``
    in a /metrics text, added up over its series whose labels include ``labels``."""
    count = total = 0.0
    within: dict[float, float] = {}
    for family in text_string_to_metric_families(metrics):
        if family.name != name:
            continue
        for sample in family.samples:
            if any(sample.labels.get(key) != value for key, value in labels.items()):
                continue
            if sample.name == f"{name}_count":
                count += sample.value
            elif sample.name == f"{name}_sum":
                total += sample.value
            elif sample.name == f"{name}_bucket":
                bound = float(sample.labels["le"])
                within[bound] = within.get(bound, 0.0) + sample.value
    return count, total, within
