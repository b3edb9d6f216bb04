"""The Kubernetes overlays, as kustomize renders them: schemas, then this deployment's rules
(non-root, read-only root filesystem, probes, resource quantities, selectors that select,
references that resolve, replica bounds per overlay). docs/deploy.md explains each."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import latest_version

from tests.deploy.operator_schemas import CRD_SCHEMAS
from tests.deploy.support import (
    containers,
    find,
    kind_name,
    matches,
    of_kind,
    pod_labels,
    pod_spec,
    quantity,
)

Rendered = dict[str, list[dict[str, Any]]]

# Oldest Kubernetes minor we support; the newest kubernetes-validate bundles is checked too.
OLDEST_KUBERNETES = "1.30"
KUBERNETES_VERSIONS = [OLDEST_KUBERNETES, latest_version()]

IMAGE_REGISTRY = "registry.example.com/astrocoffee"
APP_UID = 10001
SECRET_NAME = "astrocoffee-secrets"
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
    "DATABASE_MIGRATION_URL",
    "DATABASE_REPLICA_URL",
    "PGBOUNCER_SERVER_HOST",
    "PGBOUNCER_USER",
    "PGBOUNCER_PASSWORD",
    "REDIS_URL",
}
# The image's command per workload.
WORKLOADS = {
    ("Deployment", "astrocoffee-app"): "serve",
    ("Deployment", "astrocoffee-worker"): "worker",
    ("Deployment", "astrocoffee-partner-webhooks"): "partner-webhooks",
    ("Deployment", "astrocoffee-scheduler"): "scheduler",
    ("Job", "astrocoffee-migrate"): "migrate",
}
APP = ("Deployment", "astrocoffee-app")
PROBES = {
    "readinessProbe": "/health/ready",
    "livenessProbe": "/health/live",
    "startupProbe": "/health/live",
}

overlays = pytest.mark.parametrize("overlay", sorted(OVERLAYS))
workloads = pytest.mark.parametrize(
    ("overlay", "workload"),
    [(o, w) for o in sorted(OVERLAYS) for w in WORKLOADS],
    ids=[f"{o}-{w[1]}" for o in sorted(OVERLAYS) for w in WORKLOADS],
)


@pytest.fixture
def manifest(rendered: Rendered, overlay: str, workload: tuple[str, str]) -> dict[str, Any]:
    """The workload as the overlay renders it."""
    return find(rendered[overlay], *workload)


def config_map(objects: list[dict[str, Any]]) -> dict[str, Any]:
    """The generated ConfigMap (its name carries a hash of the content)."""
    for obj in of_kind(objects, "ConfigMap"):
        if obj["metadata"]["name"].startswith(CONFIG_NAME + "-"):
            return obj
    pytest.fail(f"ConfigMap {CONFIG_NAME}-<hash> (configMapGenerator) is not rendered")


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value") for e in container.get("env", [])}


# ---------------------------------------------------------------------------------------
# Rendering and schemas
# ---------------------------------------------------------------------------------------


def test_the_overlays_are_dev_and_prod(rendered: Rendered) -> None:
    assert sorted(rendered) == sorted(OVERLAYS), "deploy/k8s/overlays/ has other overlays"


@overlays
def test_the_overlay_renders_objects(rendered: Rendered, overlay: str) -> None:
    assert rendered[overlay], f"kustomize renders nothing for overlays/{overlay}"


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@overlays
def test_built_in_objects_follow_the_kubernetes_schema_strictly(
    rendered: Rendered, overlay: str, version: str
) -> None:
    problems = []
    for obj in rendered[overlay]:
        if (obj.get("apiVersion"), obj.get("kind")) in CRD_SCHEMAS:
            continue
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = "/".join(str(p) for p in exc.path) or "(top)"
            problems.append(f"{kind_name(obj)}: {path}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError as exc:
            problems.append(f"{kind_name(obj)}: {exc.message}")
    assert not problems, f"overlays/{overlay} on Kubernetes {version}:\n" + "\n".join(problems)


@overlays
def test_operator_objects_follow_their_crd_schema(rendered: Rendered, overlay: str) -> None:
    problems = []
    for obj in rendered[overlay]:
        schema = CRD_SCHEMAS.get((obj.get("apiVersion"), obj.get("kind")))
        if schema is None:
            continue
        validator = jsonschema.Draft202012Validator(schema)
        for error in sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path)):
            path = "/".join(str(p) for p in error.absolute_path) or "(top)"
            problems.append(f"{kind_name(obj)}: {path}: {error.message}")
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------------------
# Namespace, configuration, secrets
# ---------------------------------------------------------------------------------------


@overlays
def test_every_object_is_in_the_overlays_namespace(rendered: Rendered, overlay: str) -> None:
    namespace = OVERLAYS[overlay].namespace
    elsewhere = [
        f"{kind_name(o)} in {o.get('metadata', {}).get('namespace')!r}"
        for o in rendered[overlay]
        if o.get("metadata", {}).get("namespace") != namespace
    ]
    assert not elsewhere, f"not in namespace {namespace}: {', '.join(elsewhere)}"


@overlays
def test_no_secret_is_rendered(rendered: Rendered, overlay: str) -> None:
    secrets = [kind_name(o) for o in of_kind(rendered[overlay], "Secret")]
    assert not secrets, f"{secrets}: secrets are created outside the repository"


@overlays
def test_the_config_map_is_labelled_component_config(rendered: Rendered, overlay: str) -> None:
    config = config_map(rendered[overlay])
    component = config["metadata"].get("labels", {}).get("app.kubernetes.io/component")
    assert component == "config", (
        f"{kind_name(config)}: label app.kubernetes.io/component must be config "
        "(docs/deploy.md applies it with the migrate Job)"
    )


@overlays
def test_the_config_map_sets_the_production_environment(rendered: Rendered, overlay: str) -> None:
    config = config_map(rendered[overlay])
    environment = config.get("data", {}).get("ASTROCOFFEE_ENVIRONMENT")
    assert environment == "production", f"{kind_name(config)}: ASTROCOFFEE_ENVIRONMENT"


@overlays
def test_the_config_map_holds_no_secret_key(rendered: Rendered, overlay: str) -> None:
    config = config_map(rendered[overlay])
    misplaced = sorted(SECRET_KEYS & set(config.get("data", {})))
    assert not misplaced, f"{kind_name(config)}: {misplaced} belong in the Secret"


# ---------------------------------------------------------------------------------------
# Workloads: command, user, image, security context, resources, settings, writable folders
# ---------------------------------------------------------------------------------------


@workloads
def test_the_workload_runs_the_image_with_its_command(
    manifest: dict[str, Any], workload: tuple[str, str]
) -> None:
    args = [c.get("args") for _, c in containers(manifest)][:1]
    assert args == [[WORKLOADS[workload]]], (
        f"{kind_name(manifest)}: args must be {[WORKLOADS[workload]]}"
    )


@workloads
def test_pods_run_as_the_images_non_root_user(manifest: dict[str, Any]) -> None:
    security = pod_spec(manifest).get("securityContext", {})
    assert security.get("runAsNonRoot") is True, f"{kind_name(manifest)}: runAsNonRoot must be true"
    assert security.get("runAsUser") == APP_UID, (
        f"{kind_name(manifest)}: runAsUser must be {APP_UID} (the image's user)"
    )


@workloads
def test_pods_mount_no_service_account_token(manifest: dict[str, Any]) -> None:
    assert pod_spec(manifest).get("automountServiceAccountToken") is False, (
        f"{kind_name(manifest)}: automountServiceAccountToken must be false (no API access needed)"
    )


@workloads
def test_containers_run_a_released_image_set_by_the_overlay(manifest: dict[str, Any]) -> None:
    for where, container in containers(manifest):
        image = container.get("image", "")
        assert image.startswith((IMAGE_REGISTRY + ":", IMAGE_REGISTRY + "@sha256:")), (
            f"{where}: image {image!r} was not set by the overlay's images:"
        )
        assert not image.endswith(":latest"), f"{where}: image tag 'latest' is not a release"


@pytest.mark.parametrize(
    ("setting", "required"),
    [("readOnlyRootFilesystem", True), ("allowPrivilegeEscalation", False)],
    ids=["read-only root filesystem", "no privilege escalation"],
)
@workloads
def test_containers_security_context_locks_them_down(
    manifest: dict[str, Any], setting: str, required: bool
) -> None:
    for where, container in containers(manifest):
        security = container.get("securityContext", {})
        assert security.get(setting) is required, (
            f"{where}: securityContext.{setting} must be {str(required).lower()}"
        )


@workloads
def test_containers_drop_all_capabilities(manifest: dict[str, Any]) -> None:
    for where, container in containers(manifest):
        dropped = container.get("securityContext", {}).get("capabilities", {}).get("drop", [])
        assert "ALL" in dropped, f"{where}: capabilities must drop ALL"


@pytest.mark.parametrize("resource", ["cpu", "memory"])
@workloads
def test_containers_request_and_limit_quantities_with_requests_within_limits(
    manifest: dict[str, Any], resource: str
) -> None:
    for where, container in containers(manifest):
        amounts = {}
        for part in ("requests", "limits"):
            value = container.get("resources", {}).get(part, {}).get(resource)
            assert value is not None, f"{where}: resources.{part}.{resource} is missing"
            amounts[part] = quantity(value)
            assert amounts[part] is not None, (
                f"{where}: resources.{part}.{resource} {value!r} is not a quantity"
            )
        assert amounts["requests"] <= amounts["limits"], (
            f"{where}: {resource} request is above its limit"
        )


@workloads
def test_containers_take_their_settings_from_the_config_map_and_the_secret(
    rendered: Rendered, overlay: str, manifest: dict[str, Any]
) -> None:
    rendered_maps = {o["metadata"]["name"] for o in of_kind(rendered[overlay], "ConfigMap")}
    for where, container in containers(manifest):
        env_from = container.get("envFrom", [])
        config_refs = [e["configMapRef"]["name"] for e in env_from if "configMapRef" in e]
        secret_refs = [e["secretRef"]["name"] for e in env_from if "secretRef" in e]
        assert config_refs, f"{where}: envFrom must name the ConfigMap"
        assert secret_refs == [SECRET_NAME], f"{where}: envFrom must name the Secret {SECRET_NAME}"
        missing = [name for name in config_refs if name not in rendered_maps]
        assert not missing, f"{where}: envFrom ConfigMap {missing} is not rendered"


@workloads
def test_folders_written_to_are_empty_dir_mounts(manifest: dict[str, Any]) -> None:
    """The root filesystem is read-only: /tmp (the WORKDIR) and the multiprocess metrics
    folder must be emptyDir volumes."""
    empty_dirs = {v["name"] for v in pod_spec(manifest).get("volumes", []) if "emptyDir" in v}
    for where, container in containers(manifest):
        mounted = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
        for path in filter(None, ["/tmp", env_of(container).get("PROMETHEUS_MULTIPROC_DIR")]):
            assert mounted.get(path) in empty_dirs, f"{where}: {path} must be an emptyDir mount"


@overlays
def test_the_migrate_job_is_labelled_component_migrate(rendered: Rendered, overlay: str) -> None:
    job = find(rendered[overlay], "Job", "astrocoffee-migrate")
    component = job["metadata"].get("labels", {}).get("app.kubernetes.io/component")
    assert component == "migrate", (
        f"{kind_name(job)}: label app.kubernetes.io/component must be migrate (docs/deploy.md)"
    )


# ---------------------------------------------------------------------------------------
# The serving Deployment: port, metrics folder, probes, shutdown, replicas
# ---------------------------------------------------------------------------------------


def app_container(rendered: Rendered, overlay: str) -> dict[str, Any]:
    return dict(pod_spec(find(rendered[overlay], *APP)).get("containers", [{}])[0])


@overlays
def test_the_app_serves_on_container_port_8000_named_http(rendered: Rendered, overlay: str) -> None:
    container = app_container(rendered, overlay)
    ports = {p.get("name"): p.get("containerPort") for p in container.get("ports", [])}
    assert ports.get("http") == 8000, "Deployment/astrocoffee-app: containerPort 8000 named http"


@overlays
def test_the_app_sets_a_multiprocess_metrics_folder(rendered: Rendered, overlay: str) -> None:
    assert env_of(app_container(rendered, overlay)).get("PROMETHEUS_MULTIPROC_DIR"), (
        "Deployment/astrocoffee-app: PROMETHEUS_MULTIPROC_DIR must be set (several workers)"
    )


@pytest.mark.parametrize(("probe", "path"), PROBES.items())
@overlays
def test_the_app_probes_its_health_endpoints(
    rendered: Rendered, overlay: str, probe: str, path: str
) -> None:
    get = app_container(rendered, overlay).get(probe, {}).get("httpGet", {})
    assert (get.get("path"), get.get("port")) == (path, "http"), (
        f"Deployment/astrocoffee-app: {probe} must GET {path} on port http"
    )


@overlays
def test_the_app_sleeps_in_pre_stop_within_its_grace_period(
    rendered: Rendered, overlay: str
) -> None:
    """Endpoints go before SIGTERM; preStop sleep + uvicorn's 10 s drain + closing the
    lifespan must fit terminationGracePeriodSeconds."""
    container = app_container(rendered, overlay)
    command = container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command")
    assert command and len(command) == 2 and command[0] == "sleep" and command[1].isdigit(), (
        f"Deployment/astrocoffee-app: preStop must be ['sleep', '<seconds>'], is {command}"
    )
    grace = pod_spec(find(rendered[overlay], *APP)).get("terminationGracePeriodSeconds", 30)
    assert grace >= int(command[1]) + 20, (
        "Deployment/astrocoffee-app: terminationGracePeriodSeconds must be at least "
        "preStop sleep + 20 s"
    )


@overlays
def test_the_app_has_no_replicas_when_an_hpa_scales_it(rendered: Rendered, overlay: str) -> None:
    if of_kind(rendered[overlay], "HorizontalPodAutoscaler"):
        assert "replicas" not in find(rendered[overlay], *APP)["spec"], (
            f"{overlay}: Deployment/astrocoffee-app has replicas although an HPA scales it "
            "(each apply would reset it)"
        )


# ---------------------------------------------------------------------------------------
# Replicas and images per overlay
# ---------------------------------------------------------------------------------------

fixed = [o for o, e in OVERLAYS.items() if e.app_replicas is not None]
scaled = [o for o, e in OVERLAYS.items() if e.hpa is not None]
tagged = [o for o, e in OVERLAYS.items() if e.tag is not None]


@pytest.mark.parametrize("overlay", fixed)
def test_a_fixed_size_overlay_has_its_replica_count_and_no_hpa(
    rendered: Rendered, overlay: str
) -> None:
    hpas = [kind_name(h) for h in of_kind(rendered[overlay], "HorizontalPodAutoscaler")]
    assert not hpas, f"{overlay}: {hpas} rendered; a fixed replica count is expected"
    replicas = find(rendered[overlay], *APP)["spec"].get("replicas")
    assert replicas == OVERLAYS[overlay].app_replicas, (
        f"{overlay}: Deployment/astrocoffee-app must have {OVERLAYS[overlay].app_replicas} "
        f"replica(s), has {replicas}"
    )


@pytest.mark.parametrize("overlay", scaled)
def test_a_scaled_overlay_has_one_hpa_within_its_bounds(rendered: Rendered, overlay: str) -> None:
    least, most = OVERLAYS[overlay].hpa
    hpas = of_kind(rendered[overlay], "HorizontalPodAutoscaler")
    assert len(hpas) == 1, f"{overlay}: exactly one HPA expected, {len(hpas)} rendered"
    spec = hpas[0].get("spec", {})
    assert spec.get("minReplicas", 1) >= least and spec.get("maxReplicas") == most, (
        f"{overlay} {kind_name(hpas[0])}: replicas must be {least}+ .. {most}"
    )


@overlays
def test_hpas_scale_a_rendered_workload(rendered: Rendered, overlay: str) -> None:
    names = {(o.get("kind"), o["metadata"]["name"]) for o in rendered[overlay]}
    for hpa in of_kind(rendered[overlay], "HorizontalPodAutoscaler"):
        target = hpa.get("spec", {}).get("scaleTargetRef", {})
        assert (target.get("kind"), target.get("name")) in names, (
            f"{kind_name(hpa)}: scaleTargetRef {target} is not rendered"
        )


@pytest.mark.parametrize("overlay", tagged)
def test_the_overlay_runs_its_image_tag(rendered: Rendered, overlay: str) -> None:
    image = app_container(rendered, overlay).get("image", "")
    assert image.endswith(":" + str(OVERLAYS[overlay].tag)), (
        f"{overlay}: Deployment/astrocoffee-app image tag must be {OVERLAYS[overlay].tag} "
        f"(is {image})"
    )


@overlays
@pytest.mark.parametrize(
    ("name", "setting"),
    [
        ("astrocoffee-worker", "ASTROCOFFEE_WORKER_METRICS_PORT"),
        ("astrocoffee-partner-webhooks", "ASTROCOFFEE_PARTNER_WORKER_METRICS_PORT"),
        ("astrocoffee-push-worker", "ASTROCOFFEE_PUSH_WORKER_METRICS_PORT"),
        ("astrocoffee-scheduler", "ASTROCOFFEE_SCHEDULER_METRICS_PORT"),
    ],
)
def test_the_process_exposes_the_configured_metrics_port(
    rendered: Rendered, overlay: str, name: str, setting: str
) -> None:
    worker = find(rendered[overlay], "Deployment", name)
    container = pod_spec(worker)["containers"][0]
    ports = {p.get("name"): p.get("containerPort") for p in container.get("ports", [])}
    configured = config_map(rendered[overlay]).get("data", {}).get(setting)
    assert str(ports.get("metrics")) == configured, (
        f"{kind_name(worker)}: port `metrics` ({ports.get('metrics')}) must be "
        f"{setting} ({configured})"
    )


@overlays
def test_app_pods_leave_the_periodic_jobs_to_the_scheduler(
    rendered: Rendered, overlay: str
) -> None:
    app = find(rendered[overlay], *APP)
    env = {e["name"]: e.get("value") for e in pod_spec(app)["containers"][0].get("env", [])}
    assert env.get("ASTROCOFFEE_MAINTENANCE_INTERVAL_S") == "0", (
        f"{kind_name(app)}: ASTROCOFFEE_MAINTENANCE_INTERVAL_S must be 0 (the scheduler runs "
        "the jobs)"
    )
    interval = (
        config_map(rendered[overlay]).get("data", {}).get("ASTROCOFFEE_MAINTENANCE_INTERVAL_S")
    )
    assert interval is not None and int(interval) > 0, (
        "ConfigMap: ASTROCOFFEE_MAINTENANCE_INTERVAL_S must be above 0 for the scheduler"
    )


# ---------------------------------------------------------------------------------------
# Selectors select, references resolve
# ---------------------------------------------------------------------------------------


def all_pod_labels(objects: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [pod_labels(o) for o in objects if o.get("kind") in ("Deployment", "Job")]


def service_ports(objects: list[dict[str, Any]]) -> set[tuple[str, str | None]]:
    return {
        (s["metadata"]["name"], p.get("name"))
        for s in of_kind(objects, "Service")
        for p in s["spec"].get("ports", [])
    }


def app_pod_labels(rendered: Rendered, overlay: str) -> dict[str, str]:
    return pod_labels(find(rendered[overlay], *APP))


@overlays
def test_every_service_selects_a_pod(rendered: Rendered, overlay: str) -> None:
    pods = all_pod_labels(rendered[overlay])
    for service in of_kind(rendered[overlay], "Service"):
        selector = {"matchLabels": service["spec"].get("selector", {})}
        assert any(matches(selector, labels) for labels in pods), (
            f"{kind_name(service)}: selector selects no pod"
        )


@overlays
def test_the_app_service_selects_the_app_pods(rendered: Rendered, overlay: str) -> None:
    service = find(rendered[overlay], "Service", "astrocoffee")
    selector = {"matchLabels": service["spec"].get("selector", {})}
    assert matches(selector, app_pod_labels(rendered, overlay)), (
        "Service/astrocoffee must select the app pods"
    )


@overlays
def test_disruption_budgets_select_the_app_pods(rendered: Rendered, overlay: str) -> None:
    app = app_pod_labels(rendered, overlay)
    for pdb in of_kind(rendered[overlay], "PodDisruptionBudget"):
        if pdb["metadata"].get("labels", {}).get("app.kubernetes.io/component") != "app":
            continue  # PgBouncer's has its own (tests/deploy/test_pgbouncer.py)
        assert matches(pdb["spec"].get("selector"), app), (
            f"{kind_name(pdb)}: selector does not select the app pods"
        )


@overlays
def test_every_network_policy_selects_a_pod(rendered: Rendered, overlay: str) -> None:
    pods = all_pod_labels(rendered[overlay])
    for policy in of_kind(rendered[overlay], "NetworkPolicy"):
        assert any(matches(policy["spec"].get("podSelector"), labels) for labels in pods), (
            f"{kind_name(policy)}: podSelector selects no pod"
        )


@overlays
def test_ingresses_use_the_nginx_class(rendered: Rendered, overlay: str) -> None:
    for ingress in of_kind(rendered[overlay], "Ingress"):
        assert ingress["spec"].get("ingressClassName") == "nginx", (
            f"{kind_name(ingress)}: ingressClassName must be nginx"
        )


@overlays
def test_ingress_backends_are_service_ports(rendered: Rendered, overlay: str) -> None:
    ports = service_ports(rendered[overlay])
    for ingress in of_kind(rendered[overlay], "Ingress"):
        for rule in ingress["spec"].get("rules", []):
            for path in rule.get("http", {}).get("paths", []):
                backend = path["backend"].get("service", {})
                port = backend.get("port", {}).get("name")
                assert (backend.get("name"), port) in ports, (
                    f"{kind_name(ingress)}: backend {backend} is not a Service port"
                )


@pytest.mark.parametrize("timeout", ["proxy-read-timeout", "proxy-send-timeout"])
@overlays
def test_the_ingress_keeps_websockets_open_an_hour(
    rendered: Rendered, overlay: str, timeout: str
) -> None:
    ingress = find(rendered[overlay], "Ingress", "astrocoffee")
    value = ingress["metadata"].get("annotations", {}).get(f"nginx.ingress.kubernetes.io/{timeout}")
    assert value and value.isdigit() and int(value) >= 3600, (
        f"Ingress/astrocoffee: {timeout} must be >= 3600 (WebSockets), is {value}"
    )


# ---------------------------------------------------------------------------------------
# Monitoring objects (their alert rules: test_monitoring.py)
# ---------------------------------------------------------------------------------------


@overlays
def test_monitoring_objects_are_rendered_where_the_overlay_wants_them(
    rendered: Rendered, overlay: str
) -> None:
    monitors = of_kind(rendered[overlay], "ServiceMonitor")
    rules = of_kind(rendered[overlay], "PrometheusRule")
    state = "expected" if OVERLAYS[overlay].monitoring else "not expected"
    assert OVERLAYS[overlay].monitoring == bool(monitors and rules), (
        f"{overlay}: ServiceMonitor and PrometheusRule {state}"
    )


@overlays
def test_service_monitors_scrape_metrics_on_a_port_of_a_selected_service(
    rendered: Rendered, overlay: str
) -> None:
    ports = service_ports(rendered[overlay])
    services = of_kind(rendered[overlay], "Service")
    for monitor in of_kind(rendered[overlay], "ServiceMonitor"):
        where = kind_name(monitor)
        selected = [
            s["metadata"]["name"]
            for s in services
            if matches(monitor["spec"].get("selector"), s["metadata"].get("labels", {}))
        ]
        assert selected, f"{where}: selector selects no Service"
        for endpoint in monitor["spec"].get("endpoints", []):
            port = endpoint.get("port")
            assert any((s, port) in ports for s in selected), (
                f"{where}: port {port} is not on {selected}"
            )
            assert endpoint.get("path") == "/metrics", f"{where}: path must be /metrics"


# ---------------------------------------------------------------------------------------
# The Secret's template (never applied)
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def secret_template(root: Path) -> dict[str, Any]:
    return dict(yaml.safe_load((root / "deploy/k8s/base/secret.template.yaml").read_text()))


def test_the_secret_template_follows_the_kubernetes_schema(secret_template: dict[str, Any]) -> None:
    try:
        kubernetes_validate.validate(secret_template, OLDEST_KUBERNETES, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = "/".join(str(p) for p in exc.path) or "(top)"
        pytest.fail(f"secret.template.yaml: {path}: {exc.message}")


def test_the_secret_template_names_the_secret_the_pods_read(
    secret_template: dict[str, Any],
) -> None:
    name = secret_template.get("metadata", {}).get("name")
    assert name == SECRET_NAME, f"secret.template.yaml: the Secret must be named {SECRET_NAME}"


def test_the_secret_template_lists_every_secret_key(secret_template: dict[str, Any]) -> None:
    missing = sorted(SECRET_KEYS - set(secret_template.get("stringData", {})))
    assert not missing, f"secret.template.yaml: keys {missing} are missing"


def test_the_secret_template_has_no_values(secret_template: dict[str, Any]) -> None:
    filled = [k for k, v in secret_template.get("stringData", {}).items() if v]
    assert not filled, f"secret.template.yaml: {filled} have a value; the template has none"


def test_the_secret_template_is_not_a_kustomize_resource(root: Path) -> None:
    kustomization = (root / "deploy/k8s/base/kustomization.yaml").read_text()
    assert not re.search(r"^\s*-\s*secret\.template\.yaml", kustomization, re.M), (
        "deploy/k8s/base/kustomization.yaml: secret.template.yaml must not be a resource"
    )
