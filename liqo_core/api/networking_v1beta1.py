"""``networking.liqo.io/v1beta1``: CIDR configuration, gateways, keys, tunnels and fabric.

Gateways, RouteConfiguration and FirewallConfiguration live in ``networking_gateway``,
``networking_route`` and ``networking_firewall`` and are re-exported here.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from liqo_core.api.base import ApiModel
from liqo_core.api.conditions import Condition
from liqo_core.api.meta import ObjectReference
from liqo_core.api.networking_firewall import FirewallConfiguration
from liqo_core.api.networking_gateway import (
    EndpointStatus,
    GatewayClient,
    GatewayServer,
    InternalGatewayEndpoint,
)
from liqo_core.api.networking_route import RouteConfiguration
from liqo_core.api.resource import AGE_COLUMN, CRDInfo, CustomResource, PrinterColumn
from liqo_core.api.types import CIDR, Base64, IPv4, Time

GROUP = "networking.liqo.io"
VERSION = "v1beta1"

__all__ = [
    "EndpointStatus",
    "FirewallConfiguration",
    "GatewayClient",
    "GatewayServer",
    "InternalGatewayEndpoint",
    "RouteConfiguration",
]


class CIDRSet(ApiModel):
    """Pod and external CIDRs of a cluster."""

    pod: list[CIDR] = Field(default_factory=list)
    """Pod CIDRs."""
    external: list[CIDR] = Field(default_factory=list)
    """External CIDRs (where non-pod addresses are projected)."""


class ClusterConfig(ApiModel):
    """Network parameters of one cluster."""

    cidr: CIDRSet
    """CIDRs of the cluster."""


class ConfigurationSpec(ApiModel):
    """CIDRs of the two clusters of a peering."""

    local: ClusterConfig | None = None
    """CIDRs of this cluster (filled in by Liqo when omitted)."""
    remote: ClusterConfig
    """CIDRs of the peer, as the peer knows them."""


class ConfigurationStatus(ApiModel):
    """CIDRs of the peer as reachable from this cluster."""

    conditions: list[Condition] | None = None
    """Standard conditions (NetworkCIDRsConfigured)."""
    remote: ClusterConfig | None = None
    """Peer CIDRs after remapping, index-aligned with spec.remote."""


class Configuration(CustomResource):
    """Network configuration of one peering: the peer's CIDRs and how they are remapped."""

    crd = CRDInfo(
        GROUP,
        VERSION,
        "Configuration",
        "configurations",
        short_names=("conf", "cfg"),
        printer_columns=(
            PrinterColumn("Desired Pod CIDR", "string", ".spec.remote.cidr.pod"),
            PrinterColumn("Remapped Pod CIDR", "string", ".status.remote.cidr.pod"),
            PrinterColumn("Desired External CIDR", "string", ".spec.remote.cidr.external", 1),
            PrinterColumn("Remapped External CIDR", "string", ".status.remote.cidr.external", 1),
            AGE_COLUMN,
        ),
    )

    spec: ConfigurationSpec
    """CIDRs of both clusters."""
    status: ConfigurationStatus | None = None
    """Remapped peer CIDRs."""


class PublicKeySpec(ApiModel):
    """Key of the peer gateway."""

    public_key: Base64
    """WireGuard public key of the peer's gateway (base64)."""


class PublicKey(CustomResource):
    """Public key of the peer's gateway, used to configure the local tunnel end."""

    crd = CRDInfo(GROUP, VERSION, "PublicKey", "publickeies", short_names=("pk",))

    spec: PublicKeySpec
    """The key."""


class ConnectionLatency(ApiModel):
    """Last measured round-trip time."""

    value: str | None = None
    """Round-trip time (e.g. 1.2ms)."""
    timestamp: Time | None = None
    """When it was measured."""


class ConnectionSpec(ApiModel):
    """Tunnel end this connection belongs to."""

    type: Literal["Server", "Client"]
    """Role of the local gateway."""
    gateway_ref: ObjectReference
    """GatewayServer or GatewayClient of the local end."""


class ConnectionStatus(ApiModel):
    """Health of the tunnel."""

    value: Literal["Connected", "Connecting", "Error"] | None = None
    """State of the tunnel."""
    latency: ConnectionLatency | None = None
    """Last round-trip time through the tunnel."""


class Connection(CustomResource):
    """Health of one inter-cluster tunnel, written by the gateway pod."""

    crd = CRDInfo(
        GROUP,
        VERSION,
        "Connection",
        "connections",
        short_names=("conn",),
        printer_columns=(
            PrinterColumn("Type", "string", ".spec.type"),
            PrinterColumn("Status", "string", ".status.value"),
            PrinterColumn("Latency", "string", ".status.latency.value"),
            AGE_COLUMN,
        ),
    )

    spec: ConnectionSpec
    """Local tunnel end."""
    status: ConnectionStatus | None = None
    """Tunnel health."""


