"""GatewayServer and GatewayClient (networking.liqo.io/v1beta1): transport-agnostic gateways.

Each renders a transport-specific object (e.g. WgGatewayServer) from the template it
references; the endpoint types are shared with transports.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import ConfigDict, Field, model_validator

from liqo_core.api.base import ApiModel, cel, validations
from liqo_core.api.meta import LocalObjectReference, ObjectReference
from liqo_core.api.resource import AGE_COLUMN, CRDInfo, CustomResource, PrinterColumn
from liqo_core.api.types import IPv4, Port

GROUP = "networking.liqo.io"
VERSION = "v1beta1"
MAX_PORTS = 64


def _unique(field: str) -> dict[str, str]:
    return cel(
        f"!has(self.{field}) || self.{field}.all(p, self.{field}.exists_one(q, q == p))",
        f"{field} must not contain duplicates",
        field_path=f".{field}",
    )


def _exclusive(one: str, many: str) -> dict[str, str]:
    return cel(f"!(has(self.{one}) && has(self.{many}))", f"{one} and {many} are exclusive")


_AT_LEAST_ONE_PORT = cel(
    "has(self.port) || (has(self.ports) && size(self.ports) > 0)",
    "at least one port must be set (port or ports)",
)

ServiceType = Literal["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"]


def _check_ports(
    one: int | None, many: list[int] | None, one_name: str, many_name: str, required: bool
) -> None:
    if one is not None and many is not None:
        raise ValueError(f"{one_name} and {many_name} are exclusive")
    if many is not None and len(set(many)) != len(many):
        raise ValueError(f"{many_name} must not contain duplicates")
    if required and one is None and not many:
        raise ValueError("at least one port must be set (port or ports)")


class Endpoint(ApiModel):
    """How the gateway server is exposed."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            _exclusive("port", "ports"),
            _exclusive("nodePort", "nodePorts"),
            _AT_LEAST_ONE_PORT,
            _unique("ports"),
            _unique("nodePorts"),
        )
    )

    port: Port | None = None
    """Port of the endpoint (deprecated: use ports)."""
    ports: list[Port] | None = Field(default=None, max_length=MAX_PORTS)
    """Ports of the endpoint, one tunnel each (at most 64)."""
    service_type: ServiceType = "ClusterIP"
    """Type of the Service exposing the gateway."""
    node_port: Port | None = None
    """Static node port (NodePort services; deprecated: use nodePorts)."""
    node_ports: list[Port] | None = Field(default=None, max_length=MAX_PORTS)
    """Static node ports, aligned with ports."""
    load_balancer_ip: str | None = None
    """Requested load balancer address (LoadBalancer services, if the provider supports it)."""

    @model_validator(mode="after")
    def _ports(self) -> Self:
        _check_ports(self.port, self.ports, "port", "ports", required=True)
        _check_ports(self.node_port, self.node_ports, "nodePort", "nodePorts", required=False)
        return self


class EndpointStatus(ApiModel):
    """Where a gateway server can be reached."""

    model_config = ConfigDict(
        json_schema_extra=validations(_exclusive("port", "ports"), _unique("ports"))
    )

    addresses: list[str] | None = None
    """Addresses (IPs or host names) of the endpoint."""
    port: Port | None = None
    """Port of the endpoint (deprecated: use ports)."""
    ports: list[Port] | None = Field(default=None, max_length=MAX_PORTS)
    """Ports of the endpoint."""
    protocol: Literal["TCP", "UDP"] | None = None
    """Transport protocol of the endpoint."""

    @model_validator(mode="after")
    def _ports(self) -> Self:
        _check_ports(self.port, self.ports, "port", "ports", required=False)
        return self


class InternalGatewayEndpoint(ApiModel):
    """The active gateway pod, as the in-cluster fabric reaches it."""

    ip: IPv4 | None = None
    """IP address of the active gateway pod."""
    node: str | None = None
    """Node running the active gateway pod."""


class GatewayServerSpec(ApiModel):
    """Gateway server to deploy."""

    server_template_ref: ObjectReference
    """Template rendering the transport-specific server (e.g. WgGatewayServerTemplate)."""
    mtu: int | None = Field(default=None, ge=576)
    """MTU of the tunnel."""
    endpoint: Endpoint
    """How the server is exposed to clients."""
    secret_ref: LocalObjectReference | None = None
    """Secret with the gateway keys (generated when omitted)."""
    service_annotations: dict[str, str] | None = None
    """Annotations added to the server Service."""
    service_labels: dict[str, str] | None = None
    """Labels added to the server Service."""


class GatewayServerStatus(ApiModel):
    """Deployed server."""

    server_ref: ObjectReference | None = None
    """Transport-specific server object."""
    endpoint: EndpointStatus | None = None
    """Where clients reach the server."""
    secret_ref: ObjectReference | None = None
    """Secret with the gateway keys."""
    internal_endpoint: InternalGatewayEndpoint | None = None
    """Active gateway pod."""


class GatewayServer(CustomResource):
    """Gateway that accepts the tunnel from a peer's GatewayClient."""

    crd = CRDInfo(
        GROUP,
        VERSION,
        "GatewayServer",
        "gatewayservers",
        short_names=("gws", "gwserver"),
        printer_columns=(
            PrinterColumn("Template Kind", "string", ".spec.serverTemplateRef.kind", 1),
            PrinterColumn("Template Name", "string", ".spec.serverTemplateRef.name"),
            PrinterColumn("IP", "string", ".status.endpoint.addresses[*]"),
            PrinterColumn("Port", "string", ".status.endpoint.port"),
            PrinterColumn("MTU", "integer", ".spec.mtu", 1),
            AGE_COLUMN,
        ),
    )

    spec: GatewayServerSpec
    """Server to deploy."""
    status: GatewayServerStatus | None = None
    """Deployed server."""


class GatewayClientSpec(ApiModel):
    """Gateway client to deploy."""

    client_template_ref: ObjectReference
    """Template rendering the transport-specific client (e.g. WgGatewayClientTemplate)."""
    mtu: int | None = Field(default=None, ge=576)
    """MTU of the tunnel."""
    endpoint: EndpointStatus
    """Server endpoint to connect to."""
    secret_ref: LocalObjectReference | None = None
    """Secret with the gateway keys (generated when omitted)."""


class GatewayClientStatus(ApiModel):
    """Deployed client."""

    client_ref: ObjectReference | None = None
    """Transport-specific client object."""
    secret_ref: ObjectReference | None = None
    """Secret with the gateway keys."""
    internal_endpoint: InternalGatewayEndpoint | None = None
    """Active gateway pod."""


class GatewayClient(CustomResource):
    """Gateway that opens the tunnel to a peer's GatewayServer."""

    crd = CRDInfo(
        GROUP,
        VERSION,
        "GatewayClient",
        "gatewayclients",
        short_names=("gwc", "gwclient"),
        printer_columns=(
            PrinterColumn("Template Name", "string", ".spec.clientTemplateRef.name"),
            PrinterColumn("IP", "string", ".spec.endpoint.addresses[*]"),
            PrinterColumn("Port", "string", ".spec.endpoint.port"),
            PrinterColumn("MTU", "integer", ".spec.mtu", 1),
            AGE_COLUMN,
        ),
    )

    spec: GatewayClientSpec
    """Client to deploy."""
    status: GatewayClientStatus | None = None
    """Deployed client."""
