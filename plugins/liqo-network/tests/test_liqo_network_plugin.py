"""The networking module loads through its entry point and declares what it owns."""

from __future__ import annotations

import dataclasses

from liqo_network.plugin import INFO, NetworkingModule

from liqo_core import LiqoSettings, ModuleInfo, load_runtime


def test_loads_through_its_entry_point_alone() -> None:
    with load_runtime(LiqoSettings(modules=["networking"])) as runtime:
        [plugin] = runtime.modules
        assert runtime.transport is not None
        assert isinstance(plugin.obj, NetworkingModule)
        assert plugin.distribution == "liqo-network"
        [(key, info)] = runtime.module_info().items()
        assert key == "networking"
        # What it declares, with the controllers it actually registers.
        assert dataclasses.replace(info, controllers=()) == INFO
        assert set(info.controllers) >= set()
        assert list(runtime.module_registries()) == ["networking", "transport:wireguard"]


def test_declares_its_api_groups_kinds_and_values_key() -> None:
    assert isinstance(INFO, ModuleInfo)
    assert INFO.values_key == "networking"
    assert INFO.api_groups
    assert all(group.endswith(".liqo.io") for group in INFO.api_groups)
    assert len(set(INFO.kinds)) == len(INFO.kinds) > 0
    assert INFO.controllers == ()  # derived by the runtime from the registered handlers
