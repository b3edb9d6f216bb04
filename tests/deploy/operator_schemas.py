"""The parts of the Prometheus Operator's CRDs that the deployment uses (monitoring.coreos.com/v1):
ServiceMonitor and PrometheusRule are not in kubernetes-validate's schemas, so they are held to
these (unknown fields fail, as in its strict mode)."""

from __future__ import annotations

from typing import Any

API_VERSION = "monitoring.coreos.com/v1"
DURATION = r"^([0-9]+(ms|s|m|h|d|w|y))+$"


def _closed(required: list[str], **properties: Any) -> dict[str, Any]:
    """An object with ``properties`` and no other, ``required`` of them needed."""
    return {
        "type": "object",
        "required": required,
        "additionalProperties": False,
        "properties": properties,
    }


def _list_of(item: dict[str, Any]) -> dict[str, Any]:
    """A list of at least one ``item``."""
    return {"type": "array", "minItems": 1, "items": item}


_TEXT = {"type": "string", "minLength": 1}
_DURATION = {"type": "string", "pattern": DURATION}
_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
_METADATA = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": _TEXT,
        "namespace": {"type": "string"},
        "labels": _STRING_MAP,
        "annotations": _STRING_MAP,
    },
}
_LABEL_SELECTOR = {
    "type": "object",
    "properties": {"matchLabels": _STRING_MAP, "matchExpressions": {"type": "array"}},
    "additionalProperties": False,
}


def _resource(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    """A ``kind`` of the operator's API version with its ``spec``."""
    return _closed(
        ["apiVersion", "kind", "metadata", "spec"],
        apiVersion={"const": API_VERSION},
        kind={"const": kind},
        metadata=_METADATA,
        spec=spec,
    )


_RULE = {
    **_closed(
        ["expr"],
        alert={"type": "string", "pattern": "^[A-Za-z]\\w*$"},
        record=_TEXT,
        expr=_TEXT,
        keep_firing_for=_DURATION,
        labels=_STRING_MAP,
        annotations=_STRING_MAP,
        **{"for": _DURATION},
    ),
    "oneOf": [
        {"required": ["alert"], "not": {"required": ["record"]}},
        {"required": ["record"], "not": {"required": ["alert"]}},
    ],
}
PROMETHEUS_RULE_SCHEMA = _resource(
    "PrometheusRule",
    _closed(
        ["groups"],
        groups=_list_of(
            _closed(["name", "rules"], name=_TEXT, interval=_DURATION, rules=_list_of(_RULE))
        ),
    ),
)
SERVICE_MONITOR_SCHEMA = _resource(
    "ServiceMonitor",
    _closed(
        ["selector", "endpoints"],
        jobLabel={"type": "string"},
        selector=_LABEL_SELECTOR,
        namespaceSelector={"type": "object"},
        endpoints=_list_of(
            _closed(
                ["port", "path"],
                port=_TEXT,
                path={"type": "string", "pattern": "^/"},
                scheme={"enum": ["http", "https"]},
                interval=_DURATION,
                scrapeTimeout=_DURATION,
                honorLabels={"type": "boolean"},
                relabelings={"type": "array"},
                metricRelabelings={"type": "array"},
            )
        ),
    ),
)
CRD_SCHEMAS = {
    (API_VERSION, "PrometheusRule"): PROMETHEUS_RULE_SCHEMA,
    (API_VERSION, "ServiceMonitor"): SERVICE_MONITOR_SCHEMA,
}
