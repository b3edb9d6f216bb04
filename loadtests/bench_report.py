"""``make bench``'s one table: every figure beside its baseline measured in the same run, the
ratio and the target on it. A bench part reports a figure with ``report.figure(...)`` (the
report its ``run`` is given, see ``benchlib.run_bench``); ``loadtests.bench`` runs every part,
prints the table of all of them and keeps it (``loadtests/reports/bench-<time>.json`` and
``.md``), exiting 1 when a target is missed."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Coroutine
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from devkit.processes import ROOT

REPORTS = ROOT / "loadtests" / "reports"


def write_report(name: str, title: str, lines: list[str]) -> Path:
    """``# title`` and ``lines`` as ``loadtests/reports/<name>-<time>.md``, printed too."""
    now = datetime.now(UTC)
    text = "\n".join([f"# {title} ({now:%Y-%m-%d %H:%M} UTC)", "", *lines]) + "\n"
    out = REPORTS / f"{name}-{now:%Y-%m-%d-%H%M%S}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(text)
    print(f"written to {out}")
    return out


def run_and_write(name: str, title: str, measure: Coroutine[Any, Any, list[str]]) -> int:
    """Run ``measure`` (the app's modules it imports read the app's database settings) and
    write its lines as ``write_report`` does: the exit status of a report's ``main``."""
    os.environ.setdefault("PICCOLO_CONF", "db.piccolo_conf")
    write_report(name, title, asyncio.run(measure))
    return 0


@dataclass(frozen=True, kw_only=True)
class Figure:
    """One row: ``value`` (in ``unit``) against ``baseline`` (same run, same unit), and the
    target on their ratio (``at_most``/``at_least``); with no baseline the target is on the
    value itself. No target: shown, never judged."""

    name: str
    value: float
    unit: str = ""
    baseline: float | None = None
    baseline_name: str = ""
    at_most: float | None = None
    at_least: float | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline is None:
            return None
        return self.value / self.baseline if self.baseline > 0 else float("nan")

    @property
    def judged(self) -> float:
        """What the target applies to: the ratio, or the value where there is no baseline (a
        baseline of 0, not measured, gives NaN, which meets no target)."""
        ratio = self.ratio
        return self.value if ratio is None else ratio

    @property
    def met(self) -> bool | None:
        if self.at_most is None and self.at_least is None:
            return None
        low_ok = self.at_least is None or self.judged >= self.at_least
        high_ok = self.at_most is None or self.judged <= self.at_most
        return low_ok and high_ok

    @property
    def target(self) -> str:
        suffix = "×" if self.baseline is not None else f" {self.unit}".rstrip()
        parts = []
        if self.at_least is not None:
            parts.append(f"≥ {self.at_least:g}{suffix}")
        if self.at_most is not None:
            parts.append(f"≤ {self.at_most:g}{suffix}")
        return " and ".join(parts)


class BenchReport(list[str]):
    """A bench part's Markdown lines (notes, its own tables) and its figures."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: list[Figure] = []

    def figure(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        return figure

    def to_json(self) -> str:
        return json.dumps({"lines": list(self), "figures": [asdict(f) for f in self.figures]})

    @classmethod
    def from_json(cls, text: str) -> BenchReport:
        data = json.loads(text)
        report = cls()
        report.extend(data["lines"])
        report.figures = [Figure(**f) for f in data["figures"]]
        return report


def _number(value: float, unit: str) -> str:
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return f"{text} {unit}".rstrip()


def table(figures: list[Figure]) -> list[str]:
    lines = [
        "| figure | value | baseline (same run) | ratio | target | met? |",
        "| --- | ---: | --- | ---: | --- | --- |",
    ]
    for f in figures:
        baseline = (
            f"{f.baseline_name}: {_number(f.baseline, f.unit)}" if f.baseline is not None else ""
        )
        ratio = f"{f.ratio:.2f}×" if f.ratio is not None else ""
        met = {True: "yes", False: "**NO**", None: ""}[f.met]
        note = f" ({f.note})" if f.note else ""
        lines.append(
            f"| {f.name}{note} | {_number(f.value, f.unit)} | {baseline} | {ratio} | "
            f"{f.target} | {met} |"
        )
    return lines


@dataclass
class Scorecard:
    """Every part's figures and notes, written as one JSON and one Markdown report."""

    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    parts: dict[str, BenchReport] = field(default_factory=dict)

    @property
    def figures(self) -> list[Figure]:
        return [f for part in self.parts.values() for f in part.figures]

    @property
    def missed(self) -> list[Figure]:
        return [f for f in self.figures if f.met is False]

    def write(self, *, context: list[str]) -> tuple[Path, Path, str]:
        """The JSON and Markdown files and the table's text."""
        stamp = f"{self.started:%Y-%m-%dT%H%M}"
        missed = self.missed
        verdict = (
            f"**Targets missed: {len(missed)} of {sum(f.met is not None for f in self.figures)}.**"
            if missed
            else "**Every target met.**"
        )
        summary = [
            f"# make bench, {self.started:%Y-%m-%d %H:%M} UTC",
            "",
            *context,
            "",
            *table(self.figures),
            "",
            verdict,
        ]
        details = [line for part in self.parts.values() for line in ["", *part]]
        REPORTS.mkdir(parents=True, exist_ok=True)
        markdown = REPORTS / f"bench-{stamp}.md"
        markdown.write_text("\n".join(summary + details) + "\n", encoding="utf-8")
        data = {
            "started": self.started.isoformat(),
            "context": context,
            "figures": [
                {**asdict(f), "ratio": f.ratio, "target": f.target, "met": f.met}
                for f in self.figures
            ],
        }
        as_json = REPORTS / f"bench-{stamp}.json"
        as_json.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return as_json, markdown, "\n".join(summary)
