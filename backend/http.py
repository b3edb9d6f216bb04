"""HTTP helpers shared by the controllers: strict bodies and the idempotency headers.

Strict bodies: Litestar converts bodies leniently (``"350"`` becomes ``350``, ``1.0``
becomes ``1``) because the same machinery converts query strings. An amount of money must
never be guessed, so write endpoints decode the raw body again, strictly, with msgspec. The
body is cached by the request, and decoding a small JSON document costs microseconds.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

import msgspec
from litestar import Request
from litestar.params import HeaderParameter

from backend.errors import ValidationFailed

T = TypeVar("T")

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        description="Required. Same key and body replays the stored response.",
        required=False,
    ),
]


async def strict_body(request: Request[Any, Any, Any], schema: type[T]) -> T:
    raw = await request.body()
    try:
        return msgspec.json.decode(raw, type=schema, strict=True)
    except msgspec.ValidationError as exc:
        raise ValidationFailed(f"the request body is not valid: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise ValidationFailed(f"the request body is not valid JSON: {exc}") from exc


def replay_headers(replayed: bool) -> dict[str, str]:
    return {"Idempotent-Replayed": "true"} if replayed else {}
