"""Structured JSON logs, one object per line, carrying the request id and the caller's ids
(member, terminal, staff) when there are some. Tokens, codes and keys are never fields."""

from __future__ import annotations

import contextvars
import logging
import sys
from datetime import UTC, datetime
from typing import Any

import msgspec

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)
# Ids of who is calling. The request middleware puts an empty dict here and authentication
# fills it in: filling (not setting) the value reaches the middleware's own access line even
# where the framework runs inner layers in a copied context.
caller_fields_var: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "caller_fields", default=None
)


def bind_caller(fields: dict[str, str]) -> None:
    caller = caller_fields_var.get()
    if caller is not None:
        caller.update(fields)


# Attributes every LogRecord has; anything else was passed in ``extra=`` and is logged.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",  # uvicorn adds a copy with terminal colours
}
_encoder = msgspec.json.Encoder()


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id is not None:
            entry["request_id"] = request_id
        caller = caller_fields_var.get()
        if caller:
            entry.update(caller)
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value if isinstance(value, (str, int, float, bool)) else str(value)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return _encoder.encode(entry).decode()


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Piccolo and pgserver are chatty at INFO about things our own logs already say.
    logging.getLogger("piccolo").setLevel(logging.WARNING)
    logging.getLogger("pgserver").setLevel(logging.WARNING)
