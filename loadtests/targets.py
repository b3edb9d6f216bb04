"""``loadtests/targets.toml``: the run's settings ([run], overridden by the command line)
and the targets that Locust's figures are checked against ([targets])."""

from __future__ import annotations

import argparse
import fnmatch
import re
import tomllib
from pathlib import Path
from typing import Any

from devkit.processes import ROOT
from loadtests.figures import label, merged, percentile, window

TARGETS = ROOT / "loadtests" / "targets.toml"

Row = tuple[str, str, str, bool]  # (figure, target, measured, met)


def load_targets(path: Path, args: argparse.Namespace) -> dict[str, Any]:
    config = tomllib.loads(path.read_text(encoding="utf-8"))
    run = config["run"]
    for key in (
        "users",
        "spawn_rate",
        "duration",
        "members",
        "stores",
        "terminals_per_store",
        "server_workers",
        "database_pool_max",
        "reset_stats_after_spawn",
    ):
        value = getattr(args, key, None)
        if value is not None:
            run[key] = value
    return config


def seconds(timespan: str) -> int:
    """Locust's run-time syntax: 90, 90s, 5m, 1h30m."""
    if timespan.isdigit():
        return int(timespan)
    parts = re.fullmatch(r"(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+)s)?", timespan.strip())
    if not parts or not any(parts.groups()):
        raise ValueError(f"not a duration: {timespan!r} (e.g. 60s, 5m, 1h30m)")
    h, m, s = (int(g or 0) for g in parts.groups())
    return h * 3600 + m * 60 + s


def check(stats: list[dict[str, Any]], config: dict[str, Any]) -> list[Row]:
    """(figure, target, measured, met) for every target."""
    targets = config["targets"]
    rows = []
    run_s = window(stats)
    total = merged(stats, run_s)
    ratio = total["failures"] / total["requests"] if total["requests"] else 1.0
    limit = float(targets["max_failure_ratio"])
    rows.append(
        (
            "failures: every request, push and socket",
            f"<= {limit:.2%}",
            f"{total['failures']} of {total['requests']} ({ratio:.3%})",
            total["requests"] > 0 and ratio <= limit,
        )
    )
    for figure in targets.get("figure", []):
        chosen = [
            e for e in stats if any(fnmatch.fnmatchcase(label(e), p) for p in figure["match"])
        ]
        figures = merged(chosen, run_s)
        count = figures["timed"]
        if "p99_ms" in figure:
            p99 = percentile(figures["times"], count, 0.99)
            rows.append(
                (
                    f"{figure['name']}: p99",
                    f"<= {figure['p99_ms']} ms",
                    f"{p99} ms (p50 {percentile(figures['times'], count, 0.5)}, "
                    f"max {figures['max']:.0f}; n={count})"
                    if count
                    else "nothing measured",
                    count > 0 and p99 <= float(figure["p99_ms"]),
                )
            )
        if "min_rps" in figure:
            rows.append(
                (
                    f"{figure['name']}: rate",
                    f">= {figure['min_rps']}/s",
                    f"{figures['rps']:.1f}/s ({figures['requests']} in {run_s:.0f} s, ramp-up included)",
                    figures["rps"] >= float(figure["min_rps"]),
                )
            )
    return rows
