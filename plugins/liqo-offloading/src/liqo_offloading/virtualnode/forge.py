"""The objects a VirtualNode stands for, forged from it and its VkOptionsTemplate (pure).

The virtual kubelet Deployment follows the shared contract (the ``virtual-kubelet`` role
parses it): Deployment ``vk-<vn>`` in the VirtualNode's namespace, ServiceAccount
``<vn>``, container ``virtual-kubelet`` running ``liqo virtual-kubelet`` with upstream's
flags, the template's ``extraArgs`` last (so they win). A VirtualNode's
``spec.template`` overrides the template as upstream's webhook does: its labels and
annotations, its first container's image, resources and node/metrics flags, and the
values of the ``extraArgs`` it repeats.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from liqo_core.api.consts import (
    K8S_APP_NAME_LABEL,
    OFFLOADING_COMPONENT_LABEL,
    OFFLOADING_PATCH_HASH_ANNOTATION,
    REMOTE_CLUSTER_ID_LABEL,
    REPLICATION_DESTINATION_LABEL,
    REPLICATION_REQUESTED_LABEL,
    VIRTUAL_KUBELET_COMPONENT,
    VIRTUAL_NODE_LABEL,
)
from liqo_offloading.virtualnode import names
from liqo_offloading.virtualnode.names import (
    APP_NAME,
    COMMAND,
    CONTAINER_NAME,
    DEFAULT_METRICS_ADDRESS,
    K8S_APP_INSTANCE_LABEL,
    K8S_APP_MANAGED_BY_LABEL,
    LOCAL_CLUSTER_ROLE,
    TEMPLATE_HASH_ANNOTATION,
)

JSONObject = dict[str, Any]

#: Reflectors whose workers (and, for some, policy) the virtual kubelet takes as flags,
#: in upstream's order (``pkg/virtualKubelet/reflection/resources``).
REFLECTORS = (
    "pod", "service", "endpointslice", "ingress", "configmap", "secret", "serviceaccount",
    "persistentvolumeclaim", "event",
)  # fmt: skip
TYPED_REFLECTORS = ("service", "ingress", "configmap", "secret", "event")


class ForgeError(ValueError):
    """The VirtualNode cannot be turned into a virtual kubelet (message fit for status)."""


@dataclass(frozen=True)
class Site:
    """Facts about this cluster the virtual kubelet is told."""

    home_cluster_id: str
    liqo_namespace: str
    local_pod_cidrs: Sequence[str] = ()


@dataclass(frozen=True)
class Behaviour:
    """The effective switches of one VirtualNode (after defaulting)."""

    create_node: bool
    disable_network_check: bool
    offloading_patch: JSONObject = field(default_factory=dict)


def meta_of(obj: Mapping[str, Any]) -> JSONObject:
    """``metadata`` of ``obj``."""
    return dict(obj.get("metadata") or {})


def owner_reference(vn: Mapping[str, Any], *, controller: bool = True) -> JSONObject:
    """An owner reference to VirtualNode ``vn``."""
    meta = meta_of(vn)
    return {
        "apiVersion": "offloading.liqo.io/v1beta1",
        "kind": "VirtualNode",
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": controller,
    }


def arg(key: str, value: object) -> str:
    """``key=value`` (booleans lower-case, as Go prints them)."""
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return f"{key}={text}"


def split_arg(argument: str) -> tuple[str, str | None]:
    """(key, value) of ``--key=value`` (value None for a bare flag)."""
    key, sep, value = argument.partition("=")
    return key, (value if sep else None)


def string_map(values: Mapping[str, str]) -> str:
    """``k=v,k2=v2`` sorted by key (a stable flag value)."""
    return ",".join(f"{k}={v}" for k, v in sorted(values.items()))


def parse_string_map(text: str) -> dict[str, str]:
    """The map of a ``k=v,k2=v2`` flag value (malformed items are skipped)."""
    pairs = (item.partition("=") for item in text.split(",") if item)
    return {k: v for k, sep, v in pairs if sep and k}


def options(template_spec: Mapping[str, Any], vn_template: Mapping[str, Any] | None) -> JSONObject:
    """The VkOptionsTemplate spec after the overrides a VirtualNode's ``spec.template``
    carries (upstream's ``overrideVKOptionsFromExistingVirtualNode``)."""
    opts: JSONObject = json.loads(json.dumps(dict(template_spec)))  # a deep copy
    if not vn_template:
        return opts
    meta = vn_template.get("metadata") or {}
    for source, target in (("labels", "extraLabels"), ("annotations", "extraAnnotations")):
        if meta.get(source):
            opts[target] = {**(opts.get(target) or {}), **meta[source]}
    pod = ((vn_template.get("spec") or {}).get("template") or {}).get("spec") or {}
    containers = pod.get("containers") or []
    if not containers:
        return opts
    container = containers[0]
    if container.get("image"):
        opts["containerImage"] = container["image"]
    resources = container.get("resources") or {}
    if resources.get("limits") or resources.get("requests"):
        merged = dict(opts.get("resources") or {})
        for kind in ("limits", "requests"):
            if resources.get(kind):
                merged[kind] = {**(merged.get(kind) or {}), **resources[kind]}
        opts["resources"] = merged
    _override_from_args(opts, list(container.get("args") or []))
    return opts


def _override_from_args(opts: JSONObject, args: list[str]) -> None:
    given = dict(split_arg(a) for a in args)
    for key, target in (
        ("--node-extra-annotations", "nodeExtraAnnotations"),
        ("--node-extra-labels", "nodeExtraLabels"),
    ):
        if given.get(key):
            opts[target] = {**(opts.get(target) or {}), **parse_string_map(given[key] or "")}
    if "--metrics-enabled" in given:
        opts["metricsEnabled"] = (given["--metrics-enabled"] or "true").lower() == "true"
    if given.get("--metrics-address"):
        opts["metricsAddress"] = given["--metrics-address"]
    extra = list(opts.get("extraArgs") or [])
    by_key = {split_arg(a)[0]: a for a in args}
    opts["extraArgs"] = [by_key.get(split_arg(a)[0], a) for a in extra]


def offloading_patch_hash(patch: Mapping[str, Any]) -> str:
    """The hash the pod template carries, so that a new patch rolls the virtual kubelet
    (empty for an empty patch, as upstream's for none)."""
    if not patch:
        return ""
    return hashlib.sha256(canonical(patch).encode()).hexdigest()


def canonical(obj: Any) -> str:
    """A stable JSON text of ``obj`` (sorted keys, no spaces)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def _default_class(classes: Iterable[Mapping[str, Any]], key: str) -> str | None:
    items = [c for c in classes if c.get(key)]
    if not items:
        return None
    chosen = next((c for c in items if c.get("default")), items[0])
    return str(chosen[key])


def kubelet_args(
    vn: Mapping[str, Any], opts: Mapping[str, Any], site: Site, behaviour: Behaviour
) -> list[str]:
    """The virtual kubelet's arguments (contract 1 of the offloading brief)."""
    meta, spec = meta_of(vn), dict(vn.get("spec") or {})
    args = [arg("--foreign-cluster-id", spec["clusterID"])]
    secret = (spec.get("kubeconfigSecretRef") or {}).get("name")
    if secret:
        args.append(arg("--foreign-kubeconfig-secret-name", secret))
    args += [
        arg("--nodename", meta["name"]),
        arg("--node-ip", "$(POD_IP)"),
        arg("--tenant-namespace", meta["namespace"]),
        arg("--liqo-namespace", site.liqo_namespace),
        arg("--home-cluster-id", site.home_cluster_id),
    ]
    args += [arg("--local-podcidr", cidr) for cidr in site.local_pod_cidrs]
    args += [
        arg("--create-node", behaviour.create_node),
        arg("--node-check-network", not behaviour.disable_network_check),
    ]
    for classes, key, flag, name_flag in (
        ("storageClasses", "storageClassName", "--enable-storage",
         "--remote-real-storage-class-name"),
        ("ingressClasses", "ingressClassName", "--enable-ingress",
         "--remote-real-ingress-class-name"),
        ("loadBalancerClasses", "loadBalancerClassName", "--enable-load-balancer",
         "--remote-real-load-balancer-class-name"),
    ):  # fmt: skip
        chosen = _default_class(spec.get(classes) or [], key)
        if chosen is not None:
            args += [flag, arg(name_flag, chosen)]
    if opts.get("nodeExtraLabels"):
        args.append(arg("--node-extra-labels", string_map(opts["nodeExtraLabels"])))
    if opts.get("nodeExtraAnnotations"):
        args.append(arg("--node-extra-annotations", string_map(opts["nodeExtraAnnotations"])))
    if opts.get("metricsEnabled"):
        args += ["--metrics-enabled", arg("--metrics-address", metrics_address(opts))]
    reflectors = opts.get("reflectorsConfig") or {}
    for kind in REFLECTORS:
        if kind in reflectors:
            args.append(arg(f"--{kind}-reflection-workers", int(reflectors[kind]["workers"])))
    for kind in TYPED_REFLECTORS:
        if kind in reflectors and reflectors[kind].get("type"):
            args.append(arg(f"--{kind}-reflection-type", reflectors[kind]["type"]))
    return args + [str(a) for a in opts.get("extraArgs") or []]


def metrics_address(opts: Mapping[str, Any]) -> str:
    """Where the virtual kubelet serves its metrics."""
    return str(opts.get("metricsAddress") or DEFAULT_METRICS_ADDRESS)


def _metrics_port(address: str) -> int:
    try:
        return int(address.rpartition(":")[2])
    except ValueError:
        return int(DEFAULT_METRICS_ADDRESS.rpartition(":")[2])


def selector_labels(vn: Mapping[str, Any]) -> dict[str, str]:
    """The labels the Deployment selects its pods by (never changed once created)."""
    return {
        K8S_APP_NAME_LABEL: APP_NAME,
        K8S_APP_INSTANCE_LABEL: names.instance_label(meta_of(vn)["name"]),
    }


def kubelet_labels(vn: Mapping[str, Any]) -> dict[str, str]:
    """Labels of the virtual kubelet's Deployment and pods (before the template's)."""
    meta = meta_of(vn)
    return {
        **selector_labels(vn),
        REMOTE_CLUSTER_ID_LABEL: str((vn.get("spec") or {})["clusterID"]),
        OFFLOADING_COMPONENT_LABEL: VIRTUAL_KUBELET_COMPONENT,
        VIRTUAL_NODE_LABEL: names.label_value(meta["name"]),
    }


def deployment(
    vn: Mapping[str, Any], template_spec: Mapping[str, Any], site: Site, behaviour: Behaviour
) -> JSONObject:
    """The virtual kubelet Deployment of ``vn`` (with the hash of itself as annotation).

    :raises ForgeError: the template names no image.
    """
    meta, spec = meta_of(vn), dict(vn.get("spec") or {})
    if not spec.get("clusterID"):
        raise ForgeError("spec.clusterID is empty")
    if not site.home_cluster_id:
        raise ForgeError("this cluster's id is unknown: set clusterID in the settings")
    opts = options(template_spec, spec.get("template"))
    image = opts.get("containerImage")
    if not image:
        raise ForgeError("the VkOptionsTemplate has no containerImage")
    labels = {**(opts.get("extraLabels") or {}), **kubelet_labels(vn)}
    annotations = dict(opts.get("extraAnnotations") or {})
    container: JSONObject = {
        "name": CONTAINER_NAME,
        "image": image,
        "imagePullPolicy": opts.get("pullPolicy") or "IfNotPresent",
        "command": list(COMMAND),
        "args": kubelet_args(vn, opts, site, behaviour),
        "env": [
            _field_env("POD_IP", "status.podIP"),
            _field_env("POD_NAME", "metadata.name"),
            _field_env("POD_NAMESPACE", "metadata.namespace"),
            {"name": "VIRTUALNODE_NAME", "value": meta["name"]},
            # The role needs no module: loading none keeps the process small.
            {"name": "LIQO_MODULES", "value": ""},
        ],
    }
    if opts.get("resources"):
        container["resources"] = opts["resources"]
    if opts.get("metricsEnabled"):
        port = _metrics_port(metrics_address(opts))
        container["ports"] = [{"name": "metrics", "containerPort": port, "protocol": "TCP"}]
    pod: JSONObject = {"serviceAccountName": meta["name"], "containers": [container]}
    if opts.get("imagePullSecrets"):
        pod["imagePullSecrets"] = opts["imagePullSecrets"]
    if opts.get("tolerations"):
        pod["tolerations"] = opts["tolerations"]
    pod_annotations = {
        **annotations,
        OFFLOADING_PATCH_HASH_ANNOTATION: offloading_patch_hash(behaviour.offloading_patch),
    }
    replicas = opts.get("replicas")
    body: JSONObject = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": names.deployment_name(meta["name"]),
            "namespace": meta["namespace"],
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [owner_reference(vn)],
        },
        "spec": {
            "replicas": 1 if replicas is None else int(replicas),
            "selector": {"matchLabels": selector_labels(vn)},
            "template": {
                "metadata": {"labels": labels, "annotations": pod_annotations},
                "spec": pod,
            },
        },
    }
    body["metadata"]["annotations"] = {**annotations, TEMPLATE_HASH_ANNOTATION: template_hash(body)}
    return body


