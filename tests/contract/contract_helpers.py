"""Helpers shared by the contract tests (they only talk to the API)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlencode

import orjson
from kubernetes import client

from liqo_core.testing.waiting import wait_for as kit_wait_for

T = TypeVar("T")

UNSERVED_SCHEDULER = "contract-test-unserved"
"""A ``spec.schedulerName`` no scheduler serves: on any cluster (one with a scheduler and
kubelets included) a pod with it stays unbound, so no kubelet writes its status and no
scheduler reports events about it. Pods a test binds itself or expects to stay Pending
use it."""


def wait_for(fn: Callable[[], T | None], timeout: float = 20.0, interval: float = 0.05) -> T:
    """Poll ``fn`` until it returns something truthy (an API error counts as not yet)."""

    def probe() -> T | None:
        try:
            return fn()
        except client.ApiException:
            return None

    return kit_wait_for(probe, timeout=timeout, interval=interval)


def status_of(exc: client.ApiException) -> dict[str, Any]:
    """The ``Status`` body of an API error."""
    body: dict[str, Any] = orjson.loads(exc.body)
    return body


def raw(  # noqa: PLR0917 - positional use is the established calling convention
    api: client.ApiClient,
    method: str,
    path: str,
    body: Any = None,
    query: list[tuple[str, Any]] | None = None,
    content_type: str = "application/json",
    accept: str = "application/json",
) -> Any:
    """Call the API directly and return the decoded JSON body (raises ApiException)."""
    url = api.configuration.host + path
    if query:
        url += "?" + urlencode(query)
    resp = api.call_api(
        method,
        url,
        header_params={"Content-Type": content_type, "Accept": accept},
        body=body,
    )
    resp.read()
    if not 200 <= resp.status < 300:
        raise client.ApiException(http_resp=resp)
    return orjson.loads(resp.data)


def absent(fn: Callable[[], Any]) -> bool:
    """True once ``fn`` raises a 404 ApiException."""
    try:
        fn()
    except client.ApiException as exc:
        if exc.status == 404:
            return True
        raise
    return False
