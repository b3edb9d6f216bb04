"""deploy/compose.yaml: the Compose Specification's schema (vendored by check-jsonschema), then
what a schema cannot say: secrets required from the environment, dependencies that exist and
can be met, a healthcheck on every long-running service, the image's processes set up alike."""

from __future__ import annotations

import importlib.resources
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

Services = dict[str, dict[str, Any]]

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
APP_ENV = {
    "ASTROCOFFEE_ENVIRONMENT": "production",
    "ASTROCOFFEE_HOST": "0.0.0.0",
    "ASTROCOFFEE_FORWARDED_ALLOW_IPS": "*",
    "ASTROCOFFEE_WORKERS": "2",
    "REDIS_URL": "redis://redis:6379/0",
    "DATABASE_PGBOUNCER": "true",
}
# The primary through PgBouncer; migrations straight to it; lag-tolerant reads on the replica.
DATABASES = {
    "DATABASE_URL": "pgbouncer",
    "DATABASE_MIGRATION_URL": "postgres",
    "DATABASE_REPLICA_URL": "postgres-replica",
}
# The serving processes also share their figures through a tmpfs folder.
MULTIPROC_DIR = "/tmp/metrics"
# The image's command per service.
COMMANDS = {
    "app1": "serve",
    "app2": "serve",
    "worker": "worker",
    "scheduler": "scheduler",
    "migrate": "migrate",
}
SERVING = [name for name, command in COMMANDS.items() if command == "serve"]
AFTER_MIGRATE = ["app1", "app2", "worker", "scheduler"]

INTERPOLATION = re.compile(r"\$(?:\{(?P<braced>[^}]*)\}|(?P<bare>[A-Za-z_]\w*)|\$)")
BRACED = re.compile(r"^([A-Za-z_]\w*)(?:(:?[-?+])(.*))?$", re.S)

commands = pytest.mark.parametrize("name", COMMANDS)


def interpolations(text: str) -> Iterator[tuple[str, re.Match[str] | None]]:
    """(text as written, its parts (name, operator, rest) or None) of each ${...} and $NAME."""
    for match in INTERPOLATION.finditer(text):
        if match.group(0) == "$$":
            continue
        if match.group("bare") is not None:
            yield match.group(0), BRACED.match(match.group("bare"))
        else:
            yield match.group(0), BRACED.match(match.group("braced"))


def one_shot(service: dict[str, Any]) -> bool:
    return service.get("restart", "no") == "no"


def has_healthcheck(service: dict[str, Any]) -> bool:
    check = service.get("healthcheck")
    return bool(check) and not check.get("disable") and bool(check.get("test"))


def dependencies(services: Services) -> Iterator[tuple[str, str, Any]]:
    """(service, the service it depends on, how) for the long syntax of depends_on."""
    for name, service in services.items():
        depends = service.get("depends_on", {})
        if isinstance(depends, dict):
            for target, how in depends.items():
                yield name, target, how or {}


def service(services: Services, name: str) -> dict[str, Any]:
    if name not in services:
        pytest.fail(f"compose.yaml: service {name} is missing")
    return services[name]


