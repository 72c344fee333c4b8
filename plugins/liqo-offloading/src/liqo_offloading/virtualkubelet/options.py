"""The virtual kubelet's flags (upstream ``cmd/virtual-kubelet/root/flag.go`` names and
defaults) parsed into :class:`VirtualKubeletOptions`, and its process settings section.

The VirtualNode controller writes these flags into the virtual kubelet Deployment
(contract 1 of the offloading brief), so every upstream flag it may pass is accepted,
including those of features still to come (storage, ingress, load balancers, API-server
support); :meth:`VirtualKubeletOptions.unsupported` names the ones asked for but not
implemented yet, for a warning. Bad values stop the process with one line naming the flag.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import click
from pydantic import Field

from liqo_core.errors import SettingsError
from liqo_core.kube.names import check_dns1123_label, check_dns1123_subdomain
from liqo_core.settings import ComponentSettings, LeaderElectionSettings, SettingsSection

#: Reflected resources and their default worker counts (upstream DefaultReflectorsWorkers).
REFLECTOR_WORKERS: dict[str, int] = {
    "pod": 10,
    "service": 3,
    "endpointslice": 10,
    "ingress": 3,
    "configmap": 3,
    "secret": 3,
    "serviceaccount": 3,
    "persistentvolumeclaim": 3,
    "event": 3,
}
#: Resources whose reflection policy is configurable, with upstream's defaults.
REFLECTOR_TYPES: dict[str, str] = {
    "service": "DenyList",
    "ingress": "DenyList",
    "configmap": "DenyList",
    "secret": "DenyList",
    "event": "DenyList",
}
REFLECTION_TYPES = ("DenyList", "AllowList")
CERTIFICATE_TYPES = ("kubelet", "aws", "self-signed")
#: Flags of features still to come (issue 11 and later): accepted, warned about.
_FEATURE_FLAGS = (
    "enable-apiserver-support",
    "enable-storage",
    "enable-ingress",
    "enable-load-balancer",
    "enable-profiling",
)

_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Seconds of a Go duration (``10s``, ``1m30s``, ``10h0m0s``, ``500ms``, ``0``).

    :raises ValueError: ``text`` is not a duration.
    """
    value = text.strip()
    if value in ("0", ""):
        return 0.0
    parts = _DURATION.findall(value)
    if not parts or "".join(number + unit for number, unit in parts) != value:
        raise ValueError(f"{text!r} is not a duration such as '10s', '1m30s' or '500ms'")
    return sum(float(number) * _UNITS[unit] for number, unit in parts)


def parse_string_map(text: str) -> dict[str, str]:
    """``k1=v1,k2=v2`` (upstream's StringMap flag) as a dict.

    :raises ValueError: an item has no ``=`` or an empty key.
    """
    result: dict[str, str] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{item!r} is not key=value")
        result[key.strip()] = value.strip()
    return result


def _split(values: Sequence[str] | None) -> tuple[str, ...]:
    """Repeated and comma-separated values (pflag's StringSlice)."""
    return tuple(v.strip() for value in values or () for v in value.split(",") if v.strip())


class _Duration(click.ParamType[float]):
    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, int | float):
            return float(value)
        try:
            return parse_duration(str(value))
        except ValueError as err:
            self.fail(str(err), param, ctx)


class _StringMap(click.ParamType[dict[str, str]]):
    name = "key=value,..."

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, dict):
            return value
        try:
            return parse_string_map(str(value))
        except ValueError as err:
            self.fail(str(err), param, ctx)


DURATION = _Duration()
STRING_MAP = _StringMap()


def _bool(name: str, default: bool, help: str) -> click.Option:
    """A Go-style boolean flag: ``--name``, ``--name=true`` or ``--name=false``."""
    return click.Option(
        [f"--{name}"],
        type=click.BOOL,
        default=default,
        is_flag=False,
        flag_value="true",
        show_default=True,
        help=help,
    )


def _text(name: str, default: str | None, help: str) -> click.Option:
    return click.Option([f"--{name}"], default=default, show_default=default is not None, help=help)


def _slice(name: str, help: str) -> click.Option:
    return click.Option([f"--{name}"], multiple=True, help=f"{help} (repeat or comma-separate).")


def _duration(name: str, default: str, help: str) -> click.Option:
    return click.Option([f"--{name}"], type=DURATION, default=default, show_default=True, help=help)


