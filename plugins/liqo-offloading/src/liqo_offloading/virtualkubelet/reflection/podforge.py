"""Pure pod forging (upstream ``pkg/virtualKubelet/forge/pods.go``): the ShadowPod made
of a local pod, and the local pod's status made of the remote pod's.

The remote spec copies only what can run anywhere: scheduling constraints (nodeSelector,
affinity, schedulerName, priority, nodeName) are dropped, the host namespaces forced off,
the virtual-node toleration removed (no recursive offloading); then the VirtualNode's
offloading patch (nodeSelector, tolerations, node affinity), the anti-affinity presets and
the runtime class are applied. Service-account tokens are not reflected yet (upstream's
API-server support ``Disabled``): token projections are dropped, the service account name
cleared and ``automountServiceAccountToken`` false, unless the pod asks for ``remote``
support through ``liqo.io/api-server-support`` (the provider then mounts its own tokens).
The spec is forged once: a ShadowPod's spec is never changed after its creation.

One deliberate difference with upstream: an anti-affinity preset adds its
``podAntiAffinity`` next to the patch's node affinity instead of replacing the affinity.
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Callable, Mapping
from typing import Any

from liqo_core.api.consts import (
    ANTI_AFFINITY_LABELS_ANNOTATION,
    ANTI_AFFINITY_PRESET_ANNOTATION,
    API_SERVER_SUPPORT_ANNOTATION,
    LIQO_RUNTIME_CLASS,
    REFLECTION_NODE_NAME_LABEL,
    REMOTE_RUNTIME_CLASS_ANNOTATION,
    REMOTE_SERVICE_ACCOUNT_NAME_ANNOTATION,
    SHADOW_POD_LABEL,
    VIRTUAL_NODE_TAINT_KEY,
)
from liqo_offloading.virtualkubelet.options import RemoteCIDRs
from liqo_offloading.virtualkubelet.reflection.forge import (
    ForgingOptions,
    Identity,
    JSONObject,
    annotations_of,
    labels_of,
    meta_of,
    without_keys,
)

#: Reasons set on local pods (upstream forge constants).
OFFLOADING_BACKOFF = "OffloadingBackOff"
OFFLOADING_ABORTED = "OffloadingAborted"
REMOTE_POD_TERMINATED = "RemotePodTerminated"

SHADOW_POD_API_VERSION = "offloading.liqo.io/v1beta1"
ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
TERMINAL_PHASES = ("Succeeded", "Failed")

#: PodSpec fields a remote pod takes from the local one, unchanged.
_COPIED_FIELDS = (
    "containers",
    "initContainers",
    "volumes",
    "activeDeadlineSeconds",
    "dnsConfig",
    "dnsPolicy",
    "enableServiceLinks",
    "hostAliases",
    "hostname",
    "imagePullSecrets",
    "readinessGates",
    "restartPolicy",
    "securityContext",
    "serviceAccountName",
    "setHostnameAsFQDN",
    "shareProcessNamespace",
    "subdomain",
    "terminationGracePeriodSeconds",
    "topologySpreadConstraints",
)
#: Labels left out of the anti-affinity selectors by default (they differ per replica).
_PER_REPLICA_LABELS = (
    "controller-revision-hash",
    "pod-template-hash",
    "statefulset.kubernetes.io/pod-name",
)


def remote_configmap_name(name: str, home_cluster_id: str) -> str:
    """The provider-side name of a local ConfigMap: the root CA one gets the first five
    characters of the home cluster id (plus an ``a`` if that ends on a non-alphanumeric),
    so that it does not collide with the provider's own."""
    if name != ROOT_CA_CONFIGMAP:
        return name
    remote = f"{ROOT_CA_CONFIGMAP}.{home_cluster_id[:5]}"
    return remote if remote[-1].isalnum() and remote[-1].isascii() else remote + "a"


def api_server_support(annotations: Mapping[str, str]) -> str:
    """``Remote`` when the pod asks the provider to mount its own tokens, else
    ``Disabled`` (the only other mode implemented so far)."""
    return "Remote" if annotations.get(API_SERVER_SUPPORT_ANNOTATION) == "remote" else "Disabled"


def remote_tolerations(tolerations: list[JSONObject] | None) -> list[JSONObject]:
    """The local tolerations but the virtual node's one."""
    return [copy.deepcopy(t) for t in tolerations or () if t.get("key") != VIRTUAL_NODE_TAINT_KEY]


def remote_volumes(volumes: list[JSONObject], home_cluster_id: str) -> list[JSONObject]:
    """Volumes with token projections removed and root CA ConfigMaps renamed (API-server
    support disabled)."""
    result = copy.deepcopy(volumes)
    for volume in result:
        projected = volume.get("projected")
        if not projected:
            continue
        sources = []
        for source in projected.get("sources") or ():
            if source.get("serviceAccountToken") is not None:
                continue
            if source.get("configMap") is not None and source["configMap"].get("name"):
                source["configMap"]["name"] = remote_configmap_name(
                    source["configMap"]["name"], home_cluster_id
                )
            sources.append(source)
        projected["sources"] = sources
    return result


