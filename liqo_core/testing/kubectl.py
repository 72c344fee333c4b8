"""Test helpers for the sandbox: kubectl get/apply, and ``wait_for`` (from the kit)."""

from __future__ import annotations

import json
from typing import Any

import yaml

from liqo_core.testing.clusters import ClusterHandle
from liqo_core.testing.waiting import wait_for

__all__ = ["apply", "get_json", "wait_for"]


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
