"""What fills an app pod decides its size and its count (docs/capacity.md, docs/deploy.md):
memory from the measured bytes per idle WebSocket, an HPA on sockets per pod as well as CPU
(served by prometheus-adapter's rule), a drain that fits the grace period, and no pod of a new
release started before its migrations are in."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml

from tests.deploy.support import (
    find,
    kind_name,
    metric_names,
    of_kind,
    parse_promql,
    pod_spec,
    quantity,
)

Rendered = dict[str, list[dict[str, Any]]]

APP = ("Deployment", "astrocoffee-app")
SOCKET_METRIC = "astrocoffee_websocket_connections"
ADAPTER_VALUES = "deploy/monitoring/prometheus-adapter-values.yaml"

# The sizing inputs, as measured (docs/capacity.md#app-pods says where):
KIB_PER_SOCKET = 28  # 27.7 KiB (bench_ws, 2,000 sockets, docs/performance.md, 2026-12-07)
BASE_MIB = 52 + 13 + 2 * 105  # serve's supervisor + multiprocessing's tracker + 2 idle workers
HEADROOM = 1.25
LIMIT_OVER_TARGET = 1.5  # sockets stay where they connected: pods sit above the average
MIB = 2.0**20
# After preStop and the drain: uvicorn's 10 s for requests in flight, then the lifespan's close.
AFTER_DRAIN_S = 20

overlays_with_sockets_hpa = pytest.mark.parametrize("overlay", ["prod"])


def app_container(rendered: Rendered, overlay: str) -> dict[str, Any]:
    return dict(pod_spec(find(rendered[overlay], *APP))["containers"][0])


def socket_target(rendered: Rendered, overlay: str) -> float:
    """The HPA's target of sockets per pod (AverageValue of the Pods metric)."""
    (hpa,) = of_kind(rendered[overlay], "HorizontalPodAutoscaler")
    for metric in hpa["spec"].get("metrics", []):
        if metric.get("type") == "Pods" and metric["pods"]["metric"]["name"] == SOCKET_METRIC:
            target = metric["pods"]["target"]
            assert target.get("type") == "AverageValue", f"{kind_name(hpa)}: {target}"
            value = quantity(target.get("averageValue"))
            assert value is not None and value > 0, f"{kind_name(hpa)}: {target}"
            return value
    pytest.fail(f"{overlay} {kind_name(hpa)}: no Pods metric {SOCKET_METRIC}")


def config_value(rendered: Rendered, overlay: str, key: str) -> str:
    for config in of_kind(rendered[overlay], "ConfigMap"):
        if key in config.get("data", {}):
            return str(config["data"][key])
    pytest.fail(f"{overlay}: no ConfigMap sets {key}")


# ---------------------------------------------------------------------------------------
# The HPA scales on sockets per pod as well as CPU, gently downwards
# ---------------------------------------------------------------------------------------


@overlays_with_sockets_hpa
def test_the_hpa_scales_on_cpu_and_on_sockets_per_pod(rendered: Rendered, overlay: str) -> None:
    (hpa,) = of_kind(rendered[overlay], "HorizontalPodAutoscaler")
    kinds = {}
    for metric in hpa["spec"].get("metrics", []):
        if metric.get("type") == "Resource":
            kinds["Resource"] = metric["resource"]["name"]
        elif metric.get("type") == "Pods":
            kinds["Pods"] = metric["pods"]["metric"]["name"]
    assert kinds == {"Resource": "cpu", "Pods": SOCKET_METRIC}, f"{kind_name(hpa)}: {kinds}"
    assert socket_target(rendered, overlay) >= 1000


@overlays_with_sockets_hpa
def test_scaling_in_drains_one_pod_at_a_time_after_a_quiet_spell(
    rendered: Rendered, overlay: str
) -> None:
    """Each removed pod's sockets reconnect elsewhere: never two pods' at once, and never
    the next pod before the last one's drain (its grace period) is over."""
    (hpa,) = of_kind(rendered[overlay], "HorizontalPodAutoscaler")
    down = hpa["spec"].get("behavior", {}).get("scaleDown", {})
    grace = pod_spec(find(rendered[overlay], *APP)).get("terminationGracePeriodSeconds", 30)
    assert down.get("stabilizationWindowSeconds", 300) >= 300, f"{kind_name(hpa)}: {down}"
    policies = down.get("policies", [])
    assert policies, f"{kind_name(hpa)}: scaleDown needs policies (the default takes 100 %)"
    for policy in policies:
        assert policy.get("type") == "Pods" and policy.get("value") == 1, policy
        assert policy.get("periodSeconds", 0) >= grace, (
            f"{kind_name(hpa)}: a pod every {policy.get('periodSeconds')} s, but draining one "
            f"takes up to {grace} s"
        )


