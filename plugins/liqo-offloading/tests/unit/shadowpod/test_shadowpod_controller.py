"""The ShadowPod reconcile against a recording API: what it writes, and what it leaves."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from liqo_offloading.shadowpod import controller, forge

from liqo_core import LiqoSettings
from liqo_core.controllers import ControllerContext
from liqo_core.kube import Informers, KubeTarget

KEY = "app-c/web"


class FakeKube:
    def __init__(self, configurations: list[dict[str, Any]] | None = None) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.configurations = configurations or []

    async def request(self, method: str, path: str, body: Any = None, **kw: Any) -> dict[str, Any]:
        self.calls.append((method, path, {"body": body, **kw}))
        return dict(body or {})

    async def merge_patch(self, path: str, patch: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("MERGE", path, patch))
        return patch

    async def list_items(self, path: str, label_selector: str | None = None) -> Any:
        self.calls.append(("LIST", path, label_selector))
        return self.configurations

    async def get(self, path: str) -> None:
        return None

    def writes(self, kind: str = "") -> list[tuple[str, str, Any]]:
        return [c for c in self.calls if c[0] != "LIST" and kind in c[1]]


def shadow(phase: str | None = None, **meta: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "metadata": {
            "name": "web", "namespace": "app-c", "uid": "sp-1", "resourceVersion": "1",
            "labels": {"offloading.liqo.io/origin": "c", "team": "x"}, **meta,
        },
        "spec": {"pod": {"containers": [{"name": "app", "image": "app:1"}]}},
    }  # fmt: skip
    if phase:
        obj["status"] = {"phase": phase}
    return obj


def run(shadow_pod: dict[str, Any], pod: dict[str, Any] | None = None, **kube: Any) -> FakeKube:
    api = FakeKube(**kube)

    async def reconcile() -> None:
        fake: Any = api
        informers = Informers(fake)
        shadows = informers.get(controller.SHADOW_PODS)
        shadows.cache.upsert(shadow_pod)
        context = ControllerContext(fake, informers, LiqoSettings(), KubeTarget())
        reconciler = controller.ShadowPodController(context, shadows)
        if pod is not None:
            reconciler.pods.cache.upsert(pod)
        await reconciler.reconcile(KEY)

    asyncio.run(reconcile())
    return api


def test_a_missing_pod_is_created_and_told() -> None:
    api = run(shadow())
    [(method, path, call), (_, events, event)] = api.writes()
    assert (method, path) == ("POST", "/api/v1/namespaces/app-c/pods")
    assert call["body"] == forge.forge_pod(shadow())
    assert call["query"] == {"fieldManager": "shadow-pod"}
    assert events == "/api/v1/namespaces/app-c/events"
    assert (event["body"]["type"], event["body"]["reason"]) == ("Normal", "CreatedPod")


@pytest.mark.parametrize(
    "obj",
    [shadow("Succeeded"), shadow("Failed"), shadow(deletionTimestamp="2026-01-01T00:00:00Z")],
    ids=["succeeded", "failed", "deleting"],
)
def test_completed_or_deleted_shadow_pods_get_no_new_pod(obj: dict[str, Any]) -> None:
    assert run(obj).writes() == []


def test_without_its_origin_label_no_pod_is_created() -> None:
    obj = shadow()
    del obj["metadata"]["labels"]["offloading.liqo.io/origin"]
    [(_, path, call)] = run(obj).writes()
    assert path.endswith("/events") and call["body"]["reason"] == "FailedCreatePod"
    assert "label offloading.liqo.io/origin is missing" in call["body"]["message"]


def test_a_pod_of_another_owner_is_never_touched() -> None:
    foreign = {"metadata": {"name": "web", "namespace": "app-c", "labels": {}}}
    with pytest.raises(controller.PodConflict, match="not controlled by this ShadowPod"):
        run(shadow(), foreign)
    leaving = {"metadata": {**foreign["metadata"], "deletionTimestamp": "2026-01-01T00:00:00Z"}}
    assert run(shadow(), leaving).writes() == []  # looked at again once it is gone


def test_labels_follow_and_the_phase_is_mirrored() -> None:
    pod = forge.forge_pod(shadow())
    pod["metadata"]["labels"]["team"] = "old"
    pod["status"] = {"phase": "Running"}
    api = run(shadow("Pending"), pod)
    [(apply, path, call), (merge, status, patch)] = api.writes()
    assert (apply, path) == ("PATCH", "/api/v1/namespaces/app-c/pods/web")
    assert call["content_type"] == "application/apply-patch+yaml"
    assert call["query"] == {"fieldManager": "shadow-pod", "force": "true"}
    assert call["body"]["metadata"]["labels"]["team"] == "x"
    assert "spec" not in call["body"]
    assert (merge, status) == (
        "MERGE",
        "/apis/offloading.liqo.io/v1beta1/namespaces/app-c/shadowpods/web/status",
    )
    assert patch == {"status": {"phase": "Running"}}
    # In sync: nothing to write.
    pod["metadata"]["labels"]["team"] = "x"
    assert run(shadow("Running"), pod).writes() == []


def test_the_api_server_alias_is_remapped_for_the_peer() -> None:
    obj = shadow()
    obj["spec"]["pod"]["hostAliases"] = [{"ip": "10.96.0.1", "hostnames": ["kubernetes.default"]}]
    configuration = {
        "metadata": {"name": "c"},
        "spec": {"remote": {"cidr": {"pod": ["10.96.0.0/12"], "external": ["10.70.0.0/16"]}}},
        "status": {"remote": {"cidr": {"pod": ["10.112.0.0/12"], "external": ["10.71.0.0/16"]}}},
    }
    api = run(obj, configurations=[configuration])
    assert ("LIST", controller.CONFIGURATIONS, "liqo.io/remote-cluster-id=c") in api.calls
    [(_, _, call), _] = api.writes()
    assert call["body"]["spec"]["hostAliases"][0]["ip"] == "10.112.0.1"
    # Without a Configuration (no networking for that peer) the address stays.
    [(_, _, call), _] = run(obj).writes()
    assert call["body"]["spec"]["hostAliases"][0]["ip"] == "10.96.0.1"
