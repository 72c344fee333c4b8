"""What the provider's NamespaceMap controller wants, computed without the API.

A replicated NamespaceMap (``liqo.io/replicated=true``, ``liqo.io/originID=<C>``) asks for
one *twin* namespace per ``spec.desiredMapping`` entry (local namespace → remote name).
A twin is *managed* by the map when annotated ``liqo.io/managed-by-namespace-map =
<map namespace>/<map name>``; a namespace of that name without the annotation (or
managed by another map) is never touched: the entry stays ``CreationLoopBackOff``.
:func:`plan` turns the desired mapping, the current status and what the cluster holds
into the namespaces to create, keep and delete, and the new ``status.currentMapping``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Final

from liqo_core.api.consts import (
    K8S_APP_MANAGED_BY_LABEL,
    LIQO_APP_VALUE,
    MANAGED_BY_NAMESPACE_MAP_ANNOTATION,
    ORIGINAL_NAME_ANNOTATION,
    REMOTE_CLUSTER_ID_LABEL,
    REPLICATION_ORIGIN_LABEL,
    REPLICATION_STATUS_LABEL,
    VIRTUAL_KUBELET_REMOTE_CLUSTER_ROLE,
)
from liqo_core.kube.names import dns1123_label_problems

JSONObject = dict[str, Any]

ACCEPTED: Final = "Accepted"
CREATION_LOOP_BACK_OFF: Final = "CreationLoopBackOff"
TERMINATING: Final = "Terminating"

#: Selects the NamespaceMaps a peer replicated here (upstream's replicated-resources selector).
REPLICATED_SELECTOR: Final = f"{REPLICATION_STATUS_LABEL}=true,{REPLICATION_ORIGIN_LABEL}"
#: Selects the RoleBindings Liqo manages (those of twin namespaces among them).
BINDING_SELECTOR: Final = f"{K8S_APP_MANAGED_BY_LABEL}={LIQO_APP_VALUE}"
RBAC_GROUP: Final = "rbac.authorization.k8s.io"


def meta_of(obj: Mapping[str, Any] | None) -> dict[str, Any]:
    """``metadata`` of ``obj`` (empty if none)."""
    return dict((obj or {}).get("metadata") or {})


def map_key(nm: Mapping[str, Any]) -> str:
    """``<namespace>/<name>`` of a NamespaceMap: the value of the managed-by annotation."""
    meta = meta_of(nm)
    return f"{meta['namespace']}/{meta['name']}"


def origin_of(nm: Mapping[str, Any]) -> str:
    """The consumer cluster the map was replicated from ('' if unknown)."""
    return str((meta_of(nm).get("labels") or {}).get(REPLICATION_ORIGIN_LABEL) or "")


def managed_by(obj: Mapping[str, Any] | None) -> str | None:
    """The NamespaceMap key an object is managed by (its annotation), if any."""
    value = (meta_of(obj).get("annotations") or {}).get(MANAGED_BY_NAMESPACE_MAP_ANNOTATION)
    return str(value) if value else None


def desired_mapping(nm: Mapping[str, Any]) -> dict[str, str]:
    """``spec.desiredMapping`` (local namespace → remote namespace)."""
    mapping = ((nm.get("spec") or {}).get("desiredMapping")) or {}
    return {str(local): str(remote) for local, remote in mapping.items()}


def current_mapping(nm: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """``status.currentMapping`` (local namespace → ``{remoteNamespace, phase}``)."""
    mapping = ((nm.get("status") or {}).get("currentMapping")) or {}
    return {
        str(local): {
            "remoteNamespace": str((entry or {}).get("remoteNamespace") or ""),
            "phase": str((entry or {}).get("phase") or ""),
        }
        for local, entry in mapping.items()
    }


def twin_namespace(remote: str, local: str, key: str, origin: str) -> JSONObject:
    """The twin namespace ``remote`` of local namespace ``local`` for map ``key``."""
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": remote,
            "labels": {REMOTE_CLUSTER_ID_LABEL: origin},
            "annotations": {
                MANAGED_BY_NAMESPACE_MAP_ANNOTATION: key,
                ORIGINAL_NAME_ANNOTATION: local,
            },
        },
    }


def twin_metadata_patch(namespace: Mapping[str, Any], desired: Mapping[str, Any]) -> JSONObject:
    """The merge patch restoring the labels and annotations a managed twin lost ({} if none)."""
    have, want = meta_of(namespace), meta_of(desired)
    patch: JSONObject = {}
    for part in ("labels", "annotations"):
        current = have.get(part) or {}
        missing = {k: v for k, v in (want.get(part) or {}).items() if current.get(k) != v}
        if missing:
            patch[part] = missing
    return {"metadata": patch} if patch else {}


def role_binding(namespace: str, nm: Mapping[str, Any]) -> JSONObject:
    """The RoleBinding letting the origin's virtual kubelets work in twin ``namespace``:
    Group ``<origin>`` → ClusterRole ``liqo-virtual-kubelet-remote``, named after the
    tenant namespace the map lives in (unique per consumer)."""
    origin = origin_of(nm)
    return {
        "apiVersion": f"{RBAC_GROUP}/v1",
        "kind": "RoleBinding",
        "metadata": {
            "name": meta_of(nm)["namespace"],
            "namespace": namespace,
            "labels": {K8S_APP_MANAGED_BY_LABEL: LIQO_APP_VALUE, REMOTE_CLUSTER_ID_LABEL: origin},
            "annotations": {MANAGED_BY_NAMESPACE_MAP_ANNOTATION: map_key(nm)},
        },
        "subjects": [{"apiGroup": RBAC_GROUP, "kind": "Group", "name": origin}],
        "roleRef": {
            "apiGroup": RBAC_GROUP,
            "kind": "ClusterRole",
            "name": VIRTUAL_KUBELET_REMOTE_CLUSTER_ROLE,
        },
    }


def role_binding_patch(existing: Mapping[str, Any], desired: Mapping[str, Any]) -> JSONObject:
    """The merge patch bringing ``existing`` to ``desired`` ({} if none is needed); the
    roleRef is immutable, compare it with :func:`same_role`."""
    patch = twin_metadata_patch(existing, desired)
    if existing.get("subjects") != desired["subjects"]:
        patch["subjects"] = desired["subjects"]
    return patch


def same_role(existing: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    """Whether ``existing`` binds the role ``desired`` binds."""
    return bool(dict(existing.get("roleRef") or {}) == desired["roleRef"])


def foreign(remote: str, key: str) -> str:
    """Why an entry is refused when its name is taken by a namespace map ``key`` does not manage."""
    return f"namespace {remote!r} already exists and is not managed by NamespaceMap {key}"


class Twin(Enum):
    """What the cluster holds under a twin's name."""

    ABSENT = "absent"
    MANAGED = "managed"
    MANAGED_TERMINATING = "managed, terminating"
    FOREIGN = "foreign"


