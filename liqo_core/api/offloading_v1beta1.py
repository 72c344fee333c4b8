"""``offloading.liqo.io/v1beta1``: virtual nodes, reflected objects and quotas.

NamespaceOffloading and NamespaceMap live in ``offloading_namespace`` and are re-exported.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from liqo_core.api.base import ApiModel, cel, validations
from liqo_core.api.common import DeploymentTemplate, IngressType, LoadBalancerType, StorageType
from liqo_core.api.meta import LocalObjectReference, ObjectReference
from liqo_core.api.offloading_namespace import NamespaceMap, NamespaceOffloading
from liqo_core.api.resource import AGE_COLUMN, CRDInfo, CustomResource, PrinterColumn
from liqo_core.api.types import ClusterID, KubeObject, ResourceList, Time

GROUP = "offloading.liqo.io"
VERSION = "v1beta1"

__all__ = ["NamespaceMap", "NamespaceOffloading"]


class Affinity(ApiModel):
    """Affinity imposed on offloaded pods."""

    node_affinity: KubeObject | None = None
    """Kubernetes NodeAffinity added to offloaded pods on the provider."""


class ResourceQuotaSpec(ApiModel):
    """Kubernetes ResourceQuotaSpec; Liqo reads its hard limits."""

    model_config = ConfigDict(extra="allow")

    hard: ResourceList | None = None
    """Resource limits; on a VirtualNode, the capacity of the virtual Node."""


class OffloadingPatch(ApiModel):
    """Changes applied to pods offloaded through a virtual node."""

    annotations_not_reflected: list[str] | None = None
    """Annotation keys never copied to the provider."""
    labels_not_reflected: list[str] | None = None
    """Label keys never copied to the provider."""
    node_selector: dict[str, str] | None = None
    """Node selector added to offloaded pods on the provider."""
    tolerations: list[KubeObject] | None = None
    """Kubernetes tolerations added to offloaded pods."""
    affinity: Affinity | None = None
    """Affinity added to offloaded pods."""
    runtime_class_name: str | None = None
    """RuntimeClass of offloaded pods on the provider."""


VirtualNodeConditionType = Literal["VirtualKubelet", "Node"]
VirtualNodeConditionStatus = Literal["None", "Running", "Creating", "Draining", "Deleting"]


class VirtualNodeCondition(ApiModel):
    """Lifecycle state of the virtual kubelet or of the Node."""

    type: VirtualNodeConditionType
    """VirtualKubelet (its Deployment) or Node (the virtual Node object)."""
    status: VirtualNodeConditionStatus = "None"
    """Lifecycle state."""
    last_transition_time: Time | None = None
    """When the state last changed."""
    reason: str | None = None
    """Machine-readable cause of the last change."""
    message: str | None = None
    """Human-readable detail of the last change."""


class VirtualNodeSpec(ApiModel):
    """Desired virtual kubelet and virtual Node."""

    cluster_id: ClusterID
    """Cluster ID of the provider the node points to."""
    provider_id: Annotated[
        str | None,
        Field(
            json_schema_extra=validations(
                cel("self == oldSelf || oldSelf == ''", "providerID is immutable once set")
            )
        ),
    ] = None
    """Provider ID of the Node (``<provider>://<id>``); immutable once set."""
    template: DeploymentTemplate | None = None
    """Deployment of the virtual kubelet (rendered from the VkOptionsTemplate when absent)."""
    offloading_patch: OffloadingPatch | None = None
    """Changes applied to pods offloaded through this node."""
    create_node: bool | None = None
    """Whether to create the Node object (false keeps only the virtual kubelet)."""
    disable_network_check: bool | None = None
    """Whether Node readiness ignores the state of the network to the provider."""
    kubeconfig_secret_ref: LocalObjectReference | None = None
    """Secret with the kubeconfig used to reach the provider."""
    images: list[KubeObject] | None = None
    """Kubernetes ContainerImages advertised on the Node."""
    resource_quota: ResourceQuotaSpec | None = None
    """Capacity of the Node (hard limits of a Kubernetes ResourceQuotaSpec)."""
    labels: dict[str, str] | None = None
    """Labels of the Node."""
    annotations: dict[str, str] | None = None
    """Annotations of the Node."""
    taints: list[KubeObject] | None = None
    """Kubernetes taints of the Node."""
    storage_classes: list[StorageType] | None = None
    """Storage classes available through the node."""
    ingress_classes: list[IngressType] | None = None
    """Ingress classes available through the node."""
    load_balancer_classes: list[LoadBalancerType] | None = None
    """Load balancer classes available through the node."""
    vk_options_template_ref: ObjectReference | None = None
    """VkOptionsTemplate the virtual kubelet is configured from."""


class VirtualNodeStatus(ApiModel):
    """Lifecycle of the virtual kubelet and of the Node."""

    conditions: list[VirtualNodeCondition] | None = None
    """VirtualKubelet and Node conditions."""
    effective_offloading_patch: OffloadingPatch | None = None
    """Offloading patch in force: the spec's merged with the VkOptionsTemplate's lists."""
    effective_create_node: bool | None = None
    """Whether the Node is created, after defaulting from the VkOptionsTemplate."""
    effective_disable_network_check: bool | None = None
    """Whether the network check is off, after defaulting from the VkOptionsTemplate."""


class VirtualNode(CustomResource):
    """A virtual node backed by a provider cluster, on the consumer."""

    crd = CRDInfo(
        GROUP,
        VERSION,
        "VirtualNode",
        "virtualnodes",
        short_names=("vn", "vnode"),
        printer_columns=(
            PrinterColumn("ClusterID", "string", ".spec.clusterID"),
            PrinterColumn("Create Node", "boolean", ".status.effectiveCreateNode"),
            AGE_COLUMN,
            PrinterColumn("Node", "string", '.status.conditions[?(@.type=="Node")].status', 1),
            PrinterColumn(
                "VirtualKubelet",
                "string",
                '.status.conditions[?(@.type=="VirtualKubelet")].status',
                1,
            ),
        ),
    )

    spec: VirtualNodeSpec
    """Desired virtual kubelet and Node."""
    status: VirtualNodeStatus | None = None
    """Observed lifecycle."""


ReflectionType = Literal["AllowList", "DenyList", "CustomLiqo"]


class ReflectorConfig(ApiModel):
    """Configuration of one reflector of the virtual kubelet."""

    workers: int = Field(ge=0)
    """Number of workers (0 disables the reflector)."""
    type: ReflectionType = "DenyList"
    """DenyList reflects all but skipped objects; AllowList only allowed ones."""


class VkOptionsTemplateSpec(ApiModel):
    """Options of virtual kubelets created from this template."""

    create_node: bool = True
    """Whether virtual kubelets create their Node."""
    disable_network_check: bool = False
    """Whether Node readiness ignores the network state."""
    container_image: str
    """Image of the virtual kubelet."""
    metrics_enabled: bool = False
    """Whether the virtual kubelet exposes metrics."""
    metrics_address: str | None = None
    """Address the metrics are served on."""
    labels_not_reflected: list[str] | None = None
    """Label keys never reflected."""
    annotations_not_reflected: list[str] | None = None
    """Annotation keys never reflected."""
    reflectors_config: dict[str, ReflectorConfig] | None = None
    """Per-resource reflector configuration (pod, service, configmap, ...)."""
    resources: KubeObject | None = None
    """Kubernetes ResourceRequirements of the virtual kubelet container."""
    extra_args: list[str] | None = None
    """Extra command-line arguments of the virtual kubelet."""
    extra_annotations: dict[str, str] | None = None
    """Extra annotations of the virtual kubelet pods."""
    extra_labels: dict[str, str] | None = None
    """Extra labels of the virtual kubelet pods."""
    node_extra_annotations: dict[str, str] | None = None
    """Extra annotations of the Node."""
    node_extra_labels: dict[str, str] | None = None
    """Extra labels of the Node."""
    replicas: int | None = Field(default=None, ge=0)
    """Replicas of the virtual kubelet (more than one uses leases)."""
    image_pull_secrets: list[LocalObjectReference] | None = None
    """Secrets used to pull the virtual kubelet image."""
    pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = None
    """Pull policy of the virtual kubelet image."""
    tolerations: list[KubeObject] | None = None
    """Kubernetes tolerations of the virtual kubelet pods."""


class VkOptionsTemplate(CustomResource):
    """Template of virtual kubelet options referenced by VirtualNodes."""

    crd = CRDInfo(
        GROUP, VERSION, "VkOptionsTemplate", "vkoptionstemplates", short_names=("vkot", "vkopt")
    )

    spec: VkOptionsTemplateSpec
    """Virtual kubelet options."""


PodPhase = Literal["Pending", "Running", "Succeeded", "Failed", "Unknown"]


class ShadowPodSpec(ApiModel):
    """Pod to keep running on the provider."""

    pod: KubeObject = Field(default_factory=dict)
    """Kubernetes PodSpec of the offloaded pod."""


class ShadowPodStatus(ApiModel):
    """Observed pod."""

    phase: PodPhase = "Unknown"
    """Phase of the real pod."""


class ShadowPod(CustomResource):
    """Provider-side twin of an offloaded pod, kept alive even while the consumer is away."""

    crd = CRDInfo(
        GROUP,
        VERSION,
        "ShadowPod",
        "shadowpods",
        short_names=("shp", "spod", "spods"),
        printer_columns=(PrinterColumn("Phase", "string", ".status.phase"), AGE_COLUMN),
    )

    spec: ShadowPodSpec = Field(default_factory=ShadowPodSpec)
    """Pod to run."""
    status: ShadowPodStatus | None = None
    """Observed pod."""


class EndpointSliceTemplate(ApiModel):
    """Content of the EndpointSlice to materialise."""

    endpoints: list[KubeObject] | None = None
    """Kubernetes discovery/v1 endpoints."""
    ports: list[KubeObject] | None = None
    """Kubernetes discovery/v1 endpoint ports."""
    address_type: Literal["IPv4", "IPv6", "FQDN"] | None = None
    """Type of the addresses."""


class ShadowEndpointSliceSpec(ApiModel):
    """EndpointSlice to keep on the provider."""

    template: EndpointSliceTemplate = Field(default_factory=EndpointSliceTemplate)
    """Content of the EndpointSlice."""


class ShadowEndpointSlice(CustomResource):
    """Provider-side twin of a consumer EndpointSlice."""

    crd = CRDInfo(
        GROUP, VERSION, "ShadowEndpointSlice", "shadowendpointslices", short_names=("seps",)
    )

    spec: ShadowEndpointSliceSpec = Field(default_factory=ShadowEndpointSliceSpec)
    """EndpointSlice to keep."""


LimitsEnforcement = Literal["None", "Soft", "Hard"]


class QuotaSpec(ApiModel):
    """Limits of the workloads offloaded by one consumer identity."""

    user: str = Field(min_length=1)
    """User (certificate CN of the ResourceSlice) the quota applies to."""
    limits_enforcement: LimitsEnforcement = "None"
    """None, Soft (requests required) or Hard (requests equal to limits required)."""
    resources: ResourceList | None = None
    """Total resources the user's pods may use."""
    cordoned: bool | None = None
    """Whether new pods of the user are refused."""


class Quota(CustomResource):
    """Provider-side enforcement of a granted ResourceSlice."""

    crd = CRDInfo(
        GROUP,
        VERSION,
        "Quota",
        "quotas",
        short_names=("qt",),
        printer_columns=(
            PrinterColumn("Enforcement", "string", ".spec.limitsEnforcement"),
            PrinterColumn("Cordoned", "boolean", ".spec.cordoned"),
            AGE_COLUMN,
        ),
    )

    spec: QuotaSpec
    """Limits."""


MODELS: list[type[CustomResource]] = [
    VirtualNode,
    VkOptionsTemplate,
    NamespaceOffloading,
    NamespaceMap,
    ShadowPod,
    ShadowEndpointSlice,
    Quota,
]
