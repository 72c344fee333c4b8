"""WireGuard gateway kinds (``networking.liqo.io/v1beta1``, upstream's group and names).

``WgGatewayServer``/``WgGatewayClient`` are the implementation objects the transport-agnostic
GatewayServer/GatewayClient operators render from the ``Wg*Template`` kinds. ``MODELS``
lists them for CRD generation (``liqo_api_models`` hook, ``crdgen --models``).
"""

from __future__ import annotations

from liqo_core.api.base import ApiModel
from liqo_core.api.common import DeploymentTemplate, ServiceTemplate
from liqo_core.api.consts import GATEWAY_TEMPLATE_LABEL
from liqo_core.api.meta import LocalObjectReference, ObjectReference
from liqo_core.api.networking_gateway import EndpointStatus, InternalGatewayEndpoint
from liqo_core.api.resource import AGE_COLUMN, CRDInfo, CustomResource, PrinterColumn
from liqo_core.api.types import KubeObject

GROUP = "networking.liqo.io"
VERSION = "v1beta1"


class Metrics(ApiModel):
    """Prometheus metrics of the gateway."""

    enabled: bool = False
    """Whether the gateway exposes metrics."""
    service: ServiceTemplate | None = None
    """Service exposing the metrics endpoint."""
    service_monitor: KubeObject | None = None
    """Prometheus Operator ServiceMonitor settings (labels, interval, ...)."""


class WgGatewayServerSpec(ApiModel):
    """WireGuard server gateway to deploy."""

    service: ServiceTemplate
    """Service exposing the WireGuard port(s) to clients."""
    deployment: DeploymentTemplate
    """Deployment running the gateway pods."""
    metrics: Metrics | None = None
    """Metrics of the gateway."""
    secret_ref: LocalObjectReference | None = None
    """Secret with the WireGuard keys (privateKey, publicKey)."""


class WgGatewayServerStatus(ApiModel):
    """Deployed WireGuard server."""

    secret_ref: ObjectReference | None = None
    """Secret with the WireGuard keys."""
    endpoint: EndpointStatus | None = None
    """Where clients reach the server."""
    internal_endpoint: InternalGatewayEndpoint | None = None
    """Active gateway pod."""


class WgGatewayServer(CustomResource):
    """A WireGuard tunnel server gateway."""

    crd = CRDInfo(
        GROUP,
        VERSION,
        "WgGatewayServer",
        "wggatewayservers",
        short_names=("wgs", "wgserver"),
        printer_columns=(
            PrinterColumn("IP", "string", ".status.endpoint.addresses[*]"),
            PrinterColumn("Port", "string", ".status.endpoint.port"),
            AGE_COLUMN,
        ),
    )

    spec: WgGatewayServerSpec
    """Server to deploy."""
    status: WgGatewayServerStatus | None = None
    """Deployed server."""


class WgGatewayClientSpec(ApiModel):
    """WireGuard client gateway to deploy."""

    deployment: DeploymentTemplate
    """Deployment running the gateway pods."""
    metrics: Metrics | None = None
    """Metrics of the gateway."""
    secret_ref: LocalObjectReference | None = None
    """Secret with the WireGuard keys (privateKey, publicKey)."""


class WgGatewayClientStatus(ApiModel):
    """Deployed WireGuard client."""

    secret_ref: ObjectReference | None = None
    """Secret with the WireGuard keys."""
    internal_endpoint: InternalGatewayEndpoint | None = None
    """Active gateway pod."""


class WgGatewayClient(CustomResource):
    """A WireGuard tunnel client gateway."""

    crd = CRDInfo(
        GROUP, VERSION, "WgGatewayClient", "wggatewayclients", short_names=("wgc", "wgclient")
    )

    spec: WgGatewayClientSpec
    """Client to deploy."""
    status: WgGatewayClientStatus | None = None
    """Deployed client."""


class ObjectKind(ApiModel):
    """Kind of the object a gateway template renders."""

    api_version: str
    """API version of the rendered object."""
    kind: str
    """Kind of the rendered object."""


class GatewayTemplateSpec(ApiModel):
    """A gateway template: kind of the rendered object and its content."""

    object_kind: ObjectKind
    """Kind of the rendered object (e.g. WgGatewayServer)."""
    template: KubeObject
    """metadata and spec of the rendered object; string leaves are Go templates."""


_TEMPLATE_LABELS = {GATEWAY_TEMPLATE_LABEL: "true"}


class WgGatewayServerTemplate(CustomResource):
    """Template from which GatewayServers render their WgGatewayServer."""

    crd = CRDInfo(
        GROUP,
        VERSION,
        "WgGatewayServerTemplate",
        "wggatewayservertemplates",
        short_names=("wgst", "wgservertemplate"),
        labels=_TEMPLATE_LABELS,
    )

    spec: GatewayTemplateSpec
    """Template."""


class WgGatewayClientTemplate(CustomResource):
    """Template from which GatewayClients render their WgGatewayClient."""

    crd = CRDInfo(
        GROUP,
        VERSION,
        "WgGatewayClientTemplate",
        "wggatewayclienttemplates",
        short_names=("wgct", "wgclienttemplate"),
        labels=_TEMPLATE_LABELS,
    )

    spec: GatewayTemplateSpec
    """Template."""


MODELS: list[type[CustomResource]] = [
    WgGatewayServer,
    WgGatewayClient,
    WgGatewayServerTemplate,
    WgGatewayClientTemplate,
]
