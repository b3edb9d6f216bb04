"""Structured JSON logs, one object per line, carrying the request id and the caller's ids
(member, terminal, staff) when there are some. Tokens, codes and keys are never fields.

Libraries log what they see, too: uvicorn logs each WebSocket handshake with its query
string (``/v1/ws?token=<access token>``), and at DEBUG the websockets protocol dumps the
request line, every header (``Authorization: Bearer ...``) and every frame (the first-frame
``auth``). Credentials in a query string are redacted from every line, and the protocol
dumps are dropped (``tests/security/test_log_secrets.py`` runs a full flow at INFO and at
DEBUG and looks for every secret in the output).
"""

from __future__ import annotations

import contextvars
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

import msgspec

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)
# The client's address as the server saw it (the proxy's X-Forwarded-For where trusted),
# for the audit trail.
client_address_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "client_address", default=None
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
# Credentials, and personal data a staff look-up puts in its query string (uvicorn's access
# line shows it: /v1/admin/members?phone=...).
_SECRET_IN_QUERY = re.compile(
    r"([?&](?:token|access_token|refresh_token|api_key|key|code|signature|password"
    r"|phone|card_number)=)[^&\s\"']*",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """``text`` with the values of credential-like and personal query parameters replaced."""
    return _SECRET_IN_QUERY.sub(r"\1[redacted]", text)


class _NoProtocolDumps(logging.Filter):
    """Drops the websockets protocol's DEBUG dumps ("< GET ...", "< Authorization: ...",
    "< TEXT '...'"), which uvicorn routes to its own logger."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            record.levelno <= logging.DEBUG
            and record.name == "uvicorn.error"
            and isinstance(record.msg, str)
            and record.msg.startswith(("< ", "> "))
        )


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
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
            entry["exc"] = redact(self.formatException(record.exc_info))
        return _encoder.encode(entry).decode()


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(_NoProtocolDumps())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Piccolo and pgserver are chatty at INFO about things our own logs already say.
    logging.getLogger("piccolo").setLevel(logging.WARNING)
    logging.getLogger("pgserver").setLevel(logging.WARNING)
