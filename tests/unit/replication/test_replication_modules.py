"""Which modules declare replicated kinds, and when the core runs the replicator."""

from __future__ import annotations

import kopf
import pytest

from liqo_core import LiqoSettings, load_runtime
from liqo_core.api.authentication_v1beta1 import Renew, ResourceSlice
from liqo_core.api.offloading_namespace import NamespaceMap
from liqo_core.replication import ReplicatedResource
from liqo_core.replication.controller import HANDLER_ID, register

SLICES = ReplicatedResource.of(ResourceSlice)
RENEWS = ReplicatedResource.of(Renew)
MAPS = ReplicatedResource.of(NamespaceMap)


def settings(modules: list[str] | None = None, cluster_id: str | None = "here") -> LiqoSettings:
    values: dict[str, object] = {"modules": modules or []}
    if cluster_id:
        values["clusterID"] = cluster_id
    return LiqoSettings.model_validate(values)


def handler_ids(registry: kopf.OperatorRegistry) -> set[str]:
    return {str(handler.id) for handler in registry._watching.get_all_handlers()}


@pytest.mark.parametrize(
    ("modules", "kinds"),
    [
        (["authentication"], [SLICES, RENEWS]),
        (["offloading"], [MAPS]),
        (["authentication", "offloading"], [SLICES, RENEWS, MAPS]),
        ([], []),
    ],
)
def test_the_core_replicates_the_kinds_of_the_enabled_modules(
    modules: list[str], kinds: list[ReplicatedResource]
) -> None:
    with load_runtime(settings(modules)) as runtime:
        assert runtime.replicated_resources() == kinds
        registry = runtime.core_registry()
        assert (HANDLER_ID in handler_ids(registry)) == bool(kinds)
        for name in modules:  # no module runs a replicator of its own
            assert HANDLER_ID not in handler_ids(runtime.module_registries()[name])


def test_register_adds_nothing_without_kinds_or_without_a_cluster_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = kopf.OperatorRegistry()
    register(registry, settings(), [])
    assert HANDLER_ID not in handler_ids(registry)
    register(registry, settings(cluster_id=None), [SLICES])
    assert HANDLER_ID not in handler_ids(registry)
    assert "no clusterID" in caplog.text
    register(registry, settings(), [SLICES, SLICES])
    assert HANDLER_ID in handler_ids(registry)
