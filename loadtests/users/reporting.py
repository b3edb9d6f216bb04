"""How a user reports to Locust: a request judged by its status (``checked_request``), a
failed answer in few words (``problem``), what it measured besides HTTP (``fire``)."""

from __future__ import annotations

from typing import Any


def fire(
    environment: Any,
    request_type: str,
    name: str,
    response_time: float,
    *,
    length: int = 0,
    exception: BaseException | None = None,
) -> None:
    environment.events.request.fire(
        request_type=request_type,
        name=name,
        response_time=response_time,
        response_length=length,
        response=None,
        context={},
        exception=exception,
    )


def problem(response: Any) -> str:
    """A failed answer in few words: status and the problem's ``code`` (RFC 9457), so that
    Locust counts the same failure once however many ids its text names."""
    if response.status_code == 0 and getattr(response, "error", None) is not None:
        return f"0 (no answer): {response.error!r:.200}"
    try:
        body = response.json()
    except Exception:
        body = None
    if isinstance(body, dict) and body.get("code"):
        return f"{response.status_code} {body['code']}: {str(body.get('detail', ''))[:120]}"
    return f"{response.status_code}: {(response.text or '')[:200]}"


def checked_request(
    client: Any, method: str, path: str, *, expect: int, name: str | None = None, **kwargs: Any
) -> Any:
    """``method path`` (reported as ``name``, or the path), a success if it answers
    ``expect``: then its JSON (``{}`` for 204 No Content), else None and a failure."""
    with client.request(method, path, name=name or path, catch_response=True, **kwargs) as response:
        if response.status_code != expect:
            response.failure(problem(response))
            return None
        try:
            answer = {} if response.status_code == 204 else response.json()
        except ValueError:
            response.failure("the answer is not JSON")
            return None
        response.success()
        return answer