# ---------------------------------------------------------------------------------------
# prometheus-adapter serves the metric the HPA reads
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def adapter_rules(root: Path) -> list[dict[str, Any]]:
    values = yaml.safe_load((root / ADAPTER_VALUES).read_text())
    rules = values.get("rules", {}).get("custom", [])
    assert rules, f"{ADAPTER_VALUES}: rules.custom is empty"
    return list(rules)


def served_name(rule: dict[str, Any]) -> str:
    return str(rule.get("name", {}).get("as") or "")


def test_every_pods_metric_of_an_hpa_is_served_by_an_adapter_rule(
    rendered: Rendered, adapter_rules: list[dict[str, Any]]
) -> None:
    served = {served_name(rule) for rule in adapter_rules}
    for overlay, objects in rendered.items():
        for hpa in of_kind(objects, "HorizontalPodAutoscaler"):
            for metric in hpa["spec"].get("metrics", []):
                if metric.get("type") == "Pods":
                    name = metric["pods"]["metric"]["name"]
                    assert name in served, (
                        f"{overlay} {kind_name(hpa)}: {name} is served by no rule of "
                        f"{ADAPTER_VALUES} ({sorted(served)})"
                    )


def test_adapter_rules_read_series_the_app_exports_per_pod(
    adapter_rules: list[dict[str, Any]], exported_metrics: set[str]
) -> None:
    for rule in adapter_rules:
        where = f"{ADAPTER_VALUES} rule {served_name(rule)!r}"
        expr, problem = parse_promql(rule.get("seriesQuery", ""))
        assert problem is None, f"{where}: seriesQuery: {problem}"
        names = metric_names(expr)
        assert names and names <= exported_metrics, f"{where}: {names} not exported by the app"
        overrides = rule.get("resources", {}).get("overrides", {})
        assert overrides.get("namespace") == {"resource": "namespace"}, where
        assert overrides.get("pod") == {"resource": "pod"}, where
        # The query the adapter runs, with its template filled in as it would fill it.
        query = (
            rule.get("metricsQuery", "")
            .replace("<<.Series>>", next(iter(names)))
            .replace("<<.LabelMatchers>>", 'namespace="astrocoffee",pod=~"astrocoffee-app-.*"')
            .replace("<<.GroupBy>>", "pod")
        )
        assert "<<" not in query, f"{where}: metricsQuery uses an unknown template field"
        expr, problem = parse_promql(query)
        assert problem is None, f"{where}: metricsQuery: {problem}"
        assert metric_names(expr) == names, f"{where}: metricsQuery reads other series"


# ---------------------------------------------------------------------------------------
# Memory from the measured bytes per socket
# ---------------------------------------------------------------------------------------


@overlays_with_sockets_hpa
@pytest.mark.parametrize(("part", "sockets_over_target"), [("requests", 1.0), ("limits", 1.5)])
def test_app_memory_is_sized_from_bytes_per_socket(
    rendered: Rendered, overlay: str, part: str, sockets_over_target: float
) -> None:
    """(base + sockets x bytes per socket) x headroom, rounded up to 32 MiB at most: the
    request for the HPA's target, the limit for 1.5 times it."""
    sockets = socket_target(rendered, overlay) * sockets_over_target
    needed = (BASE_MIB + sockets * KIB_PER_SOCKET / 1024) * HEADROOM
    value = app_container(rendered, overlay)["resources"][part]["memory"]
    amount = quantity(value)
    assert amount is not None, value
    expected = math.ceil(needed / 32) * 32
    assert needed <= amount / MIB <= expected, (
        f"{overlay} Deployment/astrocoffee-app: memory {part} {value}; {sockets:,.0f} sockets "
        f"need ({BASE_MIB} MiB + {sockets:,.0f} x {KIB_PER_SOCKET} KiB) x {HEADROOM} = "
        f"{needed:.0f} MiB ({expected}Mi)"
    )


