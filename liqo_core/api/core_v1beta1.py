"""``core.liqo.io/v1beta1``: ForeignCluster, the derived view of one peer."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from liqo_core.api.base import IMMUTABLE, ApiModel, validations
from liqo_core.api.conditions import ForeignClusterCondition
from liqo_core.api.resource import AGE_COLUMN, CRDInfo, CustomResource, PrinterColumn
from liqo_core.api.types import ClusterID

GROUP = "core.liqo.io"
VERSION = "v1beta1"

PeeringRole = Literal["Consumer", "Provider", "ConsumerAndProvider", "Unknown"]


class ForeignClusterSpec(ApiModel):
    """Identity of the peer."""

    cluster_id: Annotated[ClusterID, Field(json_schema_extra=validations(IMMUTABLE))]
    """Cluster ID of the peer (immutable; a DNS-1123 label)."""


class Module(ApiModel):
    """State of one Liqo module for this peer."""

    enabled: bool = False
    """Whether the module is enabled and in use with this peer."""
    conditions: list[ForeignClusterCondition] | None = None
    """Conditions of the module's objects for this peer."""


class Modules(ApiModel):
    """State of each Liqo module for this peer."""

    networking: Module = Field(default_factory=Module)
    """Networking module: Configuration, gateways, Connection."""
    authentication: Module = Field(default_factory=Module)
    """Authentication module: Tenant and Identity."""
    offloading: Module = Field(default_factory=Module)
    """Offloading module: VirtualNodes and their Nodes."""


class TenantNamespaces(ApiModel):
    """Tenant namespaces that hold this peering's objects."""

    local: str | None = None
    """Tenant namespace on this cluster."""
    remote: str | None = None
    """Tenant namespace on the peer."""


class ForeignClusterStatus(ApiModel):
    """Peering state derived from the objects of every module."""

    observed_generation: int | None = None
    """Generation last processed."""
    role: PeeringRole = "Unknown"
    """Role of the peer: Consumer (it consumes our resources), Provider, or both."""
    modules: Modules | None = None
    """Per-module state."""
    api_server_url: str | None = None
    """URL of the peer's API server."""
    foreign_proxy_url: str | None = None
    """URL of the proxy used to reach the peer's API server, if any."""
    tenant_namespace: TenantNamespaces | None = None
    """Tenant namespaces of the peering on both sides."""
    conditions: list[ForeignClusterCondition] | None = None
    """Peering-wide conditions (e.g. APIServerStatus)."""


class ForeignCluster(CustomResource):
    """Read model of one peer cluster, created automatically from objects carrying its ID."""

    crd = CRDInfo(
        GROUP,
        VERSION,
        "ForeignCluster",
        "foreignclusters",
        scope="Cluster",
        short_names=("fc",),
        printer_columns=(
            PrinterColumn("Role", "string", ".status.role"),
            PrinterColumn("ClusterID", "string", ".spec.clusterID", priority=1),
            AGE_COLUMN,
        ),
    )

    spec: ForeignClusterSpec
    """Identity of the peer."""
    status: ForeignClusterStatus | None = None
    """Derived peering state."""


MODELS: list[type[CustomResource]] = [ForeignCluster]
