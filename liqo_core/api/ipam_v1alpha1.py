"""``ipam.liqo.io/v1alpha1``: Network and IP, the requests behind Liqo's address management."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from liqo_core.api.base import IMMUTABLE, ApiModel, validations
from liqo_core.api.common import ServiceTemplate
from liqo_core.api.meta import ObjectReference
from liqo_core.api.resource import AGE_COLUMN, CRDInfo, CustomResource, PrinterColumn
from liqo_core.api.types import CIDR, IPv4

GROUP = "ipam.liqo.io"
VERSION = "v1alpha1"


class NetworkSpec(ApiModel):
    """Prefix to reserve."""

    cidr: Annotated[CIDR, Field(json_schema_extra=validations(IMMUTABLE))]
    """Desired prefix (immutable); a free prefix of the same size is granted on clashes."""
    pre_allocated: int | None = Field(default=None, ge=0)
    """Number of addresses reserved at the start of the prefix."""


class NetworkStatus(ApiModel):
    """Granted prefix."""

    cidr: CIDR | None = None
    """Prefix actually granted (differs from spec.cidr when remapped)."""


class Network(CustomResource):
    """A network prefix reserved from Liqo's IPAM."""

    crd = CRDInfo(
        GROUP,
        VERSION,
        "Network",
        "networks",
        short_names=("net",),
        printer_columns=(
            PrinterColumn("Desired CIDR", "string", ".spec.cidr"),
            PrinterColumn("Remapped CIDR", "string", ".status.cidr"),
            AGE_COLUMN,
        ),
    )

    spec: NetworkSpec
    """Desired prefix."""
    status: NetworkStatus | None = None
    """Granted prefix."""


class IPSpec(ApiModel):
    """Address to project."""

    ip: Annotated[IPv4, Field(json_schema_extra=validations(IMMUTABLE))]
    """Local address to remap (immutable)."""
    network_ref: ObjectReference | None = None
    """Network to allocate the remapped address from (default: the external CIDR)."""
    service_template: ServiceTemplate | None = None
    """Service (and EndpointSlice) created for the remapped address, if set."""
    masquerade: bool | None = None
    """Whether traffic to the address is masqueraded."""


class IPStatus(ApiModel):
    """Allocated address."""

    ip: Annotated[IPv4 | None, Field(json_schema_extra=validations(IMMUTABLE))] = None
    """Remapped address (immutable once allocated)."""
    cidr: Annotated[CIDR | None, Field(json_schema_extra=validations(IMMUTABLE))] = None
    """Prefix the remapped address belongs to (immutable once allocated)."""


class IP(CustomResource):
    """An address projected into a Liqo CIDR so peers can reach it."""

    crd = CRDInfo(
        GROUP,
        VERSION,
        "IP",
        "ips",
        printer_columns=(
            PrinterColumn("Local IP", "string", ".spec.ip"),
            PrinterColumn("Remapped IP", "string", ".status.ip"),
            PrinterColumn("Remapped IP CIDR", "string", ".status.cidr"),
            AGE_COLUMN,
        ),
    )

    spec: IPSpec
    """Address to project."""
    status: IPStatus | None = None
    """Allocated address."""


MODELS: list[type[CustomResource]] = [Network, IP]
