"""The admission rules of Tenants and ResourceSlices (upstream §3.3, §3.4), as pure checks.

Each check returns the reasons to refuse the request (empty: admitted), each naming the
rule and the field. :mod:`liqo_auth.webhooks` reads what they need from the cluster and
answers the API server with them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from liqo_auth.crypto import CONTROL_PLANE_ORGANIZATION
from liqo_core.api.consts import (
    CORDON_ANNOTATION,
    CORDON_TENANT_ANNOTATION,
    REMOTE_CLUSTER_ID_LABEL,
    REPLICATION_ORIGIN_LABEL,
    REPLICATION_STATUS_LABEL,
    TENANT_NAMESPACE_LABEL,
)

JSON = Mapping[str, Any]

#: The annotations only the provider may set on a ResourceSlice.
CORDON_ANNOTATIONS = (CORDON_ANNOTATION, CORDON_TENANT_ANNOTATION)
#: ResourceSlice spec fields that keep their first value.
IMMUTABLE_SLICE_IDS = ("consumerClusterID", "providerClusterID")


def _meta(obj: JSON | None) -> JSON:
    return (obj or {}).get("metadata") or {}


def labels_of(obj: JSON | None) -> dict[str, str]:
    """The object's labels."""
    return dict(_meta(obj).get("labels") or {})


def annotations_of(obj: JSON | None) -> dict[str, str]:
    """The object's annotations."""
    return dict(_meta(obj).get("annotations") or {})


def spec_of(obj: JSON | None) -> JSON:
    return (obj or {}).get("spec") or {}


def is_replicated(obj: JSON | None) -> bool:
    """Whether ``obj`` is a copy a peer's replicator keeps (``replicated=true`` + origin)."""
    labels = labels_of(obj)
    return labels.get(REPLICATION_STATUS_LABEL) == "true" and bool(
        labels.get(REPLICATION_ORIGIN_LABEL)
    )


@dataclass(frozen=True)
class Requester:
    """Who sends the request (``AdmissionReview.request.userInfo``)."""

    username: str
    groups: tuple[str, ...]

    @classmethod
    def of(cls, userinfo: Mapping[str, Any] | None) -> Requester:
        info = userinfo or {}
        return cls(str(info.get("username") or ""), tuple(info.get("groups") or ()))

    def is_subject(self, subject: Mapping[str, Any]) -> bool:
        """Whether an RBAC subject names this requester."""
        kind, name = subject.get("kind"), subject.get("name")
        if kind == "User":
            return self.username == name
        if kind == "Group":
            return name in self.groups
        if kind == "ServiceAccount":
            return self.username == f"system:serviceaccount:{subject.get('namespace')}:{name}"
        return False


def is_control_plane(requester: Requester, bound_subjects: Iterable[Mapping[str, Any]]) -> bool:
    """Whether ``requester`` is a consumer's control plane: a member of group ``liqo.io``
    (the O of every control-plane certificate, upstream's rule), or a subject this provider
    bound to the consumer's control-plane role in the namespace (any identity provider)."""
    if CONTROL_PLANE_ORGANIZATION in requester.groups:
        return True
    return any(requester.is_subject(subject) for subject in bound_subjects)


def cordon_changes(old: JSON | None, new: JSON | None) -> list[str]:
    """The cordon annotations ``new`` adds, changes or removes compared with ``old``."""
    before, after = annotations_of(old), annotations_of(new)
    return [key for key in CORDON_ANNOTATIONS if before.get(key) != after.get(key)]


def slice_cordon_problems(old: JSON | None, new: JSON | None, control_plane: bool) -> list[str]:
    """A consumer's control plane may not touch the provider's cordon annotations."""
    if not control_plane:
        return []
    return [
        f"metadata.annotations[{key}]: a consumer's control-plane identity may not add, "
        "change or remove it (only the provider cordons the slices it granted)"
        for key in cordon_changes(old, new)
    ]


def slice_update_problems(old: JSON, new: JSON) -> list[str]:
    """``liqo.io/remote-cluster-id`` and the cluster ids, once set, never change."""
    problems: list[str] = []
    before, after = (
        labels_of(old).get(REMOTE_CLUSTER_ID_LABEL),
        labels_of(new).get(REMOTE_CLUSTER_ID_LABEL),
    )
    if before is not None and before != after:
        problems.append(
            f"metadata.labels[{REMOTE_CLUSTER_ID_LABEL}]: is immutable "
            f"(was {before!r}, now {after!r})"
        )
    for field in IMMUTABLE_SLICE_IDS:
        was, now = spec_of(old).get(field), spec_of(new).get(field)
        if was and was != now:
            problems.append(f"spec.{field}: is immutable once set (was {was!r}, now {now!r})")
    return problems


