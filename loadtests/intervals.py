"""The report's section "Minute by minute": each latency target's p50 and p99 in every
interval of the run, from the files ``loadtests.users.intervals`` wrote (one per Locust
process), and how far the last full interval moved from the first."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any, NamedTuple

from loadtests.figures import percentile

Times = dict[int, int]  # response time in whole ms -> count
# A Locust process records a wake-up of its hub later than this as a stall
# (loadtests.users.intervals; defined here so that the report needs no Locust import).
STALL_MS = 20.0


class Written(NamedTuple):
    """What every Locust process wrote, merged."""

    interval_s: int
    times: dict[str, dict[int, Times]]  # label -> interval -> times
    failures: list[tuple[float, str, float]]  # (seconds in, label, response time ms)
    stalls: list[tuple[float, float]]  # (seconds in, ms late) of a Locust process's hub


def _add(into: Times, times: dict[Any, Any]) -> None:
    for ms, count in times.items():
        into[int(ms)] = into.get(int(ms), 0) + int(count)


def read_intervals(prefix_path: Path) -> Written:
    merged: dict[str, dict[int, Times]] = {}
    failures: list[tuple[float, str, float]] = []
    stalls: list[tuple[float, float]] = []
    interval_s = 60
    for path in sorted(prefix_path.parent.glob(f"{prefix_path.name}-intervals-*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        interval_s = int(data["interval_s"])
        failures += [(float(t), str(label), float(ms)) for t, label, ms in data["failures"]]
        stalls += [(float(t), float(ms)) for t, ms in data["stalls"]]
        for label, intervals in data["times"].items():
            into = merged.setdefault(label, {})
            for index, times in intervals.items():
                _add(into.setdefault(int(index), {}), times)
    return Written(interval_s, merged, sorted(failures), sorted(stalls))


def stall_lines(written: Written) -> list[str]:
    """The load generator's own stalls, and the failures that came within a second after
    one (a push measured late because the client was not running is not the server's)."""
    if not written.failures and not written.stalls:
        return []
    worst = max((ms for _, ms in written.stalls), default=0.0)
    after_stall = [
        f
        for f in written.failures
        if any(0 <= f[0] - t <= 1.0 + ms / 1000 for t, ms in written.stalls)
    ]
    lines = [
        f"Locust's own hub stalled {len(written.stalls)} times over "
        f"{STALL_MS:.0f} ms (the longest {worst:.0f} ms); of the {len(written.failures)} "
        f"failures, {len(after_stall)} came within a second after such a stall."
    ]
    for seconds_in, label, ms in written.failures[:20]:
        before = [
            f"{s_ms:.0f} ms at {t:.1f} s" for t, s_ms in written.stalls if 0 <= seconds_in - t <= 2
        ]
        lines.append(
            f"- {seconds_in:.1f} s: {label}, {ms:.0f} ms"
            + (f" (stalls in the 2 s before: {', '.join(before)})" if before else "")
        )
    return lines


def _chosen(times: dict[str, dict[int, Times]], patterns: list[str]) -> dict[int, Times]:
    out: dict[int, Times] = {}
    for label, intervals in times.items():
        if not any(fnmatch.fnmatchcase(label, p) for p in patterns):
            continue
        for index, bucket in intervals.items():
            _add(out.setdefault(index, {}), bucket)
    return out


def minute_lines(prefix_path: Path, config: dict[str, Any], run_s: float) -> list[str]:
    """The section's lines; none when no process wrote its intervals."""
    written = read_intervals(prefix_path)
    interval_s, times = written.interval_s, written.times
    figures = [f for f in config["targets"].get("figure", []) if "p99_ms" in f]
    if not times or not figures:
        return []
    # Only whole intervals: the last one, cut by the stop, holds a few seconds.
    whole = max(1, int(run_s // interval_s))
    columns = [
        (f["name"].removesuffix(", p99 and rate"), _chosen(times, f["match"])) for f in figures
    ]
    header = "| interval | " + " | ".join(f"{name}: n, p50 / p99 ms" for name, _ in columns) + " |"
    lines = [
        f"Each target's figures in each {interval_s} s of the measured run (every Locust "
        "process; the interval the stop cut short is left out). A run that gets slower as "
        "its tables grow climbs down this table.",
        "",
        header,
        "| ---: |" + " ---: |" * len(columns),
    ]
    firsts_lasts: list[str] = []
    for index in range(whole):
        cells = []
        for _, chosen in columns:
            bucket = chosen.get(index, {})
            n = sum(bucket.values())
            cells.append(
                f"{n}, {percentile(bucket, n, 0.5)} / {percentile(bucket, n, 0.99)}" if n else "-"
            )
        start = index * interval_s
        lines.append(f"| {start // 60}:{start % 60:02d} | " + " | ".join(cells) + " |")
    for name, chosen in columns:
        first, last = chosen.get(0, {}), chosen.get(whole - 1, {})
        n1, n2 = sum(first.values()), sum(last.values())
        if n1 and n2 and whole > 1:
            firsts_lasts.append(
                f"{name}: p50 {percentile(first, n1, 0.5)} -> {percentile(last, n2, 0.5)} ms, "
                f"p99 {percentile(first, n1, 0.99)} -> {percentile(last, n2, 0.99)} ms"
            )
    if firsts_lasts:
        lines += ["", "First interval to last: " + "; ".join(firsts_lasts) + "."]
    stalls = stall_lines(written)
    if stalls:
        lines += ["", *stalls]
    return lines
