"""NamespaceOffloading and NamespaceMap (offloading.liqo.io/v1beta1): extending namespaces.

A NamespaceOffloading on the consumer selects providers and naming; the controller writes the
per-peer NamespaceMaps, whose status (twin namespaces created by the provider) flows back.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import ConfigDict, Field, model_validator

from liqo_core.api.base import IMMUTABLE, ApiModel, cel, validations
from liqo_core.api.resource import AGE_COLUMN, CRDInfo, CustomResource, PrinterColumn
from liqo_core.api.types import KubeObject, Time

GROUP = "offloading.liqo.io"
VERSION = "v1beta1"


NamespaceMappingStrategy = Literal["DefaultName", "EnforceSameName", "SelectedName"]
PodOffloadingStrategy = Literal["LocalAndRemote", "Local", "Remote"]
OffloadingPhase = Literal[
    "Ready", "NoClusterSelected", "InProgress", "SomeFailed", "AllFailed", "Terminating"
]

_SELECTED_NAME_RULE = cel(
    "(self.namespaceMappingStrategy == 'SelectedName') == "
    "(has(self.remoteNamespaceName) && self.remoteNamespaceName != '')",
    "remoteNamespaceName must be set if and only if namespaceMappingStrategy is SelectedName",
    field_path=".remoteNamespaceName",
)
_REMOTE_NAME_IMMUTABLE = cel(
    "has(self.remoteNamespaceName) == has(oldSelf.remoteNamespaceName)",
    "remoteNamespaceName is immutable",
    field_path=".remoteNamespaceName",
)


class NamespaceOffloadingSpec(ApiModel):
    """How a namespace is extended to providers."""

    model_config = ConfigDict(
        json_schema_extra=validations(_SELECTED_NAME_RULE, _REMOTE_NAME_IMMUTABLE)
    )

    namespace_mapping_strategy: Annotated[
        NamespaceMappingStrategy, Field(json_schema_extra=validations(IMMUTABLE))
    ] = "DefaultName"
    """Remote namespace name: <ns>-<cluster id> (DefaultName), <ns>, or remoteNamespaceName."""
    remote_namespace_name: Annotated[
        str | None, Field(json_schema_extra=validations(IMMUTABLE))
    ] = None
    """Remote namespace name for SelectedName (immutable)."""
    pod_offloading_strategy: PodOffloadingStrategy = "LocalAndRemote"
    """Where pods of the namespace may run: local nodes, virtual nodes, or both."""
    cluster_selector: KubeObject | None = None
    """Kubernetes NodeSelector over virtual-node labels choosing providers (empty = all)."""

    @model_validator(mode="after")
    def _selected_name(self) -> Self:
        wants = self.namespace_mapping_strategy == "SelectedName"
        if wants != bool(self.remote_namespace_name):
            raise ValueError(_SELECTED_NAME_RULE["message"])
        return self


RemoteNamespaceConditionType = Literal["OffloadingRequired", "Ready"]


class RemoteNamespaceCondition(ApiModel):
    """State of the twin namespace on one provider."""

    type: RemoteNamespaceConditionType
    """OffloadingRequired or Ready."""
    status: Literal["True", "False", "Unknown"]
    """Whether the condition holds."""
    last_transition_time: Time | None = None
    """When the status last changed."""
    reason: str | None = None
    """Machine-readable cause of the last change."""
    message: str | None = None
    """Human-readable detail of the last change."""


class NamespaceOffloadingStatus(ApiModel):
    """Progress of the offloading."""

    remote_namespace_name: str | None = None
    """Name of the twin namespaces on providers."""
    offloading_phase: OffloadingPhase | None = None
    """Aggregated state over all selected providers."""
    remote_namespaces_conditions: dict[str, list[RemoteNamespaceCondition]] | None = None
    """Conditions of the twin namespace, by provider cluster ID."""
    observed_generation: int | None = None
    """Generation last processed."""


class NamespaceOffloading(CustomResource):
    """Extends the namespace it lives in to providers; must be named "offloading"."""

    crd = CRDInfo(
        GROUP,
        VERSION,
        "NamespaceOffloading",
        "namespaceoffloadings",
        short_names=("nsoff", "nof"),
        printer_columns=(
            PrinterColumn("NamespaceMappingStrategy", "string", ".spec.namespaceMappingStrategy"),
            PrinterColumn("PodOffloadingStrategy", "string", ".spec.podOffloadingStrategy"),
            PrinterColumn("OffloadingPhase", "string", ".status.offloadingPhase"),
            PrinterColumn("RemoteNamespace", "string", ".status.remoteNamespaceName", priority=1),
            AGE_COLUMN,
        ),
        root_validations=(
            cel(
                "self.metadata.name == 'offloading'",
                "a NamespaceOffloading must be named 'offloading'",
            ),
        ),
    )

    spec: NamespaceOffloadingSpec = Field(default_factory=NamespaceOffloadingSpec)
    """Offloading strategies."""
    status: NamespaceOffloadingStatus | None = None
    """Offloading progress."""

    @model_validator(mode="after")
    def _name(self) -> Self:
        name = self.metadata.name
        if name is not None and name != "offloading":
            raise ValueError(f"metadata.name must be 'offloading', not {name!r}")
        return self


MappingPhase = Literal["Accepted", "CreationLoopBackOff", "Terminating"]


class RemoteNamespaceStatus(ApiModel):
    """State of one twin namespace on the provider."""

    remote_namespace: str
    """Name of the twin namespace."""
    phase: MappingPhase
    """Accepted, CreationLoopBackOff (name clash) or Terminating."""


class NamespaceMapSpec(ApiModel):
    """Namespaces the consumer wants on one provider."""

    desired_mapping: dict[str, str] | None = None
    """Local namespace name to remote namespace name."""


class NamespaceMapStatus(ApiModel):
    """Namespaces the provider created."""

    current_mapping: dict[str, RemoteNamespaceStatus] | None = None
    """Local namespace name to state of its twin."""


class NamespaceMap(CustomResource):
    """Namespace mappings towards one peer (named after it), replicated to the provider."""

    crd = CRDInfo(GROUP, VERSION, "NamespaceMap", "namespacemaps", short_names=("nm", "nsmap"))

    spec: NamespaceMapSpec = Field(default_factory=NamespaceMapSpec)
    """Desired mappings."""
    status: NamespaceMapStatus | None = None
    """Current mappings."""