def template_hash(body: Mapping[str, Any]) -> str:
    """A short hash of a forged object (its hash annotation left out)."""
    meta = dict(body.get("metadata") or {})
    annotations = {
        k: v for k, v in (meta.get("annotations") or {}).items() if k != TEMPLATE_HASH_ANNOTATION
    }
    stripped = {**body, "metadata": {**meta, "annotations": annotations}}
    return hashlib.sha256(canonical(stripped).encode()).hexdigest()[:16]


def _field_env(name: str, path: str) -> JSONObject:
    return {"name": name, "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": path}}}


def service_account(vn: Mapping[str, Any]) -> JSONObject:
    """The virtual kubelet's ServiceAccount (named like the VirtualNode, owned by it)."""
    meta = meta_of(vn)
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "labels": {
                REMOTE_CLUSTER_ID_LABEL: str((vn.get("spec") or {})["clusterID"]),
                OFFLOADING_COMPONENT_LABEL: VIRTUAL_KUBELET_COMPONENT,
            },
            "ownerReferences": [owner_reference(vn)],
        },
    }


#: Annotation of the ClusterRoleBinding naming its VirtualNode (``namespace/name``): a
#: cluster-scoped object cannot be owned by a namespaced one.
VIRTUAL_NODE_ANNOTATION = "offloading.liqo.io/virtual-node"


