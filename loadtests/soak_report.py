"""The soak test's report, ``loadtests/reports/soak-<date>.md``: the checks, the series of
samples of the server process, and Locust's summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from loadtests.figures import merged, window
from loadtests.report import failure_lines, request_table
from loadtests.soak_checks import Check
from loadtests.soak_samples import Sample, clock


def series_table(samples: list[Sample]) -> list[str]:
    lines = [
        "| sample | t (m:ss) | RSS MiB | open fds | asyncio tasks | DB pool in use / idle "
        "| Redis pool in use / idle | Redis INFO clients (whole server) | WebSockets open "
        "| HTTP req/s (server) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in samples:
        rate = f"{s.rate:.1f}" if s.rate is not None else ""
        clients = str(s.redis_clients) if s.redis_clients is not None else "?"
        lines.append(
            f"| {s.label} | {clock(s.at_s)} | {s.rss_mib:.1f} | {s.fds} | {s.tasks} | "
            f"{s.db_in_use} / {s.db_idle} | {s.redis_in_use} / {s.redis_idle} | {clients} | "
            f"{s.websockets} | {rate} |"
        )
    return lines


def write_report(
    path: Path,
    *,
    header: str,
    notes: list[str],
    checks: list[Check],
    samples: list[Sample],
    stats: list[dict[str, Any]],
    prefix_path: Path,
) -> bool:
    flat = all(ok for *_, ok in checks)
    failed = sum(not ok for *_, ok in checks)
    totals = merged(stats, window(stats))
    lines = [
        f"# Soak test ({header})",
        "",
        *(f"{note}\n" for note in notes),
        "| check | limit | measured | met? |",
        "| --- | --- | --- | --- |",
        *(f"| {w} | {lim} | {m} | {'yes' if ok else 'NO'} |" for w, lim, m, ok in checks),
        "",
        f"**{'Flat, no failures, ledger verified.' if flat else f'Checks failed: {failed} of {len(checks)}.'}**",
        "",
        "## The server process, sampled",
        "",
        "`idle`: before Locust; `warm`: after the warm-up; `load`: every interval; `after`: once "
        "Locust stopped and the sockets closed. DB and Redis pools: this process's connections "
        "(`astrocoffee_db_pool_connections`, `astrocoffee_redis_pool_connections`); Redis INFO "
        "clients: every client of the Redis server (this sampler's own connection and anything "
        "else using that server included).",
        "",
        *series_table(samples),
        "",
        "## Locust",
        "",
        f"{totals['requests']} requests, pushes and sockets, {totals['failures']} failures, "
        f"{totals['rps']:.1f}/s over {window(stats):.0f} s.",
        "",
        *request_table(stats),
    ]
    failures = failure_lines(prefix_path)
    if failures:
        lines += ["", "## Most frequent failures (Locust's CSV)", "", *failures]
    text = "\n".join(lines) + "\n"
    path.write_text(text, encoding="utf-8")
    print()
    print(text)
    return flat