def anti_affinity_labels(labels: Mapping[str, str], allowed: str) -> dict[str, str]:
    """The labels the anti-affinity presets select on: ``allowed`` (comma-separated
    keys) when given, else every label but the per-replica ones."""
    if allowed:
        keys = {key.strip() for key in allowed.split(",")}
        return {k: v for k, v in labels.items() if k in keys}
    return without_keys(labels, _PER_REPLICA_LABELS)


def _anti_affinity(
    preset: str, local_spec: JSONObject, labels: Mapping[str, str]
) -> JSONObject | None:
    """The podAntiAffinity of preset ``preset`` (None: no preset, or nothing to propagate)."""
    if preset == "propagate":
        found = (local_spec.get("affinity") or {}).get("podAntiAffinity")
        return copy.deepcopy(found) if found else None
    term = {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": dict(labels)}}
    if preset == "soft":
        return {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 1, "podAffinityTerm": term}
            ]
        }
    if preset == "hard":
        return {"requiredDuringSchedulingIgnoredDuringExecution": [term]}
    return None


def runtime_class(local: Mapping[str, Any], forging: ForgingOptions) -> str | None:
    """The remote runtime class: the ``liqo.io/remote-runtime-class-name`` annotation, else
    the pod's own (unless ``liqo``), else the offloading patch's (unless ``liqo``)."""
    annotated = annotations_of(local).get(REMOTE_RUNTIME_CLASS_ANNOTATION)
    if annotated:
        return annotated
    own = (local.get("spec") or {}).get("runtimeClassName")
    if own and own != LIQO_RUNTIME_CLASS:
        return str(own)
    patched = forging.runtime_class_name
    return patched if patched and patched != LIQO_RUNTIME_CLASS else None


def remote_pod_spec(
    local: Mapping[str, Any],
    forging: ForgingOptions,
    home_cluster_id: str,
    labels: Mapping[str, str],
) -> JSONObject:
    """The PodSpec of the ShadowPod of ``local`` (``labels``: the reflected labels, for
    the anti-affinity presets)."""
    local_spec: JSONObject = dict(local.get("spec") or {})
    annotations = annotations_of(local)
    spec: JSONObject = {k: copy.deepcopy(local_spec[k]) for k in _COPIED_FIELDS if k in local_spec}
    tolerations = remote_tolerations(local_spec.get("tolerations"))
    spec["automountServiceAccountToken"] = False
    spec["hostIPC"] = spec["hostNetwork"] = spec["hostPID"] = False

    if api_server_support(annotations) == "Remote":
        remote_sa = annotations.get(REMOTE_SERVICE_ACCOUNT_NAME_ANNOTATION)
        if remote_sa is not None:
            spec["serviceAccountName"] = remote_sa
        spec["automountServiceAccountToken"] = True
    else:
        if "volumes" in spec:
            spec["volumes"] = remote_volumes(spec["volumes"], home_cluster_id)
        spec.pop("serviceAccountName", None)

    if forging.node_selector:
        spec["nodeSelector"] = dict(forging.node_selector)
    tolerations += [copy.deepcopy(t) for t in forging.tolerations]
    if tolerations:
        spec["tolerations"] = tolerations
    node_affinity = (forging.affinity or {}).get("nodeAffinity")
    if node_affinity:  # the local affinity is never copied: the patch's is the only one
        spec["affinity"] = {"nodeAffinity": copy.deepcopy(node_affinity)}

    preset = annotations.get(ANTI_AFFINITY_PRESET_ANNOTATION, "")
    allowed = annotations.get(ANTI_AFFINITY_LABELS_ANNOTATION, "")
    anti = _anti_affinity(preset, local_spec, anti_affinity_labels(labels, allowed))
    if anti is not None:
        spec.setdefault("affinity", {})["podAntiAffinity"] = anti

    chosen = runtime_class(local, forging)
    if chosen:
        spec["runtimeClassName"] = chosen
    return spec


def shadow_metadata(
    local: Mapping[str, Any], forging: ForgingOptions, identity: Identity
) -> tuple[dict[str, str], dict[str, str]]:
    """Labels and annotations of the ShadowPod of ``local``: the local ones but those not
    reflected and the offloaded-pod mark, plus the reflection labels and the node name."""
    labels = without_keys(labels_of(local), (SHADOW_POD_LABEL,))
    labels[REFLECTION_NODE_NAME_LABEL] = identity.node_name
    labels = without_keys(labels, forging.labels_not_reflected)
    labels.update(identity.reflection_labels())
    annotations = without_keys(annotations_of(local), forging.annotations_not_reflected)
    return labels, annotations


