"""Which controllers the authentication module registers, by enabled modules."""

from __future__ import annotations

import kopf
import pytest
from liqo_auth.controllers import register
from liqo_auth.providers.kubernetes_csr import KubernetesCSRProvider

from liqo_core import LiqoSettings


def _controller_ids(modules: list[str]) -> set[str]:
    registry = kopf.OperatorRegistry()
    register(registry, LiqoSettings(clusterID="c1", modules=modules), KubernetesCSRProvider())
    return {str(handler.id) for handler in registry._watching.get_all_handlers()}


def test_without_offloading_no_quotacreator() -> None:
    ids = _controller_ids(["authentication"])
    assert "quotacreator" not in ids
    assert {"resourceslice_remote", "resourceslice_local", "identity_creator"} <= ids


@pytest.mark.parametrize("modules", [["authentication", "offloading"],
                                     ["offloading", "authentication"]])  # fmt: skip
def test_with_offloading_the_quotacreator_runs(modules: list[str]) -> None:
    assert "quotacreator" in _controller_ids(modules)
