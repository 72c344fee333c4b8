"""Test helpers: wait for a condition observed through the API, with a deadline."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, Literal, TypeVar

import yaml

from liqo_core.testing.clusters import ClusterHandle

T = TypeVar("T")


def wait_for(
    probe: Callable[[], T | Literal[False] | None],
    timeout: float = 30.0,
    interval: float = 0.2,
    what: str = "condition",
) -> T:
    """Call ``probe`` until it returns something truthy; return it, or fail after ``timeout``
    with the last value seen."""
    deadline = time.monotonic() + timeout
    while True:
        last = probe()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}; last: {last!r}")
        time.sleep(interval)


def get_json(cluster: ClusterHandle, *args: str) -> Any:
    """``kubectl get ARGS -o json`` decoded (None when the object does not exist)."""
    proc = cluster.kubectl("get", *args, "-o", "json", check=False)
    if proc.returncode != 0:
        if "NotFound" in proc.stderr or "not found" in proc.stderr:
            return None
        raise AssertionError(f"kubectl get {' '.join(args)}: {proc.stderr.strip()}")
    return json.loads(proc.stdout)


def apply(cluster: ClusterHandle, *manifests: dict[str, Any], namespace: str | None = None) -> None:
    """``kubectl apply`` the given objects."""
    args = ["apply", "-f", "-"] + (["-n", namespace] if namespace else [])
    body = yaml.safe_dump_all(list(manifests))
    cluster.kubectl(*args, input=body)
