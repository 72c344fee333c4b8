"""Engine rules that need precise interleavings: writes racing with admission."""

from __future__ import annotations

import pytest

from liqo_core.sandbox.apiserver.engine import INTERNAL, Context
from liqo_core.sandbox.apiserver.server import APIServer
from liqo_core.sandbox.apiserver.types import APIError


class RacingAdmission:
    """Mutating admission that lets another writer change the object once."""

    def __init__(self, server):
        self.server = server
        self.raced = False

    async def mutate(self, attrs, obj, old):
        if old is not None and not self.raced:
            self.raced = True
            rt = self.server.registry.storage("", "configmaps")
            other = dict(old, data={"other": "write"})
            await self.server.engine.update(rt, "default", "cm", other, INTERNAL)
        return obj

    async def validate(self, attrs, obj, old):
        return None


@pytest.fixture
async def api():
    server = APIServer()
    await server.start()
    yield server
    await server.stop()


async def _setup(api):
    rt = api.registry.storage("", "configmaps")
    await api.engine.create(rt, "default", {"metadata": {"name": "cm"}, "data": {}}, INTERNAL)
    return rt, Context(admission=RacingAdmission(api))


async def test_patch_racing_another_write_is_reapplied(api):
    rt, ctx = await _setup(api)

    def add_label(live):
        live["metadata"].setdefault("labels", {})["x"] = "y"
        return live

    out = await api.engine.patch(rt, "default", "cm", add_label, ctx)
    assert out["metadata"]["labels"] == {"x": "y"}
    assert out["data"] == {"other": "write"}


async def test_update_with_resource_version_racing_another_write_conflicts(api):
    rt, ctx = await _setup(api)
    live = api.store.get(("", "configmaps"), "default", "cm")
    body = dict(live, data={"mine": "1"})
    with pytest.raises(APIError) as err:
        await api.engine.update(rt, "default", "cm", body, ctx)
    assert err.value.code == 409


async def test_unconditional_update_racing_another_write_wins(api):
    rt, ctx = await _setup(api)
    body = {"metadata": {"name": "cm"}, "data": {"mine": "1"}}
    out = await api.engine.update(rt, "default", "cm", body, ctx)
    assert out["data"] == {"mine": "1"}


async def test_generation_ignores_status_for_kinds_with_status_subresource(api):
    rt = api.registry.storage("apps", "deployments")
    dep = {
        "metadata": {"name": "d"},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "i"}]},
            },
        },
    }
    created = await api.engine.create(rt, "default", dep, INTERNAL)
    status = dict(created, status={"replicas": 1})
    out = await api.engine.update(rt, "default", "d", status, INTERNAL, subresource="status")
    assert out["status"] == {"replicas": 1}
    assert out["metadata"]["generation"] == 1
