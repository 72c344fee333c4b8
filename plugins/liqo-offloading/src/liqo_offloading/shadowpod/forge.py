"""The Pod a ShadowPod keeps, forged without the API.

The Pod has the ShadowPod's name, namespace, labels (plus ``liqo.io/managed-by:
shadowpod``) and annotations, its ``spec.pod`` as spec, and the ShadowPod as controller
owner (``blockOwnerDeletion``), so that deleting the ShadowPod garbage-collects it. A Pod's
spec is immutable: only its labels and annotations follow the ShadowPod later.
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from liqo_core.api.consts import (
    KUBERNETES_API_SERVICE_HOST,
    MANAGED_BY_LABEL,
    MANAGED_BY_SHADOW_POD,
)
from liqo_core.api.offloading_v1beta1 import GROUP, VERSION

JSONObject = dict[str, Any]

API_VERSION: Final = f"{GROUP}/{VERSION}"
KIND: Final = "ShadowPod"
#: Field manager of the controller's writes (upstream's).
FIELD_MANAGER: Final = "shadow-pod"
TERMINAL_PHASES: Final = frozenset({"Succeeded", "Failed"})
#: Selects the Pods made from ShadowPods.
POD_SELECTOR: Final = f"{MANAGED_BY_LABEL}={MANAGED_BY_SHADOW_POD}"


def meta_of(obj: Mapping[str, Any] | None) -> dict[str, Any]:
    """``metadata`` of ``obj`` (empty if none)."""
    return dict((obj or {}).get("metadata") or {})


def labels_of(obj: Mapping[str, Any] | None) -> dict[str, str]:
    """``metadata.labels`` of ``obj``."""
    return dict(meta_of(obj).get("labels") or {})


def annotations_of(obj: Mapping[str, Any] | None) -> dict[str, str]:
    """``metadata.annotations`` of ``obj``."""
    return dict(meta_of(obj).get("annotations") or {})


def pod_labels(shadow: Mapping[str, Any]) -> dict[str, str]:
    """The Pod's labels: the ShadowPod's, marked as managed by the shadowpod controller."""
    return {**labels_of(shadow), MANAGED_BY_LABEL: MANAGED_BY_SHADOW_POD}


def owner_reference(shadow: Mapping[str, Any]) -> JSONObject:
    """The controller owner reference to ``shadow``."""
    meta = meta_of(shadow)
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def forge_pod(shadow: Mapping[str, Any], spec: Mapping[str, Any] | None = None) -> JSONObject:
    """The Pod of ``shadow`` (with ``spec``, default: the ShadowPod's ``spec.pod``)."""
    meta = meta_of(shadow)
    metadata: JSONObject = {
        "name": meta["name"],
        "namespace": meta["namespace"],
        "labels": pod_labels(shadow),
        "ownerReferences": [owner_reference(shadow)],
    }
    annotations = annotations_of(shadow)
    if annotations:
        metadata["annotations"] = annotations
    pod_spec = spec if spec is not None else ((shadow.get("spec") or {}).get("pod") or {})
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": copy.deepcopy(dict(pod_spec)),
    }


def controlled_by(pod: Mapping[str, Any], shadow: Mapping[str, Any]) -> bool:
    """Whether ``shadow`` is the controller owner of ``pod``."""
    uid = meta_of(shadow).get("uid")
    return any(
        ref.get("controller") and ref.get("kind") == KIND and ref.get("uid") == uid
        for ref in meta_of(pod).get("ownerReferences") or []
    )


def shadow_owner(pod: Mapping[str, Any]) -> str | None:
    """The ``namespace/name`` key of the ShadowPod controlling ``pod``, if any."""
    meta = meta_of(pod)
    for ref in meta.get("ownerReferences") or []:
        if ref.get("controller") and ref.get("kind") == KIND and ref.get("name"):
            return f"{meta.get('namespace')}/{ref['name']}"
    return None


