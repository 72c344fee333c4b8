"""The WireGuard transport: the conformance kit plus what is specific to WireGuard."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from liqo_transport_wireguard.driver import WireGuardTransport

from liqo_core import LiqoSettings, SettingsError, load_runtime
from liqo_core.testing.transport_contract import TransportContract


class TestWireGuardContract(TransportContract):
    TRANSPORT_CLASS = WireGuardTransport
    TRANSPORT_OPTIONS = {"implementation": "userspace"}


def transport(**options: object) -> WireGuardTransport:
    settings = LiqoSettings(networking={"transports": {"wireguard": options}})  # type: ignore[arg-type]
    return WireGuardTransport(settings)


def test_overhead_follows_wireguard_guidance() -> None:
    driver = transport()
    assert (driver.mtu_overhead(4), driver.mtu_overhead(6)) == (60, 80)
    assert driver.tunnel_mtu(1500, 4) == 1440
    assert driver.tunnel_mtu(1400, 6) == 1320


def test_public_key_is_the_x25519_public_key_of_the_private_key() -> None:
    keys = transport().generate_keys()
    assert len(keys.private_key) == len(keys.public_key) == 32
    derived = (
        X25519PrivateKey.from_private_bytes(keys.private_key)
        .public_key()
        .public_bytes(Encoding.Raw, PublicFormat.Raw)
    )
    assert derived == keys.public_key
    assert len(base64.b64encode(keys.public_key)) == 44  # the form `wg` prints


def test_all_zero_public_key_is_rejected() -> None:
    with pytest.raises(ValueError, match="all zeros"):
        transport().validate_public_key(bytes(32))


@pytest.mark.parametrize(
    ("options", "expected"), [({}, "kernel"), ({"implementation": "userspace"}, "userspace")]
)
def test_implementation_comes_from_settings(options: dict[str, str], expected: str) -> None:
    assert transport(**options).implementation == expected


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"implementation": "ebpf"},
            "invalid setting networking.transports.wireguard.implementation:",
        ),
        ({"mtu": 1}, "invalid setting networking.transports.wireguard.mtu: Extra inputs"),
    ],
)
def test_invalid_options_name_the_setting(options: dict[str, object], message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        transport(**options)
    assert str(caught.value).startswith(message)


def test_loaded_by_the_runtime_with_its_crds() -> None:
    settings = LiqoSettings(modules=["networking"])
    with load_runtime(settings) as runtime:
        assert isinstance(runtime.transport, WireGuardTransport)
        kinds = [model.crd.kind for model in runtime.api_models()]
        assert kinds == [
            "WgGatewayServer",
            "WgGatewayClient",
            "WgGatewayServerTemplate",
            "WgGatewayClientTemplate",
        ]
