"""The NamespaceOffloading checks, the pod webhook's decisions, the webhook selector patch."""

from __future__ import annotations

from typing import Any

import kopf
import pytest
from liqo_offloading.namespaceoffloading import rules, webhookconfig
from liqo_offloading.namespaceoffloading.shared import Caches
from liqo_offloading.namespaceoffloading.webhooks import pod_changes

from liqo_core.kube import Informer


def nsoff(name: str = "offloading", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "app"}, "spec": spec}


def test_the_name_must_be_offloading() -> None:
    assert rules.offloading_problems("CREATE", None, nsoff("other")) == [
        "metadata.name: a NamespaceOffloading must be named 'offloading', not 'other'"
    ]
    assert rules.offloading_problems("CREATE", None, nsoff()) == []


def test_selected_name_needs_a_valid_remote_name() -> None:
    missing = rules.offloading_problems(
        "CREATE", None, nsoff(namespaceMappingStrategy="SelectedName")
    )
    assert missing == [
        "spec.remoteNamespaceName: Required value: the SelectedName namespaceMappingStrategy "
        "needs the name of the remote namespace"
    ]
    bad = rules.offloading_problems(
        "CREATE", None, nsoff(namespaceMappingStrategy="SelectedName", remoteNamespaceName="Bad_")
    )
    assert len(bad) == 1 and bad[0].startswith("spec.remoteNamespaceName: 'Bad_': ")
    ok = nsoff(namespaceMappingStrategy="SelectedName", remoteNamespaceName="there")
    assert rules.offloading_problems("CREATE", None, ok) == []


def test_mapping_strategy_and_remote_name_are_immutable() -> None:
    old = nsoff(namespaceMappingStrategy="SelectedName", remoteNamespaceName="there")
    renamed = nsoff(namespaceMappingStrategy="SelectedName", remoteNamespaceName="elsewhere")
    assert rules.offloading_problems("UPDATE", old, renamed) == [
        "spec.remoteNamespaceName: cannot be changed after creation"
    ]
    restrategised = nsoff(namespaceMappingStrategy="EnforceSameName")
    problems = rules.offloading_problems("UPDATE", nsoff(), restrategised)
    assert problems == [
        "spec.namespaceMappingStrategy: cannot be changed after creation (is DefaultName): "
        "delete and recreate the NamespaceOffloading"
    ]
    # DefaultName explicitly or by default is the same strategy.
    same = nsoff(namespaceMappingStrategy="DefaultName", podOffloadingStrategy="Remote")
    assert rules.offloading_problems("UPDATE", nsoff(), same) == []


def test_cluster_selector_must_be_valid() -> None:
    bad = nsoff(clusterSelector={"nodeSelectorTerms": [{"matchExpressions": [
        {"key": "a", "operator": "In"}]}]})  # fmt: skip
    assert rules.offloading_problems("CREATE", None, bad) == [
        "spec.clusterSelector.nodeSelectorTerms[0].matchExpressions[0].values: Required value: "
        "must be specified for In"
    ]


@pytest.mark.parametrize(
    ("before", "after", "warned"),
    [
        ("LocalAndRemote", "Remote", True),
        ("LocalAndRemote", "Local", True),
        ("Remote", "Local", True),
        ("Local", "LocalAndRemote", False),
        ("Remote", "Remote", False),
    ],
)
def test_a_stricter_pod_strategy_is_warned_about(before: str, after: str, warned: bool) -> None:
    warnings = rules.offloading_warnings(
        nsoff(podOffloadingStrategy=before), nsoff(podOffloadingStrategy=after)
    )
    assert warnings == ([rules.STRICTER_WARNING] if warned else [])


class FakeInformer(Informer):
    """An informer whose cache a test fills (never run)."""

    def __init__(self, objects: list[dict[str, Any]]) -> None:
        super().__init__(None, "/x")  # type: ignore[arg-type]
        for obj in objects:
            self.cache.upsert(obj)
        self._synced.set()


def caches(labels: dict[str, str], offloading: dict[str, Any] | None) -> Caches:
    namespace = {"metadata": {"name": "app", "labels": labels}}
    return Caches(FakeInformer([namespace]), FakeInformer([offloading] if offloading else []))


SCHEDULED = {"liqo.io/scheduling-enabled": "true"}


async def test_pods_outside_offloaded_namespaces_are_left_alone() -> None:
    assert await pod_changes(caches({}, nsoff(podOffloadingStrategy="Remote")), "app", {}) == {}
    assert await pod_changes(caches({}, None), "other", {}) == {}


async def test_pods_of_an_offloaded_namespace_get_the_policy() -> None:
    changes = await pod_changes(caches(SCHEDULED, nsoff(podOffloadingStrategy="Remote")), "app", {})
    assert changes["tolerations"] == [dict(rules.VIRTUAL_NODE_TOLERATION)]
    exempt = {"spec": {"runtimeClassName": "liqo"}}
    assert await pod_changes(caches(SCHEDULED, nsoff()), "app", exempt) == {}


async def test_a_labelled_namespace_without_offloading_refuses_pods() -> None:
    with pytest.raises(kopf.AdmissionError, match="has no NamespaceOffloading"):
        await pod_changes(caches(SCHEDULED, None), "app", {})


async def test_before_the_caches_sync_the_api_is_asked() -> None:
    asked: list[str] = []

    async def fetch(namespace: str) -> tuple[dict[str, str], dict[str, Any] | None]:
        asked.append(namespace)
        return SCHEDULED, nsoff(podOffloadingStrategy="Local")

    assert not Caches().synced
    assert await pod_changes(Caches(), "app", {}, fetch=fetch) == {}
    assert asked == ["app"]
    with pytest.raises(kopf.AdmissionError, match="not available yet"):
        await pod_changes(Caches(), "app", {})

    async def broken(namespace: str) -> tuple[dict[str, str], dict[str, Any] | None]:
        raise OSError("connection refused")

    with pytest.raises(kopf.AdmissionError, match="cannot read namespace app: OSError"):
        await pod_changes(Caches(), "app", {}, fetch=broken)


def test_the_pod_webhook_gets_the_namespace_selector() -> None:
    name = webhookconfig.webhook_name("pod.mutate", "cfg")
    configuration = {"webhooks": [{"name": "namespaceoffloading.validate.cfg"}, {"name": name}]}
    assert webhookconfig.selector_patch(configuration, name) == [
        {"op": "test", "path": "/webhooks/1/name", "value": "pod.mutate.cfg"},
        {"op": "add", "path": "/webhooks/1/namespaceSelector",
         "value": {"matchLabels": {"liqo.io/scheduling-enabled": "true"}}},
    ]  # fmt: skip
    configuration["webhooks"][1]["namespaceSelector"] = dict(webhookconfig.NAMESPACE_SELECTOR)
    assert webhookconfig.selector_patch(configuration, name) == []
    assert webhookconfig.selector_patch({"webhooks": []}, name) == []
