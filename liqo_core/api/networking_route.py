"""``RouteConfiguration`` (networking.liqo.io/v1beta1): policy routing declared as a CR."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import ConfigDict, Field, model_validator

from liqo_core.api.base import ApiModel, cel, validations
from liqo_core.api.conditions import HostCondition
from liqo_core.api.meta import ObjectReference
from liqo_core.api.resource import CRDInfo, CustomResource
from liqo_core.api.types import CIDR, IPv4

GROUP = "networking.liqo.io"
VERSION = "v1beta1"

RouteScope = Literal["global", "link", "host", "site", "nowhere"]


class NextHop(ApiModel):
    """One next hop of a multipath route."""

    gw: IPv4
    """Gateway address of the next hop."""
    dev: str
    """Interface through which the next hop is reached."""
    weight: int | None = Field(default=None, ge=0, le=255)
    """Relative share of traffic (0 behaves as 1)."""


_GW_XOR_NEXTHOPS = cel("!(has(self.gw) && has(self.nextHops))", "gw and nextHops are exclusive")


class Route(ApiModel):
    """A route of a routing table."""

    model_config = ConfigDict(json_schema_extra=validations(_GW_XOR_NEXTHOPS))

    dst: CIDR
    """Destination prefix."""
    src: IPv4 | None = None
    """Preferred source address."""
    gw: IPv4 | None = None
    """Gateway address."""
    next_hops: list[NextHop] | None = None
    """Next hops of a multipath route (exclusive with gw)."""
    dev: str | None = None
    """Output interface."""
    onlink: bool | None = None
    """Treat the gateway as directly reachable on the interface."""
    scope: RouteScope | None = None
    """Route scope."""
    target_ref: ObjectReference | None = None
    """Object the route was generated for (informational)."""

    @model_validator(mode="after")
    def _gw_xor_next_hops(self) -> Self:
        if self.gw is not None and self.next_hops is not None:
            raise ValueError(_GW_XOR_NEXTHOPS["message"])
        return self


class Rule(ApiModel):
    """A policy-routing rule and the routes of its table."""

    dst: CIDR | None = None
    """Destination prefix matched."""
    src: CIDR | None = None
    """Source prefix matched."""
    iif: str | None = None
    """Input interface matched."""
    oif: str | None = None
    """Output interface matched."""
    fwmark: int | None = Field(default=None, ge=0)
    """Firewall mark matched."""
    priority: int | None = Field(default=None, ge=0)
    """Rule priority (lower first)."""
    routes: list[Route]
    """Routes installed in the table."""
    target_ref: ObjectReference | None = None
    """Object the rule was generated for (informational)."""


class RouteTable(ApiModel):
    """A routing table with its rules."""

    name: str = Field(min_length=1)
    """Name of the routing table."""
    rules: list[Rule] = Field(min_length=1)
    """Rules steering traffic into the table (at least one)."""
    target_ref: ObjectReference | None = None
    """Object the table was generated for (informational)."""


class RouteConfigurationSpec(ApiModel):
    """Routes to apply."""

    table: RouteTable
    """The routing table."""


class RouteConfigurationStatus(ApiModel):
    """Outcome per host."""

    conditions: list[HostCondition] | None = None
    """One condition per host that applied the configuration."""


class RouteConfiguration(CustomResource):
    """Routes and rules applied by the hosts (nodes or gateways) its labels select."""

    crd = CRDInfo(
        GROUP,
        VERSION,
        "RouteConfiguration",
        "routeconfigurations",
        short_names=("rcfg", "rcnf", "routecfg"),
    )

    spec: RouteConfigurationSpec
    """Routes to apply."""
    status: RouteConfigurationStatus | None = None
    """Outcome per host."""
