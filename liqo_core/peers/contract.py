"""What a module tells the ForeignCluster controller about one peer.

A module answers :func:`liqo_core.hookspecs.liqo_peer_status_sources` with
:class:`PeerStatusSource` objects: the resources whose objects make a peer known (the
controller creates that peer's ForeignCluster) and an async function that reports the
module's view of one peer as a :class:`ModulePeerStatus`. The same function feeds
``liqoctl info peer``, which prints its :class:`PeerDetail` lines.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from liqo_core.api.consts import REMOTE_CLUSTER_ID_LABEL

if TYPE_CHECKING:
    from liqo_core.kube import Kube

#: The modules a ForeignCluster has a section for (``status.modules.<name>``).
ModuleName = Literal["networking", "authentication", "offloading"]
MODULE_NAMES: tuple[ModuleName, ...] = ("networking", "authentication", "offloading")


def labelled_peer(obj: Mapping[str, Any]) -> str | None:
    """The peer an object belongs to: its ``liqo.io/remote-cluster-id`` label."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    value = labels.get(REMOTE_CLUSTER_ID_LABEL)
    return str(value) if value else None


@dataclass(frozen=True)
class WatchedResource:
    """A resource whose objects make a peer known.

    :param group: API group (``""`` for the core group).
    :param version: API version.
    :param plural: Resource name (``tenants``, ``secrets``).
    :param labels: Label filter: ``{key: value}`` requires that value, ``{key: None}``
        just the key. Default: objects labelled ``liqo.io/remote-cluster-id``.
    :param peer_of: Which peer an object belongs to (None: none). Default: the label.
    """

    group: str
    version: str
    plural: str
    labels: Mapping[str, str | None] = field(
        default_factory=lambda: {REMOTE_CLUSTER_ID_LABEL: None}
    )
    peer_of: Callable[[Mapping[str, Any]], str | None] = labelled_peer

    @property
    def path(self) -> str:
        """REST path of the resource, cluster-wide."""
        prefix = f"/apis/{self.group}" if self.group else "/api"
        return f"{prefix}/{self.version}/{self.plural}"

    @property
    def selector(self) -> str | None:
        """The label filter as a label selector (None when empty)."""
        parts = [key if value is None else f"{key}={value}" for key, value in self.labels.items()]
        return ",".join(parts) or None


PeerConditionStatus = Literal[
    "None", "Pending", "Established", "Error", "Ready", "NotReady", "SomeNotReady"
]


@dataclass(frozen=True)
class PeerCondition:
    """One ForeignCluster condition (Liqo enum style), without its transition time.

    :param type: Upstream type, e.g. ``AuthTenantStatus``.
    :param status: Upstream status, e.g. ``Ready``.
    :param reason: CamelCase cause.
    :param message: One human-readable line; never secrets.
    """

    type: str
    status: PeerConditionStatus
    reason: str = ""
    message: str = ""


DetailState = Literal["done", "waiting", "stuck"]


@dataclass(frozen=True)
class PeerDetail:
    """One line of ``liqoctl info peer``: what is done, what waits, what is stuck and why."""

    state: DetailState
    text: str


@dataclass
class ModulePeerStatus:
    """A module's view of one peer.

    :param in_use: The module holds objects for this peer (they keep its ForeignCluster).
    :param conditions: The module's conditions for the peer.
    :param consumer: The peer consumes this cluster's resources (e.g. a Tenant exists).
    :param provider: The peer provides resources to this cluster (e.g. a ControlPlane
        Identity or kubeconfig exists).
    :param tenant_namespace_local: Tenant namespace of the peering on this cluster.
    :param tenant_namespace_remote: Tenant namespace of the peering on the peer.
    :param api_server_url: The peer's API server URL.
    :param proxy_url: Proxy through which the peer's API server is reached.
    :param kubeconfig: Kubeconfig (YAML) to reach the peer's API server with; the
        controller probes it for ``APIServerStatus``. Kept in memory only.
    :param details: Lines for ``liqoctl info peer``.
    """

    in_use: bool = False
    conditions: list[PeerCondition] = field(default_factory=list)
    consumer: bool = False
    provider: bool = False
    tenant_namespace_local: str | None = None
    tenant_namespace_remote: str | None = None
    api_server_url: str | None = None
    proxy_url: str | None = None
    kubeconfig: str | None = field(default=None, repr=False)
    details: list[PeerDetail] = field(default_factory=list)


@dataclass(frozen=True)
class PeerStatusSource:
    """A module's contribution to its peers' ForeignClusters.

    :param module: The ForeignCluster section it fills (``authentication``...).
    :param watches: Resources whose objects make a peer known and trigger its update.
    :param status: ``await status(api, peer_id)``: the module's view of one peer, read
        through ``api`` (level-triggered: compute it from the current objects).
    """

    module: ModuleName
    watches: tuple[WatchedResource, ...]
    status: Callable[[Kube, str], Awaitable[ModulePeerStatus]]


async def gather_reports(
    api: Kube, sources: Sequence[PeerStatusSource], peer: str
) -> dict[str, ModulePeerStatus]:
    """Every source's view of ``peer``, merged per module (what the controller and
    ``liqoctl info peer`` both read)."""
    from liqo_core.peers.derive import merge_reports

    answers: dict[str, list[ModulePeerStatus]] = {}
    for source in sources:
        answers.setdefault(source.module, []).append(await source.status(api, peer))
    return {module: merge_reports(reports) for module, reports in answers.items()}
