"""The built-in resource types the emulator serves, and how each behaves (its strategy)."""

from __future__ import annotations

from dataclasses import dataclass

from .types import ResourceType

_COMMON_FIELDS = frozenset({"metadata.name", "metadata.namespace"})
_EVENT_FIELDS = frozenset(
    {
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    }
)


@dataclass(frozen=True)
class Strategy:
    """Per-kind rules of the generic registry (Kubernetes' ``RESTCreateStrategy`` & co)."""

    generation: bool = False
    """``metadata.generation`` is kept and bumped on changes outside metadata/status."""
    reset_status_on_create: bool = True
    """With a status subresource, ``status`` in a create body is dropped."""
    field_selectors: frozenset[str] = _COMMON_FIELDS
    """Fields accepted by ``fieldSelector``."""
    name_is_label: bool = False
    name_is_dns1035: bool = False
    """The name must also start with a letter (Services)."""
    """The name must be a DNS-1123 label (63 chars, no dots) instead of a subdomain."""


def _rt(  # noqa: PLR0917 - a compact table of built-in kinds
    group: str,
    version: str,
    resource: str,
    kind: str,
    namespaced: bool = True,
    short: tuple[str, ...] = (),
    cats: tuple[str, ...] = (),
    sub: tuple[str, ...] = (),
    verbs: tuple[str, ...] | None = None,
) -> ResourceType:
    extra = {} if verbs is None else {"verbs": verbs}
    return ResourceType(
        group=group,
        version=version,
        resource=resource,
        kind=kind,
        namespaced=namespaced,
        singular=kind.lower(),
        short_names=short,
        categories=cats,
        subresources=sub,
        list_kind=f"{kind}List",
        **extra,
    )


_ALL = ("all",)
_CREATE = ("create",)