def metadata_apply(pod: Mapping[str, Any], shadow: Mapping[str, Any]) -> JSONObject | None:
    """The server-side apply body bringing the Pod's labels and annotations to the
    ShadowPod's, or ``None`` when they already are."""
    labels, annotations = pod_labels(shadow), annotations_of(shadow)
    have_labels, have_annotations = labels_of(pod), annotations_of(pod)
    if all(have_labels.get(k) == v for k, v in labels.items()) and all(
        have_annotations.get(k) == v for k, v in annotations.items()
    ):
        return None
    meta = meta_of(pod)
    metadata: JSONObject = {"name": meta["name"], "namespace": meta["namespace"], "labels": labels}
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata}


def pod_phase(pod: Mapping[str, Any] | None) -> str:
    """The phase of ``pod`` (``Unknown`` when it has none)."""
    return str(((pod or {}).get("status") or {}).get("phase") or "Unknown")


def shadow_phase(shadow: Mapping[str, Any]) -> str | None:
    """The phase the ShadowPod reports, if any."""
    phase = (shadow.get("status") or {}).get("phase")
    return str(phase) if phase else None


# --- kubernetes.default host aliases ------------------------------------------------------


def api_service_aliases(spec: Mapping[str, Any]) -> list[int]:
    """Indexes of the host aliases naming the consumer's API service."""
    return [
        i
        for i, alias in enumerate(spec.get("hostAliases") or [])
        if KUBERNETES_API_SERVICE_HOST in (alias.get("hostnames") or [])
    ]


def remap_within(address: str, originals: Sequence[str], remapped: Sequence[str]) -> str | None:
    """``address`` moved from the first of ``originals`` holding it into the index-aligned
    ``remapped`` CIDR (host bits kept); ``None`` when none holds it."""
    ip = ipaddress.ip_address(address)
    for original, target in zip(originals, remapped, strict=False):
        source = ipaddress.ip_network(original, strict=False)
        destination = ipaddress.ip_network(target, strict=False)
        if ip.version == source.version == destination.version and ip in source:
            offset = int(ip) - int(source.network_address)
            return str(ipaddress.ip_address(int(destination.network_address) + offset))
    return None


def remap_api_aliases(spec: Mapping[str, Any], remap: Callable[[str], str]) -> JSONObject:
    """A copy of ``spec`` whose ``kubernetes.default`` host aliases point at ``remap(ip)``."""
    result = copy.deepcopy(dict(spec))
    for i in api_service_aliases(result):
        alias = result["hostAliases"][i]
        if alias.get("ip"):
            alias["ip"] = remap(str(alias["ip"]))
    return result


class NotRemapped(Exception):
    """The peer's network Configuration has no remapped CIDRs yet."""


def configuration_remapper(configuration: Mapping[str, Any]) -> Callable[[str], str]:
    """The address translation of a network Configuration: addresses of the peer's pod
    (then external) CIDRs, as the peer knows them, into their remapped CIDRs here.

    :raises NotRemapped: the Configuration's status does not hold the remapped CIDRs yet.
    """
    spec_cidr = (((configuration.get("spec") or {}).get("remote") or {}).get("cidr")) or {}
    status_cidr = (((configuration.get("status") or {}).get("remote") or {}).get("cidr")) or {}
    pairs = []
    for kind in ("pod", "external"):
        originals = [str(c) for c in spec_cidr.get(kind) or []]
        remapped = [str(c) for c in status_cidr.get(kind) or []]
        if len(remapped) != len(originals) or not all(remapped):
            name = meta_of(configuration).get("name")
            raise NotRemapped(f"the network Configuration {name} has no remapped {kind} CIDRs yet")
        pairs.append((originals, remapped))

    def remap(address: str) -> str:
        for originals, remapped in pairs:
            moved = remap_within(address, originals, remapped)
            if moved is not None:
                return moved
        return address

    return remap