class InterfaceName(ApiModel):
    """An interface to create, by name."""

    name: str = Field(min_length=1)
    """Interface name."""


class InterfaceIP(ApiModel):
    """An interface address."""

    ip: IPv4
    """Address assigned to the interface."""


class InternalNodeInterface(ApiModel):
    """Both ends of a node's fabric tunnels."""

    gateway: InterfaceName
    """Interface created on every gateway towards this node."""
    node: InterfaceIP
    """Internal-CIDR address of the node end."""


class InternalNodeSpec(ApiModel):
    """Fabric parameters of a node."""

    interface: InternalNodeInterface
    """Tunnel interfaces."""


class NodeIP(ApiModel):
    """Addresses of a node."""

    local: IPv4 | None = None
    """Address of the node in the local cluster network."""
    remote: IPv4 | None = None
    """Address of the node as remapped for peers."""


class InternalNodeStatus(ApiModel):
    """Observed node addresses."""

    node_ip: NodeIP | None = None
    """Node addresses."""


class InternalNode(CustomResource):
    """A physical node as an end of the node-to-gateway fabric."""

    crd = CRDInfo(
        GROUP,
        VERSION,
        "InternalNode",
        "internalnodes",
        scope="Cluster",
        short_names=("inode", "in"),
        printer_columns=(
            PrinterColumn("Node IP Local", "string", ".status.nodeIP.local"),
            PrinterColumn("Gateway Interface", "string", ".spec.interface.gateway.name"),
            AGE_COLUMN,
        ),
    )

    spec: InternalNodeSpec
    """Fabric parameters."""
    status: InternalNodeStatus | None = None
    """Observed addresses."""


class InternalFabricInterface(ApiModel):
    """Both ends of a gateway's fabric tunnels."""

    node: InterfaceName
    """Interface created on every node towards this gateway."""
    gateway: InterfaceIP
    """Internal-CIDR address of the gateway end."""


class InternalFabricSpec(ApiModel):
    """Fabric towards one gateway."""

    mtu: int | None = Field(default=None, ge=576)
    """MTU of the fabric tunnels."""
    remote_cidrs: list[CIDR] | None = None
    """Peer CIDRs (as remapped) routed through this gateway."""
    interface: InternalFabricInterface
    """Tunnel interfaces."""
    gateway_ip: IPv4
    """IP address of the active gateway pod."""


class InternalFabric(CustomResource):
    """Node-to-gateway fabric for one gateway."""

    crd = CRDInfo(
        GROUP,
        VERSION,
        "InternalFabric",
        "internalfabrics",
        short_names=("ifabric", "if"),
        printer_columns=(
            PrinterColumn("Gateway IP", "string", ".spec.gatewayIP"),
            PrinterColumn("Remote CIDRs", "string", ".spec.remoteCIDRs"),
            AGE_COLUMN,
        ),
    )

    spec: InternalFabricSpec
    """Fabric parameters."""


VNI_MAX = 2**24 - 1


class GeneveTunnelSpec(ApiModel):
    """A geneve tunnel between one node and one gateway."""

    id: int = Field(ge=0, le=VNI_MAX)
    """Geneve virtual network identifier (24 bits), unique per tunnel."""
    internal_node_ref: ObjectReference
    """InternalNode end of the tunnel."""
    internal_fabric_ref: ObjectReference
    """InternalFabric (gateway) end of the tunnel."""


class GeneveTunnel(CustomResource):
    """A node-to-gateway geneve tunnel."""

    crd = CRDInfo(
        GROUP,
        VERSION,
        "GeneveTunnel",
        "genevetunnels",
        short_names=("gvtn", "gt"),
        printer_columns=(
            PrinterColumn("ID", "integer", ".spec.id"),
            PrinterColumn("InternalNode", "string", ".spec.internalNodeRef.name"),
            PrinterColumn("InternalFabric", "string", ".spec.internalFabricRef.name"),
            AGE_COLUMN,
        ),
    )

    spec: GeneveTunnelSpec
    """Tunnel ends."""


MODELS: list[type[CustomResource]] = [
    Configuration,
    GatewayServer,
    GatewayClient,
    PublicKey,
    Connection,
    InternalNode,
    InternalFabric,
    GeneveTunnel,
    RouteConfiguration,
    FirewallConfiguration,
]
