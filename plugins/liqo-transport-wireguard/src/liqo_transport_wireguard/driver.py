"""The WireGuard transport (entry point ``liqo.network.transports: wireguard``).

Options, under ``networking.transports.wireguard`` in the settings file::

    implementation: kernel      # or userspace (wireguard-go), upstream's Helm
                                # networking.gatewayTemplates.wireguard.implementation

Keys are Curve25519 (X25519) pairs, 32 raw bytes each (base64 them for Secrets and
``PublicKey`` CRs, as ``wg`` does). Encapsulation overhead follows upstream WireGuard's
guidance: 60 bytes over IPv4 and 80 over IPv6.

Data plane: :meth:`~WireGuardTransport.ensure_server`, ``ensure_client``, ``teardown`` and
``status`` need pyroute2 (kernel WireGuard) or the wireguard-go UAPI socket (userspace);
they arrive with the network module's gateway issue. Until then they raise
``NotImplementedError`` and nothing in Liqo calls them.
"""

from __future__ import annotations

from typing import Literal

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from pydantic import BaseModel, ConfigDict, ValidationError

from liqo_core import (
    IPVersion,
    KeyPair,
    LiqoSettings,
    SettingsError,
    Transport,
    TransportContext,
    TransportStatus,
)
from liqo_core.api import CustomResource

KEY_SIZE = 32
_OVERHEAD = {4: 60, 6: 80}
_DATA_PLANE = (
    "the WireGuard data plane (pyroute2 for kernel WireGuard, the wireguard-go UAPI for "
    "userspace) arrives with the network module's gateway issue; nothing calls it yet"
)


class WireGuardOptions(BaseModel):
    """Options of the WireGuard transport."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    implementation: Literal["kernel", "userspace"] = "kernel"


class WireGuardTransport(Transport):
    """Tunnels over WireGuard, in the kernel or with wireguard-go."""

    name = "wireguard"

    def __init__(self, settings: LiqoSettings) -> None:
        super().__init__(settings)
        try:
            self.options = WireGuardOptions(**settings.networking.transport_options(self.name))
        except ValidationError as err:
            first = err.errors()[0]
            field = ".".join(["networking.transports.wireguard", *map(str, first["loc"])])
            raise SettingsError(f"invalid setting {field}: {first['msg']}") from None

    @property
    def implementation(self) -> Literal["kernel", "userspace"]:
        """``kernel`` (a netlink ``wireguard`` link) or ``userspace`` (wireguard-go)."""
        return self.options.implementation

    def mtu_overhead(self, ip_version: IPVersion) -> int:
        """Outer IP + UDP + WireGuard header and tag: 60 bytes (IPv4) or 80 (IPv6)."""
        return _OVERHEAD[ip_version]

    def generate_keys(self) -> KeyPair:
        """Return a fresh X25519 key pair (32 raw bytes each)."""
        private = X25519PrivateKey.generate()
        return KeyPair(
            private_key=private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()),
            public_key=private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw),
        )

    def validate_public_key(self, key: bytes) -> None:
        """Accept 32 raw bytes that form an X25519 public key other than all zeros."""
        if len(key) != KEY_SIZE:
            raise ValueError(f"a WireGuard public key has {KEY_SIZE} bytes, not {len(key)}")
        if not any(key):
            raise ValueError("a WireGuard public key cannot be all zeros")
        X25519PublicKey.from_public_bytes(key)

    async def ensure_server(self, ctx: TransportContext) -> None:
        """Not available yet (see the module docstring): raises ``NotImplementedError``."""
        raise NotImplementedError(_DATA_PLANE)

    async def ensure_client(self, ctx: TransportContext) -> None:
        """Not available yet (see the module docstring): raises ``NotImplementedError``."""
        raise NotImplementedError(_DATA_PLANE)

    async def teardown(self, ctx: TransportContext) -> None:
        """Not available yet (see the module docstring): raises ``NotImplementedError``."""
        raise NotImplementedError(_DATA_PLANE)

    async def status(self, ctx: TransportContext) -> TransportStatus:
        """Not available yet (see the module docstring): raises ``NotImplementedError``."""
        raise NotImplementedError(_DATA_PLANE)

    def api_models(self) -> list[type[CustomResource]]:
        """The WireGuard gateway kinds (``WgGatewayServer``, templates, ...)."""
        from liqo_transport_wireguard.api import MODELS

        return list(MODELS)