def slice_duplicate_problems(new: JSON, same_named: Iterable[JSON]) -> list[str]:
    """No two ResourceSlices of one name for the same remote cluster (their certificates'
    common name, hence their Quota, would be the same)."""
    remote = labels_of(new).get(REMOTE_CLUSTER_ID_LABEL)
    if not remote:
        return []
    meta = _meta(new)
    for other in same_named:
        other_meta = _meta(other)
        if (
            other_meta.get("name") == meta.get("name")
            and other_meta.get("namespace") != meta.get("namespace")
            and labels_of(other).get(REMOTE_CLUSTER_ID_LABEL) == remote
        ):
            return [
                f"metadata.name: ResourceSlice {other_meta.get('namespace')}/{meta.get('name')} "
                f"already asks cluster {remote} under this name"
            ]
    return []


def tenant_label_patch(new: JSON) -> dict[str, str] | None:
    """The labels the mutating webhook adds: ``liqo.io/remote-cluster-id`` = ``spec.clusterID``
    when it is missing (``None``: nothing to add)."""
    cluster_id = spec_of(new).get("clusterID")
    if not cluster_id or REMOTE_CLUSTER_ID_LABEL in labels_of(new):
        return None
    return {REMOTE_CLUSTER_ID_LABEL: str(cluster_id)}


def _label_matches_cluster(new: JSON) -> list[str]:
    cluster_id = spec_of(new).get("clusterID")
    label = labels_of(new).get(REMOTE_CLUSTER_ID_LABEL)
    if label is not None and label != cluster_id:
        return [
            f"metadata.labels[{REMOTE_CLUSTER_ID_LABEL}]: must equal spec.clusterID "
            f"({cluster_id!r}), not {label!r}"
        ]
    return []


def tenant_update_problems(old: JSON, new: JSON) -> list[str]:
    """The Tenant's cluster id (label and spec) never changes."""
    problems = _label_matches_cluster(new)
    before, after = (
        labels_of(old).get(REMOTE_CLUSTER_ID_LABEL),
        labels_of(new).get(REMOTE_CLUSTER_ID_LABEL),
    )
    if before is not None and before != after:
        problems.append(
            f"metadata.labels[{REMOTE_CLUSTER_ID_LABEL}]: is immutable "
            f"(was {before!r}, now {after!r})"
        )
    was, now = spec_of(old).get("clusterID"), spec_of(new).get("clusterID")
    if was and was != now:
        problems.append(f"spec.clusterID: is immutable (was {was!r}, now {now!r})")
    return problems


def tenant_create_problems(
    new: JSON,
    namespace: JSON | None,
    tenant_namespaces: Iterable[str],
    in_namespace: Iterable[JSON],
    same_named: Iterable[JSON],
) -> list[str]:
    """A new Tenant: label = ``spec.clusterID`` = its namespace's cluster id, in that
    cluster's tenant namespace, alone there, and the only Tenant of its name.

    :param namespace: The Tenant's Namespace (``None``: not found).
    :param tenant_namespaces: Names of the namespaces labelled as tenant namespaces of
        ``spec.clusterID``.
    :param in_namespace: The Tenants already in the Tenant's namespace.
    :param same_named: The Tenants of the same name, in any namespace.
    """
    meta = _meta(new)
    name, ns = meta.get("name"), meta.get("namespace")
    cluster_id = spec_of(new).get("clusterID")
    problems = _label_matches_cluster(new)
    ns_labels = labels_of(namespace)
    ns_cluster = ns_labels.get(REMOTE_CLUSTER_ID_LABEL)
    labelled = sorted(tenant_namespaces)
    if ns_labels.get(TENANT_NAMESPACE_LABEL) == "true" and ns_cluster != cluster_id:
        problems.append(
            f"metadata.namespace: {ns} is the tenant namespace of cluster {ns_cluster!r}, "
            f"not of spec.clusterID {cluster_id!r}"
        )
    elif labelled and ns not in labelled:
        problems.append(
            f"metadata.namespace: the Tenant of cluster {cluster_id!r} belongs in its tenant "
            f"namespace {labelled[0]}, not {ns}"
        )
    others = sorted(str(_meta(t).get("name")) for t in in_namespace if _meta(t).get("name") != name)
    if others:
        problems.append(
            f"metadata.namespace: {ns} already holds Tenant {others[0]} (one Tenant per "
            "tenant namespace)"
        )
    elsewhere = sorted(
        str(_meta(t).get("namespace")) for t in same_named if _meta(t).get("namespace") != ns
    )
    if elsewhere:
        problems.append(f"metadata.name: a Tenant {name} already exists in {elsewhere[0]}")
    return problems
