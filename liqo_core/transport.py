"""The transport contract: the stable API for inter-cluster tunnel drivers.

A transport brings a tunnel up and down between two gateways (one *server*, one
*client*) and owns the key material and custom resources that go with it. WireGuard is
the default (``liqo-transport-wireguard``); any distribution can provide another by
declaring an entry point in group ``liqo.network.transports`` whose name users write in
``networking.transport``::

    [project.entry-points."liqo.network.transports"]
    ipsec = "liqo_transport_ipsec.driver:IPsecTransport"

Lifecycle, as promised to implementers:

1. The runtime constructs the class with ``settings`` only when the networking module
   is enabled. The constructor validates options and must have no side effects.
2. :meth:`Transport.initialize` runs once, after every plugin is constructed and before
   any other method is called.
3. The gateway calls :meth:`~Transport.ensure_server` / :meth:`~Transport.ensure_client`
   (idempotent: called again on every resync and after restarts), :meth:`~Transport.status`
   periodically, and :meth:`~Transport.teardown` when the gateway goes away.

This module is public and versioned with liqo-core: names without a leading underscore
keep working across minor releases (deprecations get one minor release of warning).
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from liqo_core.hookspecs import hookimpl

if TYPE_CHECKING:
    from liqo_core.api.resource import CustomResource
    from liqo_core.settings import LiqoSettings

#: IP version of the underlay a tunnel runs over.
IPVersion = Literal[4, 6]


@dataclass(frozen=True)
class Endpoint:
    """A UDP/TCP endpoint: an IP address or DNS name and a port."""

    address: str
    port: int


@dataclass(frozen=True)
class KeyPair:
    """Key material of one gateway, in the transport's own raw encoding.

    Callers base64-encode the bytes where they store them (Secrets, ``PublicKey`` CRs).
    The private key never leaves the cluster that generated it.
    """

    private_key: bytes
    public_key: bytes


@dataclass(frozen=True)
class TransportContext:
    """Everything a transport needs to manage one tunnel.

    One object, so the method signatures can grow without a second ABC.

    :param interface: Tunnel interface name (upstream: ``liqo-tunnel``).
    :param mtu: MTU to set on the tunnel interface.
    :param tunnel_address: Local address on the tunnel link, with prefix
        (``169.254.18.1/30`` on the server, ``.2/30`` on the client).
    :param local_key: This gateway's key pair.
    :param remote_public_key: The peer gateway's public key, once known.
    :param listen_port: Port the server listens on (server only).
    :param remote_endpoints: Where the client reaches the server (client only).
    :param netns: Network namespace to act in (a name under ``/var/run/netns``, or a
        path); None for the current one.
    :param local_cluster_id: Cluster id of this side.
    :param remote_cluster_id: Cluster id of the peer.
    :param options: Transport-specific per-tunnel options.
    """

    interface: str
    mtu: int
    tunnel_address: str
    local_key: KeyPair
    remote_public_key: bytes | None = None
    listen_port: int | None = None
    remote_endpoints: tuple[Endpoint, ...] = ()
    netns: str | None = None
    local_cluster_id: str | None = None
    remote_cluster_id: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


class ConnectionState(enum.StrEnum):
    """Tunnel state, with upstream's ``Connection.status.value`` names."""

    CONNECTED = "Connected"
    CONNECTING = "Connecting"
    ERROR = "Error"


@dataclass(frozen=True)
class TransportStatus:
    """What :meth:`Transport.status` observed about one tunnel.

    :param state: Connected, Connecting or Error.
    :param message: Human-readable detail (why it is not connected).
    :param rx_bytes: Bytes received through the tunnel, if the transport counts them.
    :param tx_bytes: Bytes sent through the tunnel, if the transport counts them.
    """

    state: ConnectionState
    message: str = ""
    rx_bytes: int | None = None
    tx_bytes: int | None = None


class Transport(abc.ABC):
    """Base class of every transport driver.

    Subclasses set :attr:`name` to their entry-point name and implement the abstract
    methods. They may also implement any ``liqo_*`` hook with
    :data:`liqo_core.hookimpl` (the runtime registers the transport on the plugin
    manager as ``transport:<name>``).
    """

    #: Entry-point name users write in ``networking.transport``.
    name: ClassVar[str]

    def __init__(self, settings: LiqoSettings) -> None:
        """Keep the settings; validate this transport's options without side effects.

        :param settings: Process settings; the transport's own options are
            ``settings.networking.transport_options(self.name)``.
        """
        self.settings = settings

    def initialize(self) -> None:
        """Prepare the driver; called once after loading and before anything else.

        The default does nothing. Raise to stop start-up with a clear message.
        """
        return None

    @abc.abstractmethod
    def mtu_overhead(self, ip_version: IPVersion) -> int:
        """Return the bytes the encapsulation adds to each packet on the underlay.

        :param ip_version: IP version of the underlay (outer header).
        """

    def tunnel_mtu(self, underlay_mtu: int, ip_version: IPVersion) -> int:
        """Return the largest MTU a tunnel over ``underlay_mtu`` can carry."""
        mtu = underlay_mtu - self.mtu_overhead(ip_version)
        if mtu < 576:
            raise ValueError(
                f"underlay MTU {underlay_mtu} leaves {mtu} bytes for {self.name} tunnels; "
                "at least 576 are needed"
            )
        return mtu

    @abc.abstractmethod
    def generate_keys(self) -> KeyPair:
        """Return a fresh key pair for one gateway."""

    @abc.abstractmethod
    def validate_public_key(self, key: bytes) -> None:
        """Raise ``ValueError`` with a one-line reason if ``key`` is not a usable peer key."""

    @abc.abstractmethod
    async def ensure_server(self, ctx: TransportContext) -> None:
        """Make the server end of the tunnel described by ``ctx`` exist (idempotent)."""

    @abc.abstractmethod
    async def ensure_client(self, ctx: TransportContext) -> None:
        """Make the client end of the tunnel described by ``ctx`` exist (idempotent)."""

    @abc.abstractmethod
    async def teardown(self, ctx: TransportContext) -> None:
        """Remove the tunnel described by ``ctx``; a tunnel already gone is not an error."""

    @abc.abstractmethod
    async def status(self, ctx: TransportContext) -> TransportStatus:
        """Observe the tunnel described by ``ctx``."""

    def api_models(self) -> list[type[CustomResource]]:
        """Return the custom-resource models this transport owns (default: none)."""
        return []

    @hookimpl
    def liqo_api_models(self) -> list[type[CustomResource]]:
        """Answer the ``liqo_api_models`` hook from :meth:`api_models`."""
        return self.api_models()