def parameters() -> list[click.Parameter]:
    """The role's click parameters: upstream's virtual-kubelet flags."""
    params: list[click.Parameter] = [
        _text("foreign-cluster-id", None, "The ID of the foreign (provider) cluster."),
        _text(
            "foreign-kubeconfig-secret-name",
            None,
            "Secret (tenant namespace, key 'kubeconfig') to reach the provider's API server.",
        ),
        _text("nodename", "virtual-kubelet", "The name of the node registered by the kubelet."),
        _text("tenant-namespace", "default", "The tenant namespace of the provider."),
        _text("liqo-namespace", "liqo", "The namespace where Liqo is installed."),
        _text("home-cluster-id", None, "The ID of the home (consumer) cluster."),
        _duration("resync-period", "10h", "The resync period of the informers."),
        _bool("disable-ip-reflection", False, "Leave the IP of offloaded pods empty."),
        _slice("local-podcidr", "The CIDRs of the local pods"),
        _text("node-ip", "", "The IP of the virtual kubelet pod: the Node's InternalIP."),
        click.Option(
            ["--certificate-type"],
            type=click.Choice(CERTIFICATE_TYPES),
            default="kubelet",
            show_default=True,
            help="The kind of serving certificate of the kubelet endpoint.",
        ),
        click.Option(
            ["--listen-port"],
            type=click.IntRange(1, 65535),
            default=10250,
            show_default=True,
            help="The port of the kubelet endpoint (the Node's daemonEndpoints).",
        ),
        _bool("enable-profiling", False, "Enable profiling (not supported: ignored)."),
    ]
    for kind, workers in REFLECTOR_WORKERS.items():
        params.append(
            click.Option(
                [f"--{kind}-reflection-workers"],
                type=click.IntRange(min=0),
                default=workers,
                show_default=True,
                help=f"The number of workers of the {kind} reflector (0 disables it).",
            )
        )
    for kind, policy in REFLECTOR_TYPES.items():
        params.append(
            click.Option(
                [f"--{kind}-reflection-type"],
                type=click.Choice(REFLECTION_TYPES),
                default=policy,
                show_default=True,
                help=f"The reflection policy of the {kind} reflector.",
            )
        )
    params += [
        _duration("node-lease-duration", "40s", "The duration of the node Lease."),
        _duration(
            "node-ping-interval", "10s", "How often the remote API server is checked (0: never)."
        ),
        _duration("node-ping-timeout", "1s", "The timeout of the remote API server check."),
        _bool("node-check-network", True, "The Node is Ready only while the network is up."),
        click.Option(
            ["--node-extra-annotations"], type=STRING_MAP, default="", help="Node annotations."
        ),
        click.Option(["--node-extra-labels"], type=STRING_MAP, default="", help="Node labels."),
        _bool("enable-apiserver-support", False, "Let offloaded pods reach the home API server."),
        _bool("enable-storage", False, "Enable the Liqo storage reflection."),
        _text("virtual-storage-class-name", "liqo", "The virtual storage class."),
        _text("remote-real-storage-class-name", "", "The provider's storage class."),
        _bool("enable-ingress", False, "Enable the Liqo ingress reflection."),
        _text("remote-real-ingress-class-name", "", "The provider's ingress class."),
        _bool("enable-load-balancer", False, "Enable the Liqo load balancer reflection."),
        _text("remote-real-load-balancer-class-name", "", "The provider's LB class."),
        _bool("metrics-enabled", False, "Serve metrics on --metrics-address."),
        _text("metrics-address", ":8082", "The [host]:port of the metrics."),
        _text("home-api-server-host", "", "Home API server host (overrides the default)."),
        _text("home-api-server-port", "", "Home API server port (overrides the default)."),
        _slice("remote-pod-cidr", "Provider pod CIDRs as the provider knows them"),
        _slice("remote-pod-cidr-remap", "Provider pod CIDRs as remapped here"),
        _slice("remote-external-cidr", "Provider external CIDRs as the provider knows them"),
        _slice("remote-external-cidr-remap", "Provider external CIDRs as remapped here"),
        _bool("create-node", True, "Create the virtual Node in the home cluster."),
        _bool("vk-lease-enabled", True, "Elect a leader among the replicas (a Lease)."),
        _duration("vk-lease-duration", "15s", "How long a leader's Lease lasts."),
        _duration("vk-lease-renew-interval", "10s", "How long a leader retries renewing."),
        _duration("vk-lease-retry-period", "5s", "How long between election attempts."),
    ]
    return params


@dataclass(frozen=True)
class CIDRPair:
    """CIDRs as the provider knows them and as they are remapped on this cluster."""

    original: tuple[str, ...] = ()
    remapped: tuple[str, ...] = ()


@dataclass(frozen=True)
class RemoteCIDRs:
    """The provider's pod and external CIDRs with their remapping (upstream RemoteCIDR)."""

    pod: CIDRPair = field(default_factory=CIDRPair)
    external: CIDRPair = field(default_factory=CIDRPair)