def cluster_role_binding(vn: Mapping[str, Any]) -> JSONObject:
    """``liqo-node-<vn>``: the ServiceAccount bound to ``liqo-virtual-kubelet-local``."""
    meta = meta_of(vn)
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {
            "name": names.cluster_role_binding_name(meta["name"]),
            "labels": {
                K8S_APP_MANAGED_BY_LABEL: "liqo",
                REMOTE_CLUSTER_ID_LABEL: str((vn.get("spec") or {})["clusterID"]),
            },
            "annotations": {VIRTUAL_NODE_ANNOTATION: f"{meta['namespace']}/{meta['name']}"},
        },
        "subjects": [
            {"kind": "ServiceAccount", "name": meta["name"], "namespace": meta["namespace"]}
        ],
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": LOCAL_CLUSTER_ROLE,
        },
    }


def namespace_map_labels(cluster_id: str) -> dict[str, str]:
    """The labels of a peer's NamespaceMap (contract 2: replicated to the peer)."""
    return {
        REMOTE_CLUSTER_ID_LABEL: cluster_id,
        REPLICATION_REQUESTED_LABEL: "true",
        REPLICATION_DESTINATION_LABEL: cluster_id,
    }


def namespace_map(cluster_id: str, namespace: str) -> JSONObject:
    """The NamespaceMap of peer ``cluster_id`` (named after it) in ``namespace``."""
    return {
        "apiVersion": "offloading.liqo.io/v1beta1",
        "kind": "NamespaceMap",
        "metadata": {
            "name": cluster_id,
            "namespace": namespace,
            "labels": namespace_map_labels(cluster_id),
        },
        "spec": {},
    }