def test_compose_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    vendored = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    schema = json.loads(vendored.joinpath("compose-spec.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    problems = [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(top)'}: {error.message}"
        for error in sorted(validator.iter_errors(compose), key=lambda e: list(e.absolute_path))
    ]
    assert not problems, "compose.yaml against the Compose Specification:\n" + "\n".join(problems)


# ---------------------------------------------------------------------------------------
# Secrets come from the environment
# ---------------------------------------------------------------------------------------


def test_interpolations_are_well_formed(compose_text: str) -> None:
    broken = [written for written, parts in interpolations(compose_text) if parts is None]
    assert not broken, f"compose.yaml: not valid interpolations: {broken}"


def test_secrets_are_required_without_a_default(compose_text: str) -> None:
    """Each secret is written ${NAME:?message}: compose stops with the message when the
    variable is unset or empty, and nothing in the repository can stand in for it."""
    lax = [
        written
        for written, parts in interpolations(compose_text)
        if parts is not None
        and parts[1] in COMPOSE_SECRETS
        and (not written.startswith("${") or parts[2] != ":?" or not (parts[3] or "").strip())
    ]
    assert not lax, f"compose.yaml: write secrets as ${{NAME:?message}}, not {lax}"


@pytest.mark.parametrize("secret", sorted(COMPOSE_SECRETS))
def test_the_secret_is_required_from_the_environment(compose_text: str, secret: str) -> None:
    used = {
        parts[1]
        for written, parts in interpolations(compose_text)
        if parts is not None and written.startswith("${")
    }
    assert secret in used, f"compose.yaml: {secret} is never required from the environment"


# ---------------------------------------------------------------------------------------
# Services: health, dependencies, images, files
# ---------------------------------------------------------------------------------------


def test_long_running_services_have_a_healthcheck(services: Services) -> None:
    unchecked = [n for n, s in services.items() if not has_healthcheck(s) and not one_shot(s)]
    assert not unchecked, f"compose.yaml: services {unchecked} have no healthcheck"


def test_dependencies_use_the_long_syntax(services: Services) -> None:
    short = [n for n, s in services.items() if isinstance(s.get("depends_on"), list)]
    assert not short, f"compose.yaml: depends_on of {short} needs conditions (long syntax)"


def test_dependencies_are_services(services: Services) -> None:
    unknown = [f"{n} -> {t}" for n, t, _ in dependencies(services) if t not in services]
    assert not unknown, f"compose.yaml: dependencies on unknown services: {unknown}"


def test_dependencies_wait_for_health_or_completion(services: Services) -> None:
    started = [
        f"{n} -> {t}"
        for n, t, how in dependencies(services)
        if how.get("condition") in (None, "service_started")
    ]
    assert not started, f"compose.yaml: dependencies without a health condition: {started}"


@pytest.mark.parametrize(
    ("condition", "can_meet", "unmet_is"),
    [
        ("service_healthy", has_healthcheck, "waits for health of services with no check"),
        (
            "service_completed_successfully",
            one_shot,
            "waits for completion of services that restart",
        ),
    ],
    ids=["healthy dependencies have a healthcheck", "completed dependencies are one-shot"],
)
def test_a_dependency_waits_only_for_what_its_service_does(
    services: Services,
    condition: str,
    can_meet: Callable[[dict[str, Any]], bool],
    unmet_is: str,
) -> None:
    unmet = [
        f"{n} -> {t}"
        for n, t, how in dependencies(services)
        if how.get("condition") == condition and t in services and not can_meet(services[t])
    ]
    assert not unmet, f"compose.yaml: {unmet_is}: {unmet}"


def test_images_carry_a_pinned_tag(services: Services) -> None:
    loose = [
        f"{n}: {s['image']}"
        for n, s in services.items()
        if s.get("image") and (":" not in s["image"] or s["image"].endswith(":latest"))
    ]
    assert not loose, f"compose.yaml: images without a pinned tag: {loose}"


def bind_mounted(service: dict[str, Any]) -> list[str]:
    """The host paths, relative to deploy/, that a service mounts."""
    sources = [v.split(":", 1)[0] for v in service.get("volumes", []) if isinstance(v, str)]
    return [source for source in sources if source.startswith(".")]


def dockerfile(service: dict[str, Any]) -> list[str]:
    """The Dockerfile, relative to deploy/, that a service builds from (none if it pulls)."""
    build = service.get("build")
    if not isinstance(build, dict):
        return []
    return [f"{build.get('context', '.')}/{build.get('dockerfile', 'Dockerfile')}"]


@pytest.mark.parametrize(
    ("named", "there", "missing_are"),
    [
        (bind_mounted, Path.exists, "bind-mounted paths that do not exist"),
        (dockerfile, Path.is_file, "build contexts without their Dockerfile"),
    ],
    ids=["bind-mounted files exist", "build contexts have their Dockerfile"],
)
def test_the_files_a_service_names_are_there(
    root: Path,
    services: Services,
    named: Callable[[dict[str, Any]], list[str]],
    there: Callable[[Path], bool],
    missing_are: str,
) -> None:
    folder = root / "deploy"
    missing = [
        f"{n}: {path}" for n, s in services.items() for path in named(s) if not there(folder / path)
    ]
    assert not missing, f"compose.yaml: {missing_are}: {missing}"


# ---------------------------------------------------------------------------------------
# The image's processes: app1, app2, worker, scheduler, migrate
# ---------------------------------------------------------------------------------------


@commands
def test_the_service_builds_the_image_and_runs_its_command(services: Services, name: str) -> None:
    found = service(services, name)
    assert found.get("command") == [COMMANDS[name]], (
        f"compose.yaml: service {name}: command must be [{COMMANDS[name]!r}]"
    )
    assert isinstance(found.get("build"), dict), (
        f"compose.yaml: service {name}: must build the repository's image"
    )


@commands
def test_the_service_has_the_production_environment(services: Services, name: str) -> None:
    env = service(services, name).get("environment", {})
    wrong = {k: env.get(k) for k, v in APP_ENV.items() if env.get(k) != v}
    assert not wrong, f"compose.yaml: service {name}: environment {wrong}, expected {APP_ENV}"


@commands
def test_the_service_reads_the_primary_and_the_replica(services: Services, name: str) -> None:
    env = service(services, name).get("environment", {})
    for key, host in DATABASES.items():
        assert f"@{host}:" in str(env.get(key, "")), (
            f"compose.yaml: service {name}: {key} must point at {host}"
        )


@commands
def test_the_service_has_a_read_only_root_with_a_tmpfs_tmp(services: Services, name: str) -> None:
    found = service(services, name)
    assert found.get("read_only") is True and "/tmp" in found.get("tmpfs", []), (
        f"compose.yaml: service {name}: read_only, with /tmp a tmpfs"
    )


@pytest.mark.parametrize("name", SERVING)
def test_serving_processes_share_metrics_in_a_tmpfs(services: Services, name: str) -> None:
    found = service(services, name)
    assert found.get("environment", {}).get("PROMETHEUS_MULTIPROC_DIR") == MULTIPROC_DIR, (
        f"compose.yaml: service {name}: PROMETHEUS_MULTIPROC_DIR must be {MULTIPROC_DIR}"
    )
    assert MULTIPROC_DIR in found.get("tmpfs", []), (
        f"compose.yaml: service {name}: {MULTIPROC_DIR} must be a tmpfs"
    )


@pytest.mark.parametrize("name", SERVING)
def test_serving_processes_leave_the_periodic_jobs_to_the_scheduler(
    services: Services, name: str
) -> None:
    env = service(services, name).get("environment", {})
    assert env.get("ASTROCOFFEE_MAINTENANCE_INTERVAL_S") == "0", (
        f"compose.yaml: service {name}: ASTROCOFFEE_MAINTENANCE_INTERVAL_S must be 0 "
        "(the scheduler service runs the jobs)"
    )
    scheduler_env = service(services, "scheduler").get("environment", {})
    assert scheduler_env.get("ASTROCOFFEE_MAINTENANCE_INTERVAL_S", "30") != "0", (
        "compose.yaml: service scheduler: must run the jobs (interval above 0)"
    )


@pytest.mark.parametrize("name", AFTER_MIGRATE)
def test_the_service_waits_for_the_migration_to_succeed(services: Services, name: str) -> None:
    depends = service(services, name).get("depends_on", {})
    migrate = depends.get("migrate", {}) if isinstance(depends, dict) else {}
    assert (migrate or {}).get("condition") == "service_completed_successfully", (
        f"compose.yaml: service {name}: must wait for migrate to complete successfully"
    )