def twin_state(namespace: Mapping[str, Any] | None, key: str) -> Twin:
    """The state of ``namespace`` (``None``: absent) for map ``key``."""
    if namespace is None:
        return Twin.ABSENT
    if managed_by(namespace) != key:
        return Twin.FOREIGN
    return Twin.MANAGED_TERMINATING if meta_of(namespace).get("deletionTimestamp") else Twin.MANAGED


@dataclass
class Plan:
    """What to do for one NamespaceMap, and the status it should then show."""

    #: (local, remote) twins to create.
    create: list[tuple[str, str]] = field(default_factory=list)
    #: (local, remote) twins that exist and are ours: keep their RoleBinding and labels.
    keep: list[tuple[str, str]] = field(default_factory=list)
    #: Twins of ours to delete.
    delete: list[str] = field(default_factory=list)
    #: (local, remote, why) entries that cannot be created now.
    blocked: list[tuple[str, str, str]] = field(default_factory=list)
    #: The new ``status.currentMapping``.
    status: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def settled(self) -> bool:
        """Whether nothing of the map remains in the cluster (a deleted map may go)."""
        return not self.status and not self.delete


def entry(remote: str, phase: str) -> dict[str, str]:
    """One ``status.currentMapping`` value."""
    return {"remoteNamespace": remote, "phase": phase}


def plan(
    nm: Mapping[str, Any],
    namespaces: Mapping[str, Mapping[str, Any]],
    managed: Mapping[str, Mapping[str, Any]],
    *,
    deleting: bool = False,
) -> Plan:
    """The plan for ``nm`` given ``namespaces`` (by name: at least every desired remote
    namespace that exists) and ``managed`` (by name: every namespace the map manages).

    A deleted map (``deleting``) wants nothing: its twins are deleted, each entry showing
    ``Terminating`` until its namespace is gone.
    """
    key = map_key(nm)
    desired = {} if deleting else desired_mapping(nm)
    current = current_mapping(nm)
    result = Plan()
    wanted: set[str] = set()
    for local, remote in sorted(desired.items()):
        problems = dns1123_label_problems(remote)
        if problems:
            why = f"{remote!r} is not a valid namespace name: {'; '.join(problems)}"
            result.blocked.append((local, remote, why))
            result.status[local] = entry(remote, CREATION_LOOP_BACK_OFF)
            continue
        if remote in wanted:
            why = f"namespace {remote!r} is the twin of another local namespace of this map"
            result.blocked.append((local, remote, why))
            result.status[local] = entry(remote, CREATION_LOOP_BACK_OFF)
            continue
        wanted.add(remote)
        state = twin_state(namespaces.get(remote), key)
        if state is Twin.ABSENT:
            result.create.append((local, remote))
            result.status[local] = entry(remote, ACCEPTED)
        elif state is Twin.MANAGED:
            result.keep.append((local, remote))
            result.status[local] = entry(remote, ACCEPTED)
        elif state is Twin.MANAGED_TERMINATING:
            # Deleted by hand (or an entry added back): recreated once gone; meanwhile an
            # accepted entry keeps its phase, as upstream does for transient failures.
            before = current.get(local)
            accepted = before == entry(remote, ACCEPTED)
            result.status[local] = entry(remote, ACCEPTED if accepted else CREATION_LOOP_BACK_OFF)
        else:
            result.blocked.append((local, remote, foreign(remote, key)))
            result.status[local] = entry(remote, CREATION_LOOP_BACK_OFF)
    for name, namespace in sorted(managed.items()):
        if name in wanted:
            continue
        if not meta_of(namespace).get("deletionTimestamp"):
            result.delete.append(name)
        local = str(
            (meta_of(namespace).get("annotations") or {}).get(ORIGINAL_NAME_ANNOTATION) or ""
        )
        owner = next((loc for loc, e in current.items() if e["remoteNamespace"] == name), local)
        if owner and owner not in result.status:
            result.status[owner] = entry(name, TERMINATING)
    return result


def status_patch(nm: Mapping[str, Any], wanted: Mapping[str, Mapping[str, str]]) -> JSONObject:
    """The merge patch of the status subresource turning the map's current mapping into
    ``wanted`` (removed entries set to null), or {} when they are equal."""
    current = current_mapping(nm)
    if current == {k: dict(v) for k, v in wanted.items()}:
        return {}
    mapping: dict[str, Any] = {local: None for local in current if local not in wanted}
    mapping.update({local: dict(entry) for local, entry in wanted.items()})
    return {"status": {"currentMapping": mapping}}
