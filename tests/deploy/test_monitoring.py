"""The alert rules (the rendered PrometheusRule) and the Grafana dashboard: valid PromQL on
metrics the app really exports (read from prometheus_client's registry), a runbook section
per alert, the panels the dashboard must show."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.deploy import support
from tests.deploy.conftest import AlertRule

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
GRAFANA_VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


def alerts(alert_rules: list[AlertRule]) -> list[AlertRule]:
    found = [r for r in alert_rules if r.is_alert]
    assert found, "no alert rule is rendered (the prod overlay includes components/monitoring)"
    return found


# ---------------------------------------------------------------------------------------
# The metrics the app exports
# ---------------------------------------------------------------------------------------


def test_the_registry_holds_the_apps_metrics(exported_metrics: set[str]) -> None:
    """The names are read from the registry, so a wrong import would leave them out: those
    of each metrics module and of Litestar's middleware must be there."""
    for name in (
        "astrocoffee_requests_total",  # Litestar's Prometheus middleware
        "astrocoffee_requests_error_total",
        "astrocoffee_request_duration_seconds_bucket",
        "astrocoffee_ready",  # backend/ops/sampler.py
        "astrocoffee_ledger_entries_total",  # backend/ops/metrics.py
        "astrocoffee_websocket_connections",  # realtime/metrics.py
        "astrocoffee_outbox_dead_letters",  # backend/accounting/metrics.py
    ):
        assert name in exported_metrics, f"{name} is not in prometheus_client's registry"
    assert not {n for n in exported_metrics if n.startswith(("process_", "python_"))}, (
        "the default collectors are not exported by a multiprocess /metrics"
    )


def test_series_names_are_those_prometheus_client_exposes() -> None:
    """support.SERIES_SUFFIXES against the samples prometheus_client writes, type by type
    (a Summary of prometheus_client has no quantile series, other clients' have)."""
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, Summary

    registry = CollectorRegistry()
    Counter("x_counter_total", "", registry=registry).inc()
    Gauge("x_gauge", "", registry=registry).set(1)
    Histogram("x_histogram", "", registry=registry).observe(1)
    Summary("x_summary", "", registry=registry).observe(1)
    Info("x_build", "", registry=registry).info({"version": "1"})
    for family in registry.collect():
        exposed = {s.name for s in family.samples}
        quantiles = {family.name} if family.type == "summary" else set()
        assert exposed == support.series_names(family) - quantiles, f"{family.type} {family.name}"


# ---------------------------------------------------------------------------------------
# Alert rules
# ---------------------------------------------------------------------------------------


def test_rule_expressions_parse_as_instant_vectors(alert_rules: list[AlertRule]) -> None:
    broken = [
        f"{r.where}: {why}"
        for r in alert_rules
        for _, why in [support.parse_promql(str(r.rule.get("expr", "")))]
        if why
    ]
    assert not broken, "\n".join(broken)


def test_rules_read_only_metrics_the_app_exports(
    alert_rules: list[AlertRule], exported_metrics: set[str]
) -> None:
    unknown = [
        f"{r.where}: {sorted(support.metric_names(expr) - exported_metrics)}"
        for r in alert_rules
        for expr, _ in [support.parse_promql(str(r.rule.get("expr", "")))]
        if expr is not None and support.metric_names(expr) - exported_metrics
    ]
    assert not unknown, "metrics the app does not export:\n" + "\n".join(unknown)


def test_alert_names_are_unique_per_prometheus_rule(alert_rules: list[AlertRule]) -> None:
    seen: set[tuple[int, str]] = set()
    for rule in alerts(alert_rules):
        key = (id(rule.source), rule.name)
        assert key not in seen, f"{rule.where}: alert defined twice"
        seen.add(key)


def test_alerts_have_a_known_severity(alert_rules: list[AlertRule]) -> None:
    for rule in alerts(alert_rules):
        severity = rule.rule.get("labels", {}).get("severity")
        assert severity in SEVERITIES, f"{rule.where}: severity {severity!r} not in {SEVERITIES}"


def test_alerts_have_a_summary(alert_rules: list[AlertRule]) -> None:
    for rule in alerts(alert_rules):
        assert rule.rule.get("annotations", {}).get("summary"), f"{rule.where}: no summary"


def test_alert_annotations_balance_their_template_braces(alert_rules: list[AlertRule]) -> None:
    for rule in alerts(alert_rules):
        for key, text in rule.rule.get("annotations", {}).items():
            assert str(text).count("{{") == str(text).count("}}"), (
                f"{rule.where}: unbalanced {{{{ }}}} in annotation {key}"
            )


def test_alerts_link_their_runbook_section(
    alert_rules: list[AlertRule], runbook_anchors: set[str]
) -> None:
    for rule in alerts(alert_rules):
        anchor = rule.name.lower()
        url = rule.rule.get("annotations", {}).get("runbook_url")
        assert url == f"{support.RUNBOOK}#{anchor}", (
            f"{rule.where}: runbook_url must be {support.RUNBOOK}#{anchor}, is {url!r}"
        )
        assert anchor in runbook_anchors, (
            f"{rule.where}: {support.RUNBOOK} has no section '{rule.name}' (#{anchor})"
        )


