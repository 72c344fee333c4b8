"""The networking module loads through its entry point and declares what it owns."""

from __future__ import annotations

from liqo_network.plugin import INFO, NetworkingModule

from liqo_core import LiqoSettings, ModuleInfo, load_runtime


def test_loads_through_its_entry_point_alone() -> None:
    with load_runtime(LiqoSettings(modules=["networking"])) as runtime:
        [plugin] = runtime.modules
        assert runtime.transport is not None
        assert isinstance(plugin.obj, NetworkingModule)
        assert plugin.distribution == "liqo-network"
        assert runtime.module_info() == {"networking": INFO}
        assert list(runtime.module_registries()) == ["networking", "transport:wireguard"]


def test_declares_its_api_groups_kinds_and_values_key() -> None:
    assert isinstance(INFO, ModuleInfo)
    assert INFO.values_key == "networking"
    assert INFO.api_groups
    assert all(group.endswith(".liqo.io") for group in INFO.api_groups)
    assert len(set(INFO.kinds)) == len(INFO.kinds) > 0
    assert len(set(INFO.controllers)) == len(INFO.controllers) > 0
