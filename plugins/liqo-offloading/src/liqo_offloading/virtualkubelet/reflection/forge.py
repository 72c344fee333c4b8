"""What every reflected kind shares: who reflects (the two clusters and the node), the
labels marking reflected objects on the provider, and the VirtualNode's offloading patch.

Upstream ``pkg/virtualKubelet/forge/meta.go``: a reflected object carries
``offloading.liqo.io/origin=<home>`` and ``offloading.liqo.io/destination=<foreign>``;
objects owned by one virtual node (ShadowPods) also ``offloading.liqo.io/nodename``.
Objects on the provider without these labels were not made by Liqo and are never touched.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from liqo_core.api.consts import (
    REFLECTION_DESTINATION_LABEL,
    REFLECTION_NODE_NAME_LABEL,
    REFLECTION_ORIGIN_LABEL,
)

JSONObject = dict[str, Any]


@dataclass(frozen=True)
class Identity:
    """The clusters a virtual kubelet reflects between, and its node."""

    home_cluster_id: str
    foreign_cluster_id: str
    node_name: str

    def reflection_labels(self) -> dict[str, str]:
        """Labels of every object reflected by this home cluster to this provider."""
        return {
            REFLECTION_ORIGIN_LABEL: self.home_cluster_id,
            REFLECTION_DESTINATION_LABEL: self.foreign_cluster_id,
        }

    def node_labels(self) -> dict[str, str]:
        """Reflection labels plus this node's name (objects owned by this node)."""
        return {**self.reflection_labels(), REFLECTION_NODE_NAME_LABEL: self.node_name}

    def node_selector(self) -> str:
        """Label selector of the provider objects owned by this node."""
        return ",".join(f"{key}={value}" for key, value in sorted(self.node_labels().items()))

    def is_reflected(self, obj: Mapping[str, Any]) -> bool:
        """Whether ``obj`` was reflected by this home cluster to this provider."""
        labels = labels_of(obj)
        return all(labels.get(k) == v for k, v in self.reflection_labels().items())


def meta_of(obj: Mapping[str, Any] | None) -> JSONObject:
    """``metadata`` of ``obj`` (empty if none)."""
    return dict((obj or {}).get("metadata") or {})


def labels_of(obj: Mapping[str, Any] | None) -> dict[str, str]:
    """``metadata.labels`` of ``obj`` (empty if none)."""
    return dict(meta_of(obj).get("labels") or {})


def annotations_of(obj: Mapping[str, Any] | None) -> dict[str, str]:
    """``metadata.annotations`` of ``obj`` (empty if none)."""
    return dict(meta_of(obj).get("annotations") or {})


def without_keys(values: Mapping[str, str], keys: Iterable[str]) -> dict[str, str]:
    """``values`` without ``keys`` (the labels or annotations not to reflect)."""
    skipped = set(keys)
    return {k: v for k, v in values.items() if k not in skipped}


@dataclass(frozen=True)
class ForgingOptions:
    """The VirtualNode's offloading patch (upstream ``ForgingOpts``)."""

    labels_not_reflected: tuple[str, ...] = ()
    annotations_not_reflected: tuple[str, ...] = ()
    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: tuple[JSONObject, ...] = ()
    affinity: JSONObject | None = None
    runtime_class_name: str | None = None

    @classmethod
    def from_virtual_node(cls, vn: Mapping[str, Any] | None) -> ForgingOptions:
        """The patch in force: ``status.effectiveOffloadingPatch`` (the spec's merged with
        the VkOptionsTemplate's lists by the VirtualNode controller) when set, else
        ``spec.offloadingPatch``."""
        vn = vn or {}
        effective = (vn.get("status") or {}).get("effectiveOffloadingPatch")
        patch = effective or (vn.get("spec") or {}).get("offloadingPatch") or {}
        return cls(
            labels_not_reflected=tuple(patch.get("labelsNotReflected") or ()),
            annotations_not_reflected=tuple(patch.get("annotationsNotReflected") or ()),
            node_selector=dict(patch.get("nodeSelector") or {}),
            tolerations=tuple(dict(t) for t in patch.get("tolerations") or ()),
            affinity=dict(patch["affinity"]) if patch.get("affinity") else None,
            runtime_class_name=patch.get("runtimeClassName") or None,
        )


def metadata_patch(
    live: Mapping[str, str], desired: Mapping[str, str], keep: Iterable[str] = ()
) -> dict[str, str | None]:
    """The merge patch turning map ``live`` into ``desired`` (``None`` removes a key),
    leaving the keys in ``keep`` (owned by somebody else) alone; empty when equal."""
    kept = set(keep)
    patch: dict[str, str | None] = {k: v for k, v in desired.items() if live.get(k) != v}
    patch.update({k: None for k in live if k not in desired and k not in kept})
    return patch
