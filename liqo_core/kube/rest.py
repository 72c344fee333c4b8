"""Raw JSON requests through an asynchronous API client, for objects kept as plain dicts."""

from __future__ import annotations

import json
from typing import Any

from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

JSONObject = dict[str, Any]

_JSON_HEADERS = {"Accept": "application/json", "Content-Type": "application/json"}


async def request_json(
    api: client.ApiClient,
    method: str,
    path: str,
    body: JSONObject | None = None,
) -> JSONObject:
    """Send ``method path`` with a JSON body and return the decoded JSON answer.

    Non-2xx answers raise :class:`kubernetes_asyncio.client.exceptions.ApiException`.
    """
    result = await api.call_api(
        path,
        method,
        header_params=dict(_JSON_HEADERS),
        body=body,
        response_types_map={200: "object", 201: "object"},
        auth_settings=["BearerToken"],
        _return_http_data_only=True,
    )
    return dict(result) if isinstance(result, dict) else {}


def api_status(exc: BaseException) -> int | None:
    """The HTTP status of a failed API call, or ``None`` if ``exc`` is not an API error."""
    return exc.status if isinstance(exc, ApiException) else None


def describe_error(exc: BaseException | None) -> str:
    """One short line for logs: ``HTTP <status> <reason>`` for API errors, else type and text."""
    if exc is None:
        return "unknown error"
    status = api_status(exc)
    if status:
        summary = f"HTTP {status} {getattr(exc, 'reason', '') or ''}".strip()
        message = _status_message(getattr(exc, "body", None))
        return f"{summary}: {message}" if message else summary
    text = " ".join(str(exc).split())[:200]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _status_message(body: object) -> str:
    """The ``message`` of a Kubernetes ``Status`` answer, on one line ('' if none)."""
    if isinstance(body, bytes):
        body = body.decode(errors="replace")
    if not isinstance(body, str):
        return ""
    try:
        status = json.loads(body)
    except ValueError:
        return ""
    message = status.get("message") if isinstance(status, dict) else None
    return " ".join(str(message).split())[:200] if message else ""
