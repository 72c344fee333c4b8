"""Which runtime plays kubelet for a pod: the process runner or the hollow kubelet.

One rule, used by both, so that a pod is never handled twice:

* a pod annotated ``sandbox.liqo.io/runner: process`` is run as local processes;
* a pod annotated ``sandbox.liqo.io/runner: hollow`` is only reported Running;
* otherwise pods in the ``liqo`` namespace (where the chart installs Liqo's components)
  are run as processes and all other pods are hollow.

Which pods get a network namespace of their own (when the sandbox has pod networks: root):
process-run pods unless annotated ``sandbox.liqo.io/netns: "false"`` (then they run in
their node's), hollow pods only when annotated ``sandbox.liqo.io/netns: "true"`` or when
the sandbox was started with ``--network-hollow-pods``; ``hostNetwork`` pods never.
"""

from __future__ import annotations

from typing import Any

RUNNER_ANNOTATION = "sandbox.liqo.io/runner"
NETNS_ANNOTATION = "sandbox.liqo.io/netns"
PROCESS_NAMESPACES = frozenset({"liqo"})


def runs_as_process(pod: dict[str, Any]) -> bool:
    """True when the process runner owns the pod, False when the hollow kubelet does."""
    meta = pod.get("metadata", {})
    choice = (meta.get("annotations") or {}).get(RUNNER_ANNOTATION)
    if choice in ("process", "hollow"):
        return bool(choice == "process")
    return meta.get("namespace") in PROCESS_NAMESPACES


def wants_netns(pod: dict[str, Any], default: bool = False) -> bool:
    """Whether the pod gets a network namespace of its own: its annotation says so, or it
    has none and ``default`` holds; never for ``hostNetwork`` pods."""
    if pod.get("spec", {}).get("hostNetwork"):
        return False
    annotations = pod.get("metadata", {}).get("annotations") or {}
    value = str(annotations.get(NETNS_ANNOTATION, "")).lower()
    if value in ("true", "false"):
        return value == "true"
    return default