@dataclass(frozen=True)
class ReflectorOptions:
    """Workers and policy of one reflected resource."""

    workers: int
    policy: str = "CustomLiqo"


@dataclass(frozen=True)
class VirtualKubeletOptions:
    """The virtual kubelet's configuration, from its flags."""

    foreign_cluster_id: str
    kubeconfig_secret: str
    home_cluster_id: str
    node_name: str = "virtual-kubelet"
    tenant_namespace: str = "default"
    liqo_namespace: str = "liqo"
    node_ip: str = ""
    resync_period: float = 36000.0
    disable_ip_reflection: bool = False
    local_pod_cidrs: tuple[str, ...] = ()
    listen_port: int = 10250
    reflectors: Mapping[str, ReflectorOptions] = field(default_factory=dict)
    node_lease_duration: float = 40.0
    node_ping_interval: float = 10.0
    node_ping_timeout: float = 1.0
    node_check_network: bool = True
    node_extra_labels: Mapping[str, str] = field(default_factory=dict)
    node_extra_annotations: Mapping[str, str] = field(default_factory=dict)
    create_node: bool = True
    enable_apiserver_support: bool = False
    metrics_enabled: bool = False
    metrics_address: str = ":8082"
    remote_cidrs: RemoteCIDRs | None = None
    lease_enabled: bool = True
    lease_duration: float = 15.0
    lease_renew_deadline: float = 10.0
    lease_retry_period: float = 5.0
    #: Features asked for by flags that this virtual kubelet does not implement yet.
    requested_features: tuple[str, ...] = ()

    @property
    def metrics_port(self) -> int | None:
        """The port of ``--metrics-address`` when metrics are enabled, else None."""
        if not self.metrics_enabled:
            return None
        return int(self.metrics_address.rpartition(":")[2])

    def workers(self, kind: str) -> int:
        """Workers of reflector ``kind`` (``pod``, ``configmap``...)."""
        found = self.reflectors.get(kind)
        return found.workers if found is not None else REFLECTOR_WORKERS.get(kind, 0)

    def unsupported(self) -> list[str]:
        """What the flags ask for that is not implemented yet (for a warning)."""
        return list(self.requested_features)


def _required(arguments: Mapping[str, Any], name: str, fallback: str | None = None) -> str:
    value = arguments.get(name.replace("-", "_")) or fallback
    if not value:
        raise SettingsError(f"--{name} is required")
    return str(value)


def _check(flag: str, check: Any, value: str) -> str:
    try:
        check(value)
    except ValueError as err:
        raise SettingsError(f"invalid --{flag} {value!r}: {err}") from None
    return value


def _cidrs(flag: str, values: Sequence[str]) -> tuple[str, ...]:
    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise SettingsError(f"invalid --{flag} {value!r}: not a CIDR") from None
    return tuple(values)


def _remote_cidrs(arguments: Mapping[str, Any]) -> RemoteCIDRs | None:
    """Upstream's buildRemoteCIDR: None without CIDR flags, an error on length mismatch."""
    lists = {
        name: _cidrs(name, _split(arguments.get(name.replace("-", "_"))))
        for name in (
            "remote-pod-cidr",
            "remote-pod-cidr-remap",
            "remote-external-cidr",
            "remote-external-cidr-remap",
        )
    }
    if not any(lists.values()):
        return None
    for kind in ("pod", "external"):
        original, remapped = lists[f"remote-{kind}-cidr"], lists[f"remote-{kind}-cidr-remap"]
        if len(original) != len(remapped):
            raise SettingsError(
                f"--remote-{kind}-cidr and --remote-{kind}-cidr-remap differ in length "
                f"({len(original)} vs {len(remapped)})"
            )
    return RemoteCIDRs(
        pod=CIDRPair(lists["remote-pod-cidr"], lists["remote-pod-cidr-remap"]),
        external=CIDRPair(lists["remote-external-cidr"], lists["remote-external-cidr-remap"]),
    )


def _metrics_address(value: str) -> str:
    port = value.rpartition(":")[2]
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise SettingsError(f"invalid --metrics-address {value!r}: expected [host]:port")
    return value


