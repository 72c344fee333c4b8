"""Garbage collector, namespace controller and graceful pod deletion over the engine."""

from __future__ import annotations

import asyncio

import pytest

from liqo_core.sandbox.apiserver.engine import INTERNAL, DeleteOptions
from liqo_core.sandbox.apiserver.server import APIServer


@pytest.fixture
async def api():
    server = APIServer()
    await server.start()
    yield server
    await server.stop()


def rt(server, group, resource):
    return server.registry.storage(group, resource)


async def eventually(check, limit=5.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not check():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


async def make_cm(server, name, owners=(), finalizers=(), ns="default"):
    meta = {"name": name}
    if owners:
        meta["ownerReferences"] = list(owners)
    if finalizers:
        meta["finalizers"] = list(finalizers)
    return await server.engine.create(
        rt(server, "", "configmaps"), ns, {"metadata": meta}, INTERNAL
    )


def ref(obj, block=False):
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "blockOwnerDeletion": block,
    }


def exists(server, name, ns="default"):
    return server.store.get(("", "configmaps"), ns, name) is not None


async def delete(server, name, policy=None, ns="default"):
    return await server.engine.delete(
        rt(server, "", "configmaps"), ns, name, DeleteOptions(propagation=policy), INTERNAL
    )


async def test_chain_of_dependents_is_collected_transitively(api):
    a = await make_cm(api, "a")
    b = await make_cm(api, "b", [ref(a)])
    await make_cm(api, "c", [ref(b)])
    await delete(api, "a")
    await eventually(lambda: not exists(api, "b") and not exists(api, "c"))


async def test_orphan_finalizer_is_removed_after_references(api):
    owner = await make_cm(api, "o")
    await make_cm(api, "d", [ref(owner)])
    obj, gone = await delete(api, "o", "Orphan")
    assert not gone and obj["metadata"]["finalizers"] == ["orphan"]
    await eventually(lambda: not exists(api, "o"))
    dep = api.store.get(("", "configmaps"), "default", "d")
    assert "ownerReferences" not in dep["metadata"]


async def test_foreground_owner_waits_only_for_blocking_dependents(api):
    owner = await make_cm(api, "fo")
    await make_cm(api, "blocker", [ref(owner, block=True)], ["x/hold"])
    await make_cm(api, "free", [ref(owner)], ["x/hold"])
    await delete(api, "fo", "Foreground")
    await eventually(
        lambda: all(
            api.store.get(("", "configmaps"), "default", n)["metadata"].get("deletionTimestamp")
            for n in ("blocker", "free")
        )
    )
    assert exists(api, "fo")
    blocker = api.store.get(("", "configmaps"), "default", "blocker")
    new = dict(blocker, metadata=dict(blocker["metadata"], finalizers=[]))
    await api.engine.update(rt(api, "", "configmaps"), "default", "blocker", new, INTERNAL)
    await eventually(lambda: not exists(api, "fo"))
    assert exists(api, "free")


async def test_reference_to_unserved_kind_is_left_alone(api):
    unknown = {"apiVersion": "nope.example.com/v1", "kind": "Nope", "name": "n", "uid": "u-1"}
    await make_cm(api, "keep", [unknown])
    other = await make_cm(api, "trigger")
    await delete(api, "trigger")
    await eventually(lambda: not exists(api, "trigger"))
    assert other and exists(api, "keep")


async def test_namespace_termination_deletes_content_then_namespace(api):
    ns_rt = rt(api, "", "namespaces")
    await api.engine.create(ns_rt, "", {"metadata": {"name": "doomed"}}, INTERNAL)
    await make_cm(api, "x", ns="doomed")
    await make_cm(api, "held", finalizers=["x/hold"], ns="doomed")
    await api.engine.delete(ns_rt, "", "doomed", DeleteOptions(), INTERNAL)
    await eventually(lambda: not exists(api, "x", "doomed"))
    assert api.store.get(("", "namespaces"), "", "doomed") is not None
    held = api.store.get(("", "configmaps"), "doomed", "held")
    new = dict(held, metadata=dict(held["metadata"], finalizers=[]))
    await api.engine.update(rt(api, "", "configmaps"), "doomed", "held", new, INTERNAL)
    await eventually(lambda: api.store.get(("", "namespaces"), "", "doomed") is None)


async def test_bound_pod_is_removed_when_grace_period_elapses(api):
    pods = rt(api, "", "pods")
    pod = {
        "metadata": {"name": "p"},
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "busybox:1"}]},
    }
    await api.engine.create(pods, "default", pod, INTERNAL)
    obj, gone = await api.engine.delete(
        pods, "default", "p", DeleteOptions(grace_period=1), INTERNAL
    )
    assert not gone and obj["metadata"]["deletionGracePeriodSeconds"] == 1
    await eventually(lambda: api.store.get(("", "pods"), "default", "p") is None, limit=5)
