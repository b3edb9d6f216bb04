"""Holds the app to its OpenAPI document: every answer the tests provoke is checked.

``serving()`` (tests/conftest.py) wraps every app the suite serves in a ``ContractRecorder``;
an autouse fixture fails the test during which an answer broke the document: a status the
operation does not declare, a body whose media type it does not declare, or a JSON body
that its schema refuses (for problems, a ``code`` that status does not list on that route).
A client generated from the document would have choked on any of these.
"""

from __future__ import annotations

import json
import re
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

_CONVERTER = re.compile(r"{(\w+):[^}]+}")
_DOCUMENT_URI = "urn:astrocoffee:openapi"


class ContractRecorder:
    """An ASGI wrapper that checks each HTTP answer of ``app`` against its document."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.violations: list[str] = []
        self._document: dict[str, Any] | None = None
        self._registry: Registry[Any] | None = None
        self._validators: dict[str, Any] = {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        answer: dict[str, Any] = {"body": b""}

        async def recording_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                headers = dict(message.get("headers") or [])
                answer["content_type"] = headers.get(b"content-type", b"").decode()
            elif message["type"] == "http.response.body":
                answer["body"] += message.get("body", b"")
            await send(message)

        await self.app(scope, receive, recording_send)
        if "status" in answer:
            self._check(scope, answer["status"], answer["content_type"], answer["body"])

    def take(self) -> list[str]:
        found, self.violations = self.violations, []
        return found

    def _check(self, scope: Any, status: int, content_type: str, body: bytes) -> None:
        template = scope.get("path_template")
        handler = scope.get("route_handler")
        if template is None or handler is None or not handler.resolve_include_in_schema():
            return  # nothing routed (the router's own 404/405), or not a documented route
        path = _CONVERTER.sub(r"{\1}", template)
        method = scope["method"].lower()
        operation = self.document["paths"].get(path, {}).get(method)
        if operation is None:
            return  # HEAD, OPTIONS
        where = f"{scope['method']} {path} -> {status}"
        response = operation["responses"].get(str(status))
        if response is None:
            self.violations.append(f"{where}: status not declared ({body[:300]!r})")
            return
        media_type = content_type.split(";")[0].strip()
        declared = response.get("content") or {}
        if not body:
            return
        if media_type not in declared:
            self.violations.append(f"{where}: {media_type or 'no'} content type not declared")
            return
        schema = declared[media_type].get("schema")
        if schema is None or not media_type.endswith("json"):
            return
        validator = self._validator(path, method, str(status), media_type)
        errors = sorted(validator.iter_errors(json.loads(body)), key=str)
        if errors:
            self.violations.append(f"{where}: body does not match its schema: {errors[0].message}")

    def _validator(self, path: str, method: str, status: str, media_type: str) -> Any:
        """The response schema's validator, made once per (operation, status, media type)."""
        pointer = "/".join(
            part.replace("~", "~0").replace("/", "~1")
            for part in ("paths", path, method, "responses", status, "content", media_type)
        )
        if pointer not in self._validators:
            self._validators[pointer] = Draft202012Validator(
                {"$ref": f"{_DOCUMENT_URI}#/{pointer}/schema"}, registry=self.registry
            )
        return self._validators[pointer]

    @property
    def document(self) -> dict[str, Any]:
        if self._document is None:
            self._document = self.app.openapi_schema.to_schema()
        return self._document

    @property
    def registry(self) -> Registry[Any]:
        if self._registry is None:
            resource = Resource.from_contents(self.document, default_specification=DRAFT202012)
            self._registry = Registry().with_resource(_DOCUMENT_URI, resource)
        return self._registry
