"""Reflection framework pieces: mappings from the NamespaceMap, metrics, the fallback's
verdicts, the registry, and the role's process settings."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from liqo_offloading.virtualkubelet.reflection import REFLECTORS
from liqo_offloading.virtualkubelet.reflection.fallback import refusal
from liqo_offloading.virtualkubelet.reflection.forge import (
    ForgingOptions,
    Identity,
    metadata_patch,
)
from liqo_offloading.virtualkubelet.reflection.framework import (
    NOT_READY_RETRY,
    FallbackReflection,
    NamespacedReflection,
    NamespacePair,
    ReflectionMetrics,
    Reflector,
    _KindRunner,
    accepted_mappings,
)
from liqo_offloading.virtualkubelet.reflection.pods import PodReflector
from liqo_offloading.virtualkubelet.role import VirtualKubelet
from prometheus_client import CollectorRegistry, generate_latest

from liqo_core.settings import load_settings


def namespace_map(current: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": "provider-1"}, "status": {"currentMapping": current}}


def test_only_accepted_mappings_are_reflected() -> None:
    current = {
        "apps": {"remoteNamespace": "apps-consumer", "phase": "Accepted"},
        "clash": {"remoteNamespace": "clash-consumer", "phase": "CreationLoopBackOff"},
        "gone": {"remoteNamespace": "gone-consumer", "phase": "Terminating"},
    }
    assert accepted_mappings([namespace_map(current)]) == {"apps": "apps-consumer"}
    assert accepted_mappings([]) == {}
    assert accepted_mappings([{"metadata": {}}]) == {}
    # Two maps for one peer: upstream refuses to choose.
    assert accepted_mappings([namespace_map(current), namespace_map({})]) is None


def test_metrics_keep_upstream_names() -> None:
    metrics = ReflectionMetrics()
    registry = CollectorRegistry()
    registry.register(metrics)
    labels = ("apps", "Pod", "provider-1", "vn-1")
    metrics.count(labels, failed=False)
    metrics.count(labels, failed=False)
    metrics.count(labels, failed=True)
    text = generate_latest(registry).decode()
    sample = 'cluster_id="provider-1",namespace="apps",node_name="vn-1",reflector_resource="Pod"'
    assert f"liqo_virtual_kubelet_reflection_item_counter{{{sample}}} 2.0" in text
    assert f"liqo_virtual_kubelet_reflection_error_counter{{{sample}}} 1.0" in text


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        ({"phase": "Pending"}, ("Pending", "OffloadingBackOff")),
        ({}, ("Pending", "OffloadingBackOff")),
        ({"phase": "Running"}, ("Failed", "OffloadingAborted")),
        (
            {"phase": "Pending", "containerStatuses": [{"name": "a"}]},
            ("Failed", "OffloadingAborted"),
        ),
        ({"phase": "Succeeded"}, None),
        ({"phase": "Failed", "reason": "Evicted"}, None),
    ],
)
def test_fallback_verdicts(status: dict[str, Any], verdict: tuple[str, str] | None) -> None:
    assert refusal(status) == verdict


def test_pods_are_registered() -> None:
    assert PodReflector in REFLECTORS
    assert (PodReflector.name, PodReflector.resource) == ("Pod", "pod")


def test_reflection_identity_and_metadata() -> None:
    identity = Identity("c1", "p1", "vn-1")
    assert identity.node_selector() == (
        "offloading.liqo.io/destination=p1,offloading.liqo.io/nodename=vn-1,"
        "offloading.liqo.io/origin=c1"
    )
    ours = {"metadata": {"labels": identity.reflection_labels()}}
    assert identity.is_reflected(ours)
    assert not identity.is_reflected({"metadata": {"labels": {"offloading.liqo.io/origin": "c1"}}})
    live = {"a": "1", "b": "2", "liqo.io/creator-user": "u"}
    patch = metadata_patch(live, {"a": "1", "c": "3"}, keep=["liqo.io/creator-user"])
    assert patch == {"c": "3", "b": None}


def test_forging_options_prefer_the_effective_patch() -> None:
    vn = {
        "spec": {"offloadingPatch": {"nodeSelector": {"a": "1"}}},
        "status": {"effectiveOffloadingPatch": {"labelsNotReflected": ["team"]}},
    }
    assert ForgingOptions.from_virtual_node(vn).labels_not_reflected == ("team",)
    del vn["status"]
    assert ForgingOptions.from_virtual_node(vn).node_selector == {"a": "1"}
    assert ForgingOptions.from_virtual_node(None) == ForgingOptions()


def test_process_settings_come_from_the_flags() -> None:
    settings = load_settings(None, modules=[], namespace="liqo")
    arguments = {
        "foreign_cluster_id": "provider-1",
        "foreign_kubeconfig_secret_name": "kc",
        "home_cluster_id": "consumer-1",
        "nodename": "vn-1",
        "tenant_namespace": "liqo-tenant-provider-1",
        "metrics_enabled": True,
        "metrics_address": "127.0.0.1:9182",
        "vk_lease_duration": 8.0,
        "vk_lease_renew_interval": 6.0,
        "vk_lease_retry_period": 1.0,
    }
    context: Any = SimpleNamespace(
        settings=settings, arguments=arguments, metrics=CollectorRegistry()
    )
    role = VirtualKubelet(context)
    process = role.component_settings()
    assert process.metrics_port == 9182 and process.health_port == 8081
    election = process.leader_election
    assert (election.enabled, election.lease_name) == (True, "vn-1")
    assert (election.lease_duration, election.renew_deadline, election.retry_period) == (8, 6, 1)
    assert role.lease_namespace() == "liqo-tenant-provider-1"
    assert role.readiness() == "starting"

    context.arguments = {**arguments, "vk_lease_enabled": False, "metrics_enabled": False}
    process = VirtualKubelet(context).component_settings()
    assert process.leader_election.enabled is False and process.metrics_port == 8082


class Recording(NamespacedReflection):
    def __init__(self, pair: NamespacePair, seen: list[str]) -> None:
        super().__init__(pair)
        self.seen = seen

    async def handle(self, name: str) -> float | None:
        if name == "broken":
            raise RuntimeError("boom")
        self.seen.append(f"{self.pair.local}->{self.pair.remote}/{name}")
        return None

    def names(self) -> list[str]:
        return ["a", "b"]


class RecordingFallback(FallbackReflection):
    def __init__(self, seen: list[str]) -> None:
        self.seen = seen

    async def handle(self, namespace: str, name: str) -> float | None:
        self.seen.append(f"fallback {namespace}/{name}")
        return None


async def test_keys_go_to_their_pair_or_to_the_fallback() -> None:
    seen: list[str] = []

    class Kind(Reflector):
        name, resource = "Thing", "thing"

        def namespaced(self, pair: NamespacePair) -> NamespacedReflection:
            return Recording(pair, seen)

        def fallback(self) -> FallbackReflection | None:
            return RecordingFallback(seen)

    metrics = ReflectionMetrics()
    identity = Identity("c1", "p1", "vn-1")
    manager: Any = SimpleNamespace(
        ready=False, metrics=metrics, context=SimpleNamespace(identity=identity)
    )
    runner = _KindRunner(manager, Kind(manager.context), workers=1)
    # Before the mappings are known the fallback must not act: look again later.
    assert await runner._reconcile("apps/x") == NOT_READY_RETRY
    manager.ready = True
    assert await runner._reconcile("apps/x") is None
    runner.start_pair(NamespacePair("apps", "apps-twin"))
    await runner.pairs["apps"].tasks[-1]  # the pair's sync (it has no informers)
    # Once synced, the pair queued all its names; keys of its namespace are its own.
    queue = runner.controller.queue
    assert len(queue) == 2 and {await queue.get(), await queue.get()} == {"apps/a", "apps/b"}
    await runner._reconcile("apps/a")
    await runner._reconcile("other/y")
    with pytest.raises(RuntimeError):
        await runner._reconcile("apps/broken")
    assert seen == ["fallback apps/x", "apps->apps-twin/a", "fallback other/y"]
    await runner.stop_pair("apps")
    await runner._reconcile("apps/a")
    assert seen[-1] == "fallback apps/a"
    assert metrics.items[("apps", "Thing", "p1", "vn-1")] == 3
    assert metrics.errors[("apps", "Thing", "p1", "vn-1")] == 1
