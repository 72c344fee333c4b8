"""``FirewallConfiguration`` (networking.liqo.io/v1beta1): an nftables table declared as a CR."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import ConfigDict, Field, model_validator

from liqo_core.api.base import ApiModel, cel, validations
from liqo_core.api.conditions import HostCondition
from liqo_core.api.meta import ObjectReference
from liqo_core.api.resource import CRDInfo, CustomResource

GROUP = "networking.liqo.io"
VERSION = "v1beta1"

Position = Literal["src", "dst"]


class MatchIP(ApiModel):
    """An address or prefix to match."""

    value: str
    """IP address, prefix or range."""
    position: Position
    """Match the source or the destination."""


class MatchPort(ApiModel):
    """A port or port range to match."""

    value: str
    """Port or range such as 3000-4000."""
    position: Position
    """Match the source or the destination port."""


class MatchDev(ApiModel):
    """An interface to match."""

    value: str
    """Interface name."""
    position: Literal["in", "out"]
    """Match the input or the output interface."""
    wildcard: bool | None = None
    """Match every interface whose name starts with value."""


class MatchProto(ApiModel):
    """A layer-4 protocol to match."""

    value: Literal["tcp", "udp"]
    """Protocol."""


class MatchMark(ApiModel):
    """A packet mark to match."""

    value: str
    """Mark value (decimal or 0x-prefixed)."""


class Match(ApiModel):
    """One condition of a rule; all the matches of a rule must hold."""

    op: Literal["eq", "neq"]
    """Whether the packet must (eq) or must not (neq) match."""
    ip: MatchIP | None = None
    """Address match."""
    port: MatchPort | None = None
    """Port match."""
    proto: MatchProto | None = None
    """Protocol match."""
    dev: MatchDev | None = None
    """Interface match."""
    mark: MatchMark | None = None
    """Packet mark match."""


class NatRule(ApiModel):
    """A rule of a nat chain."""

    name: str | None = None
    """Name of the rule."""
    match: list[Match]
    """Conditions, ANDed."""
    nat_type: Literal["dnat", "snat", "masquerade"]
    """Kind of translation."""
    to: str | None = None
    """Address or prefix to translate to (not for masquerade)."""
    target_ref: ObjectReference | None = None
    """Object the rule was generated for (informational)."""


FilterAction = Literal[
    "ctmark", "metamarkfromctmark", "tcpmssclamp", "accept", "drop", "reject", "notrack"
]


class FilterRule(ApiModel):
    """A rule of a filter chain."""

    name: str | None = None
    """Name of the rule."""
    counter: bool = True
    """Whether the rule counts packets and bytes."""
    match: list[Match]
    """Conditions, ANDed."""
    action: FilterAction
    """Action applied to matching packets."""
    value: str | None = None
    """Argument of the action (mark value, MSS...)."""


class RouteRule(ApiModel):
    """A rule of a route chain."""

    name: str | None = None
    """Name of the rule."""


_ONE_RULE_KIND = cel(
    "[has(self.natRules), has(self.filterRules), has(self.routeRules)].filter(x, x).size() == 1",
    "exactly one of natRules, filterRules and routeRules must be set",
)


class RulesSet(ApiModel):
    """The rules of a chain: exactly one kind, matching the chain type."""

    model_config = ConfigDict(json_schema_extra=validations(_ONE_RULE_KIND))

    nat_rules: list[NatRule] | None = None
    """Rules of a nat chain."""
    filter_rules: list[FilterRule] | None = None
    """Rules of a filter chain."""
    route_rules: list[RouteRule] | None = None
    """Rules of a route chain."""

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        present = [
            r for r in (self.nat_rules, self.filter_rules, self.route_rules) if r is not None
        ]
        if len(present) != 1:
            raise ValueError(_ONE_RULE_KIND["message"])
        return self


class Chain(ApiModel):
    """A base chain hooked into netfilter."""

    name: str = Field(min_length=1)
    """Name of the chain."""
    rules: RulesSet
    """Rules of the chain."""
    type: Literal["filter", "route", "nat"]
    """What the chain is for."""
    policy: Literal["drop", "accept"]
    """Verdict for packets no rule decided."""
    hook: Literal["prerouting", "input", "forward", "output", "postrouting", "ingress"]
    """Netfilter hook the chain is attached to."""
    priority: int = 0
    """Order relative to other chains (-300 raw, -100 dstnat, 0 filter, 100 srcnat)."""


class FirewallTable(ApiModel):
    """An nftables table."""

    name: str | None = None
    """Name of the table."""
    family: Literal["INET", "IPV4", "IPV6", "ARP", "NETDEV", "BRIDGE"] | None = None
    """Address family of the table."""
    chains: list[Chain] | None = None
    """Chains of the table."""


class FirewallConfigurationSpec(ApiModel):
    """Table to apply."""

    table: FirewallTable
    """The nftables table."""


class FirewallConfigurationStatus(ApiModel):
    """Outcome per host."""

    conditions: list[HostCondition] | None = None
    """One condition per host that applied the configuration."""


class FirewallConfiguration(CustomResource):
    """nftables rules applied by the hosts (nodes or gateways) its labels select."""

    crd = CRDInfo(
        GROUP,
        VERSION,
        "FirewallConfiguration",
        "firewallconfigurations",
        short_names=("fwcfg", "fwc", "fwcnf", "firewallcfg"),
    )

    spec: FirewallConfigurationSpec
    """Table to apply."""
    status: FirewallConfigurationStatus | None = None
    """Outcome per host."""
