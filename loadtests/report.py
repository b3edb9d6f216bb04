"""The load test's report: the targets' table, every request's figures and the most frequent
failures, written to ``loadtests/reports/<prefix>.md`` and printed."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from devkit.processes import ROOT
from loadtests.figures import merged, percentile, window
from loadtests.locust_cli import DISTRIBUTED
from loadtests.targets import Row

REPORTS = ROOT / "loadtests" / "reports"
# What a run leaves beside its prefix: the report, Locust's, the logs.
WRITTEN = (".md", ".html", ".json", "_stats.csv", "-locust.log", "-server.log")
# (and one "-intervals-<pid>.json" per Locust process: loadtests.intervals)


def table(rows: list[Row]) -> list[str]:
    lines = ["| figure | target | measured | met? |", "| --- | --- | --- | --- |"]
    lines += [f"| {f} | {t} | {m} | {'yes' if ok else 'NO'} |" for f, t, m, ok in rows]
    return lines


def request_table(stats: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| type | name | requests | failures | p50 ms | p95 ms | p99 ms | max ms | per s |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    run_s = window(stats)
    for entry in sorted(stats, key=lambda e: (e["method"], e["name"])):
        f = merged([entry], run_s)
        n = f["timed"]
        lines.append(
            f"| {entry['method']} | {entry['name']} | {f['requests']} | {f['failures']} | "
            f"{percentile(f['times'], n, 0.5)} | {percentile(f['times'], n, 0.95)} | "
            f"{percentile(f['times'], n, 0.99)} | {f['max']:.0f} | {f['rps']:.1f} |"
        )
    return lines


def failure_lines(prefix: Path) -> list[str]:
    """The most frequent failures, from Locust's failures CSV (written at the end)."""
    path = prefix.with_name(prefix.name + "_failures.csv")
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as file:
        rows = sorted(csv.DictReader(file), key=lambda r: -int(r.get("Occurrences") or 0))
    return [
        f"- {r['Occurrences']} x {r['Method']} {r['Name']}: {r['Error'][:300]}" for r in rows[:15]
    ]


def print_written(prefix_path: Path) -> None:
    """Name each file of the run that exists."""
    for suffix in WRITTEN:
        path = prefix_path.with_name(prefix_path.name + suffix)
        if path.exists():
            print(f"written: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def report(
    stats: list[dict[str, Any]],
    rows: list[Row],
    prefix_path: Path,
    *,
    header: str,
    notes: list[str] | None = None,
    minutes: list[str] | None = None,
    out: Path | None = None,
) -> int:
    """Write and print the report; the exit status (0: every target met, 1: not)."""
    met = all(ok for *_, ok in rows)
    failures = failure_lines(prefix_path)
    lines = [
        f"# Load test against loadtests/targets.toml ({header})",
        "",
        *(f"{note}\n" for note in notes or ()),
        *table(rows),
        "",
        f"**{'Every target met.' if met else 'Targets missed: ' + str(sum(not r[3] for r in rows)) + ' of ' + str(len(rows)) + '.'}**",
        "",
        "## Requests, pushes and sockets",
        "",
        *request_table(stats),
    ]
    if minutes:
        lines += ["", "## Minute by minute", "", *minutes]
    if failures:
        lines += [
            "",
            "## Most frequent failures (Locust's CSV, may miss the last second)",
            "",
            *failures,
        ]
    text = "\n".join(lines) + "\n"
    prefix_path.parent.mkdir(parents=True, exist_ok=True)
    out = out or prefix_path.with_name(prefix_path.name + ".md")
    out.write_text(text, encoding="utf-8")
    print()
    print(text)
    print_written(prefix_path)
    print()
    print(DISTRIBUTED)
    return 0 if met else 1
