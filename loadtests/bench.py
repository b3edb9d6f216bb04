"""``make bench``: every part in turn (sockets, campaigns, purchases, push with their same-run
baselines), each in a process of its own, then one table of all their figures, kept in
``loadtests/reports/`` (JSON and Markdown); exits 1 when a target is missed. Only ever
targets 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from loadtests.bench_report import BenchReport, Figure, Scorecard
from loadtests.benchlib import finish

PARTS = {
    "ws": "loadtests.bench_ws",
    "campaigns": "loadtests.bench_campaigns",
    "purchases": "loadtests.bench_purchases",
    "push": "loadtests.bench_push",
}


def part(name: str, module: str, folder: Path) -> BenchReport:
    """``python -m module`` with its report written to a file (``BENCH_PART_OUT``)."""
    out = folder / f"{name}.json"
    env = {**os.environ, "BENCH_PART_OUT": str(out)}
    done = subprocess.run([sys.executable, "-m", module], env=env, check=False)  # noqa: S603
    if not out.exists():
        report = BenchReport()
        report.figure(
            Figure(name=f"{name}: the part exited {done.returncode}", value=0, at_least=1)
        )
        return report
    return BenchReport.from_json(out.read_text(encoding="utf-8"))


def main() -> int:
    card = Scorecard()
    with tempfile.TemporaryDirectory(prefix="bench-") as folder:
        for name, module in PARTS.items():
            card.parts[name] = part(name, module, Path(folder))
    return finish(card)


if __name__ == "__main__":
    raise SystemExit(main())