def remote_shadow_pod(
    local: Mapping[str, Any], namespace: str, forging: ForgingOptions, identity: Identity
) -> JSONObject:
    """The ShadowPod (in ``namespace`` on the provider) reflecting ``local``."""
    labels, annotations = shadow_metadata(local, forging, identity)
    own = without_keys(labels, identity.reflection_labels())  # the anti-affinity selectors
    metadata: JSONObject = {
        "name": meta_of(local)["name"],
        "namespace": namespace,
        "labels": labels,
    }
    if annotations:
        metadata["annotations"] = annotations
    return {
        "apiVersion": SHADOW_POD_API_VERSION,
        "kind": "ShadowPod",
        "metadata": metadata,
        "spec": {"pod": remote_pod_spec(local, forging, identity.home_cluster_id, own)},
    }


# --- Status: remote -> local -------------------------------------------------------------------


def remap_address(address: str, cidrs: RemoteCIDRs | None) -> str:
    """The address of a provider pod as this cluster reaches it: moved from the first
    provider pod (then external) CIDR holding it into its remapped CIDR; unchanged when
    none holds it or there is no remapping.

    :raises ValueError: ``address`` is not an IP.
    """
    ip = ipaddress.ip_address(address)
    if cidrs is None:
        return address
    for pair in (cidrs.pod, cidrs.external):
        for original, remapped in zip(pair.original, pair.remapped, strict=False):
            source = ipaddress.ip_network(original, strict=False)
            target = ipaddress.ip_network(remapped, strict=False)
            if ip.version == source.version == target.version and ip in source:
                offset = int(ip) - int(source.network_address)
                return str(ipaddress.ip_address(int(target.network_address) + offset))
    return address


def local_pod_status(
    remote_status: Mapping[str, Any],
    *,
    translate: Callable[[str], str],
    restarts: int,
    node_ip: str,
    hide_ip: bool = False,
) -> JSONObject:
    """The local pod's status from the remote pod's: pod IP translated (removed when
    ``hide_ip``), host IP the virtual kubelet's, restart counts raised by ``restarts``
    (the remote pod re-creations)."""
    status = copy.deepcopy(dict(remote_status))
    pod_ip = status.get("podIP")
    if pod_ip:
        status["podIP"] = translate(str(pod_ip))
        status["podIPs"] = [{"ip": status["podIP"]}]
    if hide_ip:
        status.pop("podIP", None)
        status.pop("podIPs", None)
    if node_ip:
        status["hostIP"] = node_ip
        status["hostIPs"] = [{"ip": node_ip}]
    else:
        status.pop("hostIP", None)
        status.pop("hostIPs", None)
    for container in status.get("containerStatuses") or ():
        container["restartCount"] = int(container.get("restartCount") or 0) + restarts
    return status


def terminate_container(container: JSONObject, phase: str, reason: str) -> None:
    """Mark a container status not ready and, for a terminal ``phase``, terminated (exit
    code 0 on success, 1 on failure) unless it terminated already."""
    container["ready"] = False
    state = container.get("state") or {}
    if phase in TERMINAL_PHASES and not state.get("terminated"):
        code = 0 if phase == "Succeeded" else 1
        container["state"] = {"terminated": {"exitCode": code, "reason": reason}}


def rejected_pod_status(status: Mapping[str, Any], phase: str, reason: str, now: str) -> JSONObject:
    """A local pod's status once the virtual kubelet refuses (or stops) running it:
    ``phase`` and ``reason``, true conditions turned false, containers not ready."""
    result = copy.deepcopy(dict(status))
    result["phase"], result["reason"] = phase, reason
    for condition in result.get("conditions") or ():
        if condition.get("status") == "True":
            condition.update(status="False", reason=reason, lastTransitionTime=now)
    for key in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"):
        for container in result.get(key) or ():
            terminate_container(container, phase, reason)
    return result


def not_ready(status: JSONObject, now: str) -> JSONObject:
    """``status`` with the Ready condition false (the provider is unavailable)."""
    conditions = status.setdefault("conditions", [])
    for condition in conditions:
        if condition.get("type") == "Ready":
            condition["status"] = "False"
            return status
    conditions.append({"type": "Ready", "status": "False", "lastTransitionTime": now})
    return status


def infer_additional_restarts(
    local_status: Mapping[str, Any], remote_status: Mapping[str, Any]
) -> int:
    """Restarts the local pod counts beyond the remote pod (its earlier incarnations),
    judged on the first container: what a restarted virtual kubelet resumes from."""
    local = local_status.get("containerStatuses") or []
    if not local:
        return 0
    first = local[0]
    for remote in remote_status.get("containerStatuses") or ():
        if remote.get("name") == first.get("name"):
            difference = int(first.get("restartCount") or 0) - int(remote.get("restartCount") or 0)
            return max(difference, 0)
    return 0
