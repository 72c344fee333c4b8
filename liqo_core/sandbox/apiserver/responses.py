"""Request targets and JSON responses shared by the HTTP handlers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from .types import APIError, ResourceType

JSON_TYPE = "application/json"


@dataclass
class Target:
    """A parsed resource URL."""

    rt: ResourceType
    namespace: str
    name: str
    subresource: str


def json_response(body: Any, status: int = 200) -> web.Response:
    """``body`` serialized with orjson, newline-terminated as Go's ``json.Encoder`` writes it."""
    return web.Response(
        body=orjson.dumps(body, option=orjson.OPT_APPEND_NEWLINE),
        status=status,
        content_type=JSON_TYPE,
    )


def error_response(err: APIError) -> web.Response:
    """The ``Status`` answer of an error."""
    return json_response(err.to_status(), err.code)


_TRUE = frozenset({"1", "t", "T", "true", "TRUE", "True"})


def query_bool(value: str | None) -> bool:
    """A boolean query parameter as Go's ``strconv.ParseBool`` reads it."""
    return value in _TRUE


def wants_table(request: web.Request) -> bool:
    """Whether the client asked for ``meta.k8s.io`` Table output."""
    return "as=Table" in request.headers.get("Accept", "")