@pytest.mark.parametrize("alert", sorted(REQUIRED_ALERTS))
def test_the_required_alert_exists(alert_rules: list[AlertRule], alert: str) -> None:
    sources = {id(r.source): r.where.rsplit(" ", 1)[0] for r in alerts(alert_rules)}
    having = {id(r.source) for r in alerts(alert_rules) if r.name == alert}
    lacking = [where for source, where in sources.items() if source not in having]
    assert not lacking, f"alert {alert} is missing from {lacking}"


# ---------------------------------------------------------------------------------------
# The Grafana dashboard
# ---------------------------------------------------------------------------------------


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, those inside collapsed rows included."""
    found = list(dashboard.get("panels", []))
    for row in dashboard.get("panels", []):
        found.extend(row.get("panels", []))
    return found


def graphs(dashboard: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for panel in panels(dashboard):
        if panel.get("type") != "row":
            yield f"panel {panel.get('id')} {panel.get('title')!r}", panel


def queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, expr) of every panel query, Grafana's variables not yet replaced."""
    for where, panel in graphs(dashboard):
        for target in panel.get("targets", []):
            yield f"{where} query {target.get('refId')}", str(target.get("expr", ""))


def substituted(query: str) -> str:
    return GRAFANA_VARIABLE.sub(lambda m: GRAFANA_VARIABLES.get(m[1] or m[2], "1m"), query)


@pytest.mark.parametrize("key", ["uid", "title", "schemaVersion", "panels"])
def test_the_dashboard_has(dashboard: dict[str, Any], key: str) -> None:
    assert dashboard.get(key), f"grafana-dashboard.json: {key} is missing"


def test_the_dashboard_has_a_prometheus_datasource_variable(dashboard: dict[str, Any]) -> None:
    variables = {v.get("name"): v for v in dashboard.get("templating", {}).get("list", [])}
    source = variables.get("datasource", {})
    assert (source.get("type"), source.get("query")) == ("datasource", "prometheus"), (
        "grafana-dashboard.json: a Prometheus datasource variable 'datasource' is required"
    )


def test_panel_ids_are_unique(dashboard: dict[str, Any]) -> None:
    ids = [p.get("id") for p in panels(dashboard)]
    twice = sorted({i for i in ids if ids.count(i) > 1}, key=str)
    assert not twice, f"grafana-dashboard.json: panel ids {twice} are used twice"


def test_panels_have_a_grid_position(dashboard: dict[str, Any]) -> None:
    for where, panel in graphs(dashboard):
        assert "gridPos" in panel, f"{where}: no gridPos"


def test_panels_use_the_datasource_variable(dashboard: dict[str, Any]) -> None:
    for where, panel in graphs(dashboard):
        assert panel.get("datasource", {}).get("uid") == "${datasource}", (
            f"{where}: datasource must be the ${{datasource}} variable"
        )


def test_panels_have_queries(dashboard: dict[str, Any]) -> None:
    for where, panel in graphs(dashboard):
        assert panel.get("targets"), f"{where}: no query"
    for where, query in queries(dashboard):
        assert query.strip(), f"{where}: no expr"


def test_panel_queries_use_only_known_variables(dashboard: dict[str, Any]) -> None:
    unknown = [
        f"{where}: ${name}"
        for where, query in queries(dashboard)
        for match in GRAFANA_VARIABLE.finditer(query)
        for name in [match[1] or match[2]]
        if name not in GRAFANA_VARIABLES
    ]
    assert not unknown, "unknown Grafana variables:\n" + "\n".join(unknown)


def test_panel_queries_parse_as_instant_vectors(dashboard: dict[str, Any]) -> None:
    broken = [
        f"{where}: {why}"
        for where, query in queries(dashboard)
        if query.strip()
        for _, why in [support.parse_promql(substituted(query))]
        if why
    ]
    assert not broken, "\n".join(broken)


def test_panels_read_only_metrics_the_app_exports(
    dashboard: dict[str, Any], exported_metrics: set[str]
) -> None:
    unknown = [
        f"{where}: {sorted(support.metric_names(expr) - exported_metrics)}"
        for where, query in queries(dashboard)
        for expr, _ in [support.parse_promql(substituted(query))]
        if expr is not None and support.metric_names(expr) - exported_metrics
    ]
    assert not unknown, "metrics the app does not export:\n" + "\n".join(unknown)


@pytest.mark.parametrize("metric", sorted(DASHBOARD_METRICS))
def test_the_dashboard_shows(dashboard: dict[str, Any], metric: str) -> None:
    shown = {
        name
        for _, query in queries(dashboard)
        for expr, _ in [support.parse_promql(substituted(query))]
        if expr is not None
        for name in support.metric_names(expr)
    }
    assert metric in shown, f"grafana-dashboard.json: no panel shows {metric}"
