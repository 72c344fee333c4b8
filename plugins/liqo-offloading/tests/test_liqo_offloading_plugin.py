"""The offloading module loads through its entry point and declares what it owns."""

from __future__ import annotations

import dataclasses

from liqo_offloading.plugin import INFO, OffloadingModule

from liqo_core import LiqoSettings, ModuleInfo, load_runtime


def test_loads_through_its_entry_point_alone() -> None:
    with load_runtime(LiqoSettings(modules=["offloading"])) as runtime:
        [plugin] = runtime.modules
        assert isinstance(plugin.obj, OffloadingModule)
        assert plugin.distribution == "liqo-offloading"
        [(key, info)] = runtime.module_info().items()
        assert key == "offloading"
        # What it declares, with the controllers it actually registers.
        assert dataclasses.replace(info, controllers=()) == INFO
        assert set(info.controllers) >= set()
        assert list(runtime.module_registries()) == ["offloading"]


def test_declares_its_api_groups_kinds_and_values_key() -> None:
    assert isinstance(INFO, ModuleInfo)
    assert INFO.values_key == "offloading"
    assert INFO.api_groups
    assert all(group.endswith(".liqo.io") for group in INFO.api_groups)
    assert len(set(INFO.kinds)) == len(INFO.kinds) > 0
    assert INFO.controllers == ()  # derived by the runtime from the registered handlers