BUILTIN_TYPES: tuple[ResourceType, ...] = (
    _rt("", "v1", "namespaces", "Namespace", False, ("ns",), sub=("status", "finalize")),
    _rt("", "v1", "pods", "Pod", True, ("po",), _ALL, ("status", "binding")),
    _rt("", "v1", "nodes", "Node", False, ("no",), sub=("status",)),
    _rt("", "v1", "services", "Service", True, ("svc",), _ALL, ("status",)),
    _rt("", "v1", "endpoints", "Endpoints", True, ("ep",)),
    _rt(
        "",
        "v1",
        "replicationcontrollers",
        "ReplicationController",
        True,
        ("rc",),
        _ALL,
        ("status", "scale"),
    ),
    _rt("", "v1", "configmaps", "ConfigMap", True, ("cm",)),
    _rt("", "v1", "secrets", "Secret", True),
    _rt("", "v1", "serviceaccounts", "ServiceAccount", True, ("sa",)),
    _rt("", "v1", "events", "Event", True, ("ev",)),
    _rt("", "v1", "resourcequotas", "ResourceQuota", True, ("quota",), sub=("status",)),
    _rt("", "v1", "limitranges", "LimitRange", True, ("limits",)),
    _rt(
        "", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True, ("pvc",), sub=("status",)
    ),
    _rt("", "v1", "persistentvolumes", "PersistentVolume", False, ("pv",), sub=("status",)),
    _rt("apps", "v1", "deployments", "Deployment", True, ("deploy",), _ALL, ("status", "scale")),
    _rt("apps", "v1", "daemonsets", "DaemonSet", True, ("ds",), _ALL, ("status",)),
    _rt("apps", "v1", "replicasets", "ReplicaSet", True, ("rs",), _ALL, ("status", "scale")),
    _rt("apps", "v1", "statefulsets", "StatefulSet", True, ("sts",), _ALL, ("status", "scale")),
    _rt("apps", "v1", "controllerrevisions", "ControllerRevision", True),
    # Stored at v2 (listed first), also served at v1 (what ``kubectl autoscale`` writes).
    _rt(
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        True,
        ("hpa",),
        _ALL,
        ("status",),
    ),
    _rt(
        "autoscaling",
        "v1",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        True,
        ("hpa",),
        _ALL,
        ("status",),
    ),
    _rt("batch", "v1", "jobs", "Job", True, (), _ALL, ("status",)),
    _rt("batch", "v1", "cronjobs", "CronJob", True, ("cj",), _ALL, ("status",)),
    _rt("coordination.k8s.io", "v1", "leases", "Lease", True),
    _rt("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True),
    _rt("events.k8s.io", "v1", "events", "Event", True, ("ev",)),
    _rt("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    _rt("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    _rt("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    _rt("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    _rt(
        "certificates.k8s.io",
        "v1",
        "certificatesigningrequests",
        "CertificateSigningRequest",
        False,
        ("csr",),
        sub=("status", "approval"),
    ),
    _rt(
        "admissionregistration.k8s.io",
        "v1",
        "mutatingwebhookconfigurations",
        "MutatingWebhookConfiguration",
        False,
    ),
    _rt(
        "admissionregistration.k8s.io",
        "v1",
        "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
        False,
    ),
    _rt("node.k8s.io", "v1", "runtimeclasses", "RuntimeClass", False),
    _rt(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        False,
        ("crd", "crds"),
        sub=("status",),
    ),
    _rt("apiregistration.k8s.io", "v1", "apiservices", "APIService", False, sub=("status",)),
    _rt("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True, ("netpol",)),
    _rt("networking.k8s.io", "v1", "ingresses", "Ingress", True, ("ing",), sub=("status",)),
    _rt("networking.k8s.io", "v1", "ingressclasses", "IngressClass", False),
    _rt(
        "policy",
        "v1",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        True,
        ("pdb",),
        sub=("status",),
    ),
    _rt("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", False, ("pc",)),
    _rt("storage.k8s.io", "v1", "storageclasses", "StorageClass", False, ("sc",)),
    _rt("storage.k8s.io", "v1", "csidrivers", "CSIDriver", False),
    _rt("storage.k8s.io", "v1", "csinodes", "CSINode", False),
    _rt("storage.k8s.io", "v1", "csistoragecapacities", "CSIStorageCapacity", True),
)
"""Stored built-in kinds (a kind served at several versions is stored at the first listed);
custom resources are added when their CRD is established."""

VIRTUAL_TYPES: tuple[ResourceType, ...] = (
    _rt(
        "authorization.k8s.io",
        "v1",
        "selfsubjectaccessreviews",
        "SelfSubjectAccessReview",
        False,
        verbs=_CREATE,
    ),
    _rt(
        "authorization.k8s.io",
        "v1",
        "subjectaccessreviews",
        "SubjectAccessReview",
        False,
        verbs=_CREATE,
    ),
    _rt(
        "authorization.k8s.io",
        "v1",
        "localsubjectaccessreviews",
        "LocalSubjectAccessReview",
        True,
        verbs=_CREATE,
    ),
    _rt(
        "authorization.k8s.io",
        "v1",
        "selfsubjectrulesreviews",
        "SelfSubjectRulesReview",
        False,
        verbs=_CREATE,
    ),
    _rt("authentication.k8s.io", "v1", "tokenreviews", "TokenReview", False, verbs=_CREATE),
    _rt(
        "authentication.k8s.io",
        "v1",
        "selfsubjectreviews",
        "SelfSubjectReview",
        False,
        verbs=_CREATE,
    ),
)
"""Create-only kinds that are answered, never stored (served when security provides them)."""

_GENERATION = Strategy(generation=True)

STRATEGIES: dict[tuple[str, str], Strategy] = {
    ("", "namespaces"): Strategy(
        field_selectors=_COMMON_FIELDS | {"status.phase"}, name_is_label=True
    ),
    ("", "pods"): Strategy(
        field_selectors=_COMMON_FIELDS
        | {
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        }
    ),
    ("", "nodes"): Strategy(
        reset_status_on_create=False, field_selectors=_COMMON_FIELDS | {"spec.unschedulable"}
    ),
    ("", "services"): Strategy(
        field_selectors=_COMMON_FIELDS | {"spec.clusterIP", "spec.type"},
        name_is_label=True,
        name_is_dns1035=True,
    ),
    ("", "secrets"): Strategy(field_selectors=_COMMON_FIELDS | {"type"}),
    ("", "events"): Strategy(field_selectors=_COMMON_FIELDS | _EVENT_FIELDS),
    ("events.k8s.io", "events"): Strategy(field_selectors=_COMMON_FIELDS | _EVENT_FIELDS),
    ("", "persistentvolumes"): Strategy(reset_status_on_create=False),
    ("", "replicationcontrollers"): Strategy(
        generation=True, field_selectors=_COMMON_FIELDS | {"status.replicas"}
    ),
    ("autoscaling", "horizontalpodautoscalers"): _GENERATION,
    ("apps", "deployments"): _GENERATION,
    ("apps", "daemonsets"): _GENERATION,
    ("apps", "replicasets"): Strategy(
        generation=True, field_selectors=_COMMON_FIELDS | {"status.replicas"}
    ),
    ("apps", "statefulsets"): _GENERATION,
    ("batch", "jobs"): Strategy(
        generation=True, field_selectors=_COMMON_FIELDS | {"status.successful"}
    ),
    ("batch", "cronjobs"): _GENERATION,
    ("certificates.k8s.io", "certificatesigningrequests"): Strategy(
        field_selectors=_COMMON_FIELDS | {"spec.signerName"}
    ),
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"): _GENERATION,
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations"): _GENERATION,
    ("apiextensions.k8s.io", "customresourcedefinitions"): _GENERATION,
    ("networking.k8s.io", "networkpolicies"): _GENERATION,
    ("networking.k8s.io", "ingresses"): _GENERATION,
    ("policy", "poddisruptionbudgets"): _GENERATION,
}

CUSTOM_RESOURCE_STRATEGY = Strategy(generation=True)
DEFAULT_STRATEGY = Strategy()


def strategy_for(rt: ResourceType, custom: bool) -> Strategy:
    """The strategy of a built-in kind, or the one shared by all custom resources."""
    if custom:
        return CUSTOM_RESOURCE_STRATEGY
    return STRATEGIES.get((rt.group, rt.resource), DEFAULT_STRATEGY)
