"""The pod policy of offloaded namespaces (upstream's pod-webhook expectations)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from liqo_offloading.namespaceoffloading import rules

TOLERATION = {
    "key": "virtual-node.liqo.io/not-allowed",
    "operator": "Exists",
    "effect": "NoExecute",
}
ON_VIRTUAL = {"key": "liqo.io/type", "operator": "In", "values": ["virtual-node"]}
OFF_VIRTUAL = {"key": "liqo.io/type", "operator": "NotIn", "values": ["virtual-node"]}

REGION_AB = {"key": "region", "operator": "In", "values": ["A,B"]}
PROVIDER = {"key": "provider", "operator": "Exists"}
REGION_CD = {"key": "region", "operator": "In", "values": ["C,D"]}
NOT_PROVIDER = {"key": "NotProvider", "operator": "Exists"}
STORAGE = {"key": "storage", "operator": "Exists"}
AWS = {"key": "provider", "operator": "In", "values": ["AWS"]}


def terms(*expression_lists: list[dict[str, Any]]) -> dict[str, Any]:
    return {"nodeSelectorTerms": [{"matchExpressions": list(e)} for e in expression_lists]}


#: The clusterSelector of upstream's test NamespaceOffloading.
CLUSTER_SELECTOR = terms([REGION_AB, PROVIDER], [REGION_CD, NOT_PROVIDER])
#: The pod's own required node affinity in upstream's tests.
POD_SELECTOR = terms([STORAGE], [AWS])


def offloading(strategy: str, selector: dict[str, Any] | None = CLUSTER_SELECTOR) -> dict[str, Any]:
    spec: dict[str, Any] = {"namespaceMappingStrategy": "EnforceSameName",
                            "podOffloadingStrategy": strategy}  # fmt: skip
    if selector is not None:
        spec["clusterSelector"] = copy.deepcopy(selector)
    return spec


def test_the_imposed_selector_of_each_strategy() -> None:
    assert rules.imposed_node_selector("Local", CLUSTER_SELECTOR) is None
    assert rules.imposed_node_selector("Remote", CLUSTER_SELECTOR) == terms(
        [REGION_AB, PROVIDER, ON_VIRTUAL], [REGION_CD, NOT_PROVIDER, ON_VIRTUAL]
    )
    assert rules.imposed_node_selector("LocalAndRemote", CLUSTER_SELECTOR) == terms(
        [REGION_AB, PROVIDER], [REGION_CD, NOT_PROVIDER], [OFF_VIRTUAL]
    )
    # The clusterSelector itself is never modified.
    assert terms([REGION_AB, PROVIDER], [REGION_CD, NOT_PROVIDER]) == CLUSTER_SELECTOR


def test_without_cluster_selector() -> None:
    for empty in (None, {}, {"nodeSelectorTerms": []}):
        assert rules.imposed_node_selector("Remote", empty) == terms([ON_VIRTUAL])
        assert rules.imposed_node_selector("LocalAndRemote", empty) is None
    only_toleration = rules.pod_mutation({}, offloading("LocalAndRemote", None), "liqo")
    assert only_toleration == {"tolerations": [TOLERATION]}
    remote = rules.pod_mutation({}, offloading("Remote", None), "liqo")
    assert remote["affinity"] == {
        "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": terms([ON_VIRTUAL])}
    }


def test_an_unknown_strategy_is_an_error() -> None:
    with pytest.raises(rules.PolicyError, match="Everywhere"):
        rules.imposed_node_selector("Everywhere", CLUSTER_SELECTOR)
    with pytest.raises(rules.PolicyError):
        rules.pod_mutation({}, offloading("Everywhere"), "liqo")


def test_merging_ands_every_pair_of_terms() -> None:
    merged = rules.merge_node_selectors(POD_SELECTOR, CLUSTER_SELECTOR)
    assert merged == terms(
        [STORAGE, REGION_AB, PROVIDER],
        [STORAGE, REGION_CD, NOT_PROVIDER],
        [AWS, REGION_AB, PROVIDER],
        [AWS, REGION_CD, NOT_PROVIDER],
    )


def test_merging_keeps_match_fields() -> None:
    pinned = {"nodeSelectorTerms": [{"matchFields": [
        {"key": "metadata.name", "operator": "In", "values": ["n1"]}]}]}  # fmt: skip
    merged = rules.merge_node_selectors(pinned, terms([ON_VIRTUAL]))
    assert merged == {"nodeSelectorTerms": [{
        "matchExpressions": [ON_VIRTUAL],
        "matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}],
    }]}  # fmt: skip


POD_AFFINITY = {"requiredDuringSchedulingIgnoredDuringExecution": [{"topologyKey": "fake"}]}


@pytest.mark.parametrize(
    ("affinity", "expected"),
    [
        (None, CLUSTER_SELECTOR),
        ({}, CLUSTER_SELECTOR),
        ({"podAffinity": POD_AFFINITY}, CLUSTER_SELECTOR),
        ({"nodeAffinity": {}}, CLUSTER_SELECTOR),
        (
            {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}
                }
            },
            CLUSTER_SELECTOR,
        ),
        (
            {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": POD_SELECTOR}},
            terms(
                [STORAGE, REGION_AB, PROVIDER],
                [STORAGE, REGION_CD, NOT_PROVIDER],
                [AWS, REGION_AB, PROVIDER],
                [AWS, REGION_CD, NOT_PROVIDER],
            ),
        ),
    ],
    ids=[
        "no-affinity",
        "empty-affinity",
        "pod-affinity-only",
        "no-required",
        "required-without-terms",
        "own-required",
    ],
)
def test_the_imposed_selector_goes_into_the_pod(
    affinity: dict[str, Any] | None, expected: dict[str, Any]
) -> None:
    before = copy.deepcopy(affinity)
    result = rules.with_node_selector(affinity, CLUSTER_SELECTOR)
    assert result["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] == expected
    assert affinity == before  # the pod's own object is not modified
    if affinity and "podAffinity" in affinity:
        assert result["podAffinity"] == POD_AFFINITY


def pod(runtime_class: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "tolerations": [{"key": "test"}],
        "affinity": {"nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": copy.deepcopy(POD_SELECTOR)}},
    }  # fmt: skip
    if runtime_class is not None:
        spec["runtimeClassName"] = runtime_class
    return spec


@pytest.mark.parametrize("strategy", ["Local", "LocalAndRemote", "Remote"])
@pytest.mark.parametrize("runtime_class", [None, "my-liqo-runtime"])
def test_mutation_by_strategy_and_runtime_class(strategy: str, runtime_class: str | None) -> None:
    changes = rules.pod_mutation(pod(runtime_class), offloading(strategy), "my-liqo-runtime")
    if strategy == "Local" or runtime_class is not None:
        assert changes == {}  # the Liqo RuntimeClass places the pod by itself
        return
    assert changes["tolerations"] == [{"key": "test"}, TOLERATION]
    required = changes["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    if strategy == "Remote":
        expected = terms(
            [STORAGE, REGION_AB, PROVIDER, ON_VIRTUAL],
            [STORAGE, REGION_CD, NOT_PROVIDER, ON_VIRTUAL],
            [AWS, REGION_AB, PROVIDER, ON_VIRTUAL],
            [AWS, REGION_CD, NOT_PROVIDER, ON_VIRTUAL],
        )
    else:
        expected = terms(
            [STORAGE, REGION_AB, PROVIDER],
            [STORAGE, REGION_CD, NOT_PROVIDER],
            [STORAGE, OFF_VIRTUAL],
            [AWS, REGION_AB, PROVIDER],
            [AWS, REGION_CD, NOT_PROVIDER],
            [AWS, OFF_VIRTUAL],
        )
    assert required == expected


def test_another_runtime_class_does_not_exempt_the_pod() -> None:
    changes = rules.pod_mutation(pod("my-custom-runtime"), offloading("LocalAndRemote"), "liqo")
    assert changes["tolerations"] == [{"key": "test"}, TOLERATION]
    assert "affinity" in changes


def test_the_toleration_is_not_added_twice() -> None:
    spec = {"tolerations": [dict(TOLERATION)]}
    assert rules.pod_mutation(spec, offloading("LocalAndRemote", None), "liqo") == {}