# ---------------------------------------------------------------------------------------
# The drain fits the grace period
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_the_grace_period_covers_pre_stop_the_drain_and_the_shutdown(
    rendered: Rendered, overlay: str
) -> None:
    app = find(rendered[overlay], *APP)
    command = app_container(rendered, overlay)["lifecycle"]["preStop"]["exec"]["command"]
    drain = int(config_value(rendered, overlay, "ASTROCOFFEE_WS_DRAIN_WINDOW_S"))
    grace = pod_spec(app).get("terminationGracePeriodSeconds", 30)
    assert drain >= 10, "ASTROCOFFEE_WS_DRAIN_WINDOW_S: spread a pod's reconnects over 10 s+"
    assert grace >= int(command[1]) + drain + AFTER_DRAIN_S, (
        f"{overlay} {kind_name(app)}: terminationGracePeriodSeconds {grace} < preStop "
        f"{command[1]} s + drain {drain} s + {AFTER_DRAIN_S} s"
    )


# ---------------------------------------------------------------------------------------
# Migrations gate the rollout
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_every_deployment_waits_for_its_migrations_before_starting(
    rendered: Rendered, overlay: str
) -> None:
    """A plain `kubectl apply -k` creates the migrate Job and rolls the Deployments together:
    each pod's init container holds it until the schema has this image's migrations."""
    for deployment in of_kind(rendered[overlay], "Deployment"):
        spec = pod_spec(deployment)
        main = spec["containers"][0]
        if "/astrocoffee-pgbouncer" in main.get("image", ""):
            continue  # not the app's image: PgBouncer is what the migrations go past
        waits = [
            c
            for c in spec.get("initContainers", [])
            if (c.get("args") or [])[:2] == ["migrate", "--wait"]
        ]
        assert len(waits) == 1, f"{kind_name(deployment)}: no init container `migrate --wait`"
        (wait,) = waits
        assert float(wait["args"][2]) > 0, f"{kind_name(deployment)}: {wait['args']}"
        assert wait.get("image") == main.get("image"), (
            f"{kind_name(deployment)}: the init container must run the release's own image "
            "(it knows the release's migrations)"
        )
        assert wait.get("envFrom") == main.get("envFrom"), (
            f"{kind_name(deployment)}: the init container reads the same database settings"
        )


def test_the_sockets_per_pod_alert_fires_between_the_target_and_the_memory_limit(
    rendered: Rendered, alert_rules: list[Any]
) -> None:
    """It must fire before a pod reaches the sockets its memory limit holds, and not at the
    HPA's target, which pods reach in normal operation."""
    target = socket_target(rendered, "prod")
    (rule,) = [r for r in alert_rules if r.name == "AstrocoffeeWebSocketsPerPodHigh"]
    expr = " ".join(rule.rule["expr"].split())
    assert expr.startswith(f"max by (namespace, pod) ({SOCKET_METRIC}) > "), expr
    threshold = float(expr.rsplit(">", 1)[1])
    assert target < threshold < target * LIMIT_OVER_TARGET, (
        f"{rule.where}: {threshold:,.0f} must lie between the target {target:,.0f} and the "
        f"{target * LIMIT_OVER_TARGET:,.0f} sockets the memory limit holds"
    )


def test_compose_gives_serving_containers_time_to_drain(services: dict[str, Any]) -> None:
    """docker compose stop waits stop_grace_period before SIGKILL: the drain window (the
    service's own or the setting's default) + uvicorn's 10 s + the lifespan's close."""
    from backend.settings import Settings

    default = next(
        f.default for f in msgspec.structs.fields(Settings) if f.name == "ws_drain_window_s"
    )
    serving = {n: s for n, s in services.items() if s.get("command") == ["serve"]}
    assert serving, "compose.yaml: no service runs `serve`"
    for name, service in serving.items():
        drain = int(service.get("environment", {}).get("ASTROCOFFEE_WS_DRAIN_WINDOW_S", default))
        grace = str(service.get("stop_grace_period", "10s"))
        assert grace.endswith("s") and grace[:-1].isdigit(), f"{name}: {grace}"
        assert int(grace[:-1]) >= drain + AFTER_DRAIN_S, (
            f"compose.yaml {name}: stop_grace_period {grace} < drain {drain} s + {AFTER_DRAIN_S} s"
        )
