"""Conformance tests every transport should pass, as a pytest mixin.

In a transport distribution's test suite::

    from liqo_core.testing.transport_contract import TransportContract
    from liqo_transport_ipsec.driver import IPsecTransport

    class TestIPsecContract(TransportContract):
        TRANSPORT_CLASS = IPsecTransport
        TRANSPORT_OPTIONS = {"mode": "tunnel"}   # networking.transports.ipsec

The distribution must be installed (editable is fine): the kit checks that its entry
point resolves to the class. The tests cover what can be checked without a network:
naming, construction, keys, MTU overhead, the models it ships and hook registration.
Data-plane conformance (tunnels between network namespaces) joins the kit with the
network module's gateway.
"""

from __future__ import annotations

import importlib.metadata
import inspect
from typing import Any, ClassVar

import pytest

from liqo_core import TRANSPORTS_GROUP, LiqoPluginManager
from liqo_core.api import CORE_MODELS, CustomResource, crd_manifests
from liqo_core.settings import LiqoSettings, NetworkingSettings
from liqo_core.transport import KeyPair, Transport


class TransportContract:
    """Mixin of contract tests; subclasses set :attr:`TRANSPORT_CLASS`."""

    #: The transport class under test.
    TRANSPORT_CLASS: ClassVar[type[Transport]]
    #: Options given under ``networking.transports.<name>``.
    TRANSPORT_OPTIONS: ClassVar[dict[str, Any]] = {}

    def make_settings(self) -> LiqoSettings:
        """Settings that select this transport with :attr:`TRANSPORT_OPTIONS`."""
        name = self.TRANSPORT_CLASS.name
        networking = NetworkingSettings(
            transport=name, transports={name: dict(self.TRANSPORT_OPTIONS)}
        )
        return LiqoSettings(networking=networking)

    @pytest.fixture
    def transport(self) -> Transport:
        """A constructed and initialized instance."""
        driver = self.TRANSPORT_CLASS(settings=self.make_settings())
        driver.initialize()
        return driver

    def test_is_a_concrete_transport(self) -> None:
        assert issubclass(self.TRANSPORT_CLASS, Transport)
        assert not inspect.isabstract(self.TRANSPORT_CLASS)
        for method in ("ensure_server", "ensure_client", "teardown", "status"):
            assert inspect.iscoroutinefunction(getattr(self.TRANSPORT_CLASS, method)), method

    def test_entry_point_name_matches_class(self) -> None:
        name = self.TRANSPORT_CLASS.name
        found = importlib.metadata.entry_points(group=TRANSPORTS_GROUP, name=name)
        assert [ep.load() for ep in found] == [self.TRANSPORT_CLASS]

    def test_keeps_settings(self, transport: Transport) -> None:
        assert transport.settings.networking.transport == self.TRANSPORT_CLASS.name

    def test_generates_distinct_valid_key_pairs(self, transport: Transport) -> None:
        first, second = transport.generate_keys(), transport.generate_keys()
        assert isinstance(first, KeyPair)
        assert first.private_key != second.private_key
        assert first.public_key != second.public_key
        assert first.private_key != first.public_key
        transport.validate_public_key(first.public_key)
        transport.validate_public_key(second.public_key)

    @pytest.mark.parametrize("garbage", [b"", b"x", b"\x00" * 7])
    def test_rejects_malformed_public_keys(self, transport: Transport, garbage: bytes) -> None:
        with pytest.raises(ValueError, match=r"\S"):
            transport.validate_public_key(garbage)

    def test_mtu_overhead_is_sane(self, transport: Transport) -> None:
        v4, v6 = transport.mtu_overhead(4), transport.mtu_overhead(6)
        assert isinstance(v4, int)
        assert isinstance(v6, int)
        assert 0 <= v4 <= v6 < 256

    def test_tunnel_mtu_subtracts_the_overhead(self, transport: Transport) -> None:
        assert transport.tunnel_mtu(1500, 4) == 1500 - transport.mtu_overhead(4)
        assert transport.tunnel_mtu(9000, 6) == 9000 - transport.mtu_overhead(6)
        with pytest.raises(ValueError, match="576"):
            transport.tunnel_mtu(600, 4)

    def test_api_models_are_crds_of_their_own(self, transport: Transport) -> None:
        models = transport.api_models()
        assert all(
            isinstance(model, type) and issubclass(model, CustomResource) for model in models
        )
        core = {model.crd.crd_name for model in CORE_MODELS}
        assert not core & {model.crd.crd_name for model in models}
        manifests = crd_manifests(models)
        assert len(manifests) == len(models)

    def test_registers_on_the_plugin_manager(self, transport: Transport) -> None:
        pm = LiqoPluginManager()
        pm.register(transport, name=f"transport:{self.TRANSPORT_CLASS.name}")
        pm.check_pending()
        answers = pm.hook.liqo_api_models()
        assert [list(answer) for answer in answers] == [transport.api_models()]