def parse(
    arguments: Mapping[str, Any], home_cluster_id: str | None = None
) -> VirtualKubeletOptions:
    """Check the role's flag values and build the options.

    :param home_cluster_id: The settings' cluster id, used when ``--home-cluster-id`` is
        not given.
    :raises SettingsError: a required flag is missing or a value is invalid (one line).
    """
    a = arguments
    foreign = _check("foreign-cluster-id", check_dns1123_label, _required(a, "foreign-cluster-id"))
    home = _check(
        "home-cluster-id", check_dns1123_label, _required(a, "home-cluster-id", home_cluster_id)
    )
    secret = _check(
        "foreign-kubeconfig-secret-name",
        check_dns1123_subdomain,
        _required(a, "foreign-kubeconfig-secret-name"),
    )
    node = _check("nodename", check_dns1123_subdomain, str(a.get("nodename") or "virtual-kubelet"))
    tenant = _check("tenant-namespace", check_dns1123_label, str(a.get("tenant_namespace") or ""))
    node_ip = str(a.get("node_ip") or "")
    if node_ip:
        try:
            ipaddress.ip_address(node_ip)
        except ValueError:
            raise SettingsError(f"invalid --node-ip {node_ip!r}: not an IP address") from None
    reflectors = {
        kind: ReflectorOptions(
            workers=int(a.get(f"{kind}_reflection_workers", default)),
            policy=str(a.get(f"{kind}_reflection_type") or REFLECTOR_TYPES.get(kind, "CustomLiqo")),
        )
        for kind, default in REFLECTOR_WORKERS.items()
    }
    # The endpointslice reflector follows the service reflector's policy (upstream).
    reflectors["endpointslice"] = ReflectorOptions(
        reflectors["endpointslice"].workers, reflectors["service"].policy
    )
    for kind in ("pod", "serviceaccount", "persistentvolumeclaim"):
        reflectors[kind] = ReflectorOptions(reflectors[kind].workers, "CustomLiqo")
    features = [flag for flag in _FEATURE_FLAGS if a.get(flag.replace("-", "_"))]
    lease = (
        float(a.get("vk_lease_duration", 15.0)),
        float(a.get("vk_lease_renew_interval", 10.0)),
        float(a.get("vk_lease_retry_period", 5.0)),
    )
    if bool(a.get("vk_lease_enabled", True)) and not lease[0] > lease[1] > 1.2 * lease[2] > 0:
        raise SettingsError(
            "invalid --vk-lease-*: need duration > renew interval > 1.2 x retry period > 0"
        )
    if float(a.get("node_lease_duration", 40.0)) <= 0:
        raise SettingsError("invalid --node-lease-duration: must be positive")
    return VirtualKubeletOptions(
        foreign_cluster_id=foreign,
        kubeconfig_secret=secret,
        home_cluster_id=home,
        node_name=node,
        tenant_namespace=tenant,
        liqo_namespace=str(a.get("liqo_namespace") or "liqo"),
        node_ip=node_ip,
        resync_period=float(a.get("resync_period", 36000.0)),
        disable_ip_reflection=bool(a.get("disable_ip_reflection", False)),
        local_pod_cidrs=_cidrs("local-podcidr", _split(a.get("local_podcidr"))),
        listen_port=int(a.get("listen_port", 10250)),
        reflectors=reflectors,
        node_lease_duration=float(a.get("node_lease_duration", 40.0)),
        node_ping_interval=float(a.get("node_ping_interval", 10.0)),
        node_ping_timeout=float(a.get("node_ping_timeout", 1.0)),
        node_check_network=bool(a.get("node_check_network", True)),
        node_extra_labels=dict(a.get("node_extra_labels") or {}),
        node_extra_annotations=dict(a.get("node_extra_annotations") or {}),
        create_node=bool(a.get("create_node", True)),
        enable_apiserver_support=bool(a.get("enable_apiserver_support", False)),
        metrics_enabled=bool(a.get("metrics_enabled", False)),
        metrics_address=_metrics_address(str(a.get("metrics_address") or ":8082")),
        remote_cidrs=_remote_cidrs(a),
        lease_enabled=bool(a.get("vk_lease_enabled", True)),
        lease_duration=lease[0],
        lease_renew_deadline=lease[1],
        lease_retry_period=lease[2],
        requested_features=tuple(features),
    )


class VirtualKubeletElection(LeaderElectionSettings):
    """The virtual kubelet's replicas elect a leader on Lease ``<nodename>`` in the
    tenant namespace (upstream); ``--vk-lease-*`` set the timings."""

    lease_name: str = "virtual-kubelet"


class VirtualKubeletSettings(ComponentSettings, SettingsSection):
    """Process settings of ``liqo virtual-kubelet`` (key ``virtualKubelet``): probe and
    metrics ports, and whether leader election may run at all. The role's own flags
    take precedence (``--metrics-address`` with ``--metrics-enabled``, ``--vk-lease-*``)."""

    key: ClassVar[str] = "virtualKubelet"

    leader_election: VirtualKubeletElection = Field(default_factory=VirtualKubeletElection)
