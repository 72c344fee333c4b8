"""Twin names and the choice of peers by clusterSelector."""

from __future__ import annotations

from typing import Any

import pytest
from liqo_offloading.namespaceoffloading import naming, selector


def test_remote_names_by_strategy() -> None:
    name = naming.remote_namespace_name
    assert name("app", {}, "cluster-a") == "app-cluster-a"
    assert name("app", {"namespaceMappingStrategy": "DefaultName"}, "c") == "app-c"
    assert name("app", {"namespaceMappingStrategy": "EnforceSameName"}, "c") == "app"
    selected = {"namespaceMappingStrategy": "SelectedName", "remoteNamespaceName": "there"}
    assert name("app", selected, "c") == "there"
    assert name("app", {"namespaceMappingStrategy": "Bogus"}, "c") == "app-c"


def test_a_long_default_name_is_shortened_distinctly() -> None:
    cluster = "c" * 40
    short = naming.default_name("n" * 30, cluster)
    other = naming.default_name("n" * 29 + "x", cluster)
    assert len(short) == 63 and len(other) == 63 and short != other
    assert short.startswith("n" * 30 + "-")
    exact = naming.default_name("n" * 22, cluster)  # 22 + 1 + 40 = 63: kept whole
    assert exact == "n" * 22 + "-" + cluster


def req(key: str, op: str, *values: str) -> dict[str, Any]:
    out: dict[str, Any] = {"key": key, "operator": op}
    if values:
        out["values"] = list(values)
    return out


def sel(*terms: list[dict[str, Any]]) -> dict[str, Any]:
    return {"nodeSelectorTerms": [{"matchExpressions": t} for t in terms]}


LABELS = {"region": "eu", "tier": "3", "liqo.io/type": "virtual-node"}


@pytest.mark.parametrize(
    ("selector_", "expected"),
    [
        (None, True),
        ({}, True),
        ({"nodeSelectorTerms": []}, True),
        ({"nodeSelectorTerms": [{}]}, False),  # an empty term matches nothing
        (sel([req("region", "In", "eu", "us")]), True),
        (sel([req("region", "NotIn", "eu")]), False),
        (sel([req("zone", "NotIn", "eu")]), True),
        (sel([req("region", "Exists")]), True),
        (sel([req("region", "DoesNotExist")]), False),
        (sel([req("tier", "Gt", "2")]), True),
        (sel([req("tier", "Lt", "2")]), False),
        (sel([req("region", "In", "us")], [req("tier", "Exists")]), True),  # terms ORed
        (sel([req("region", "In", "eu"), req("tier", "In", "1")]), False),  # ANDed
        ({"nodeSelectorTerms": [{"matchFields": [req("metadata.name", "In", "vn1")]}]}, True),
        ({"nodeSelectorTerms": [{"matchFields": [req("metadata.name", "NotIn", "vn1")]}]}, False),
    ],
)
def test_matching(selector_: dict[str, Any] | None, expected: bool) -> None:
    assert selector.matches(selector_, LABELS, "vn1") is expected


def test_invalid_selectors_are_explained() -> None:
    bad = {"nodeSelectorTerms": [
        {"matchExpressions": [req("a", "In"), req("b", "Exists", "x"), req("c", "Gt", "one"),
                              req("d", "Near", "x"), {"operator": "In", "values": ["x"]}]},
        {"matchFields": [req("spec.unschedulable", "In", "true"),
                         req("metadata.name", "Exists")]},
    ]}  # fmt: skip
    problems = selector.selector_problems(bad)
    assert problems == [
        "spec.clusterSelector.nodeSelectorTerms[0].matchExpressions[0].values: Required value: "
        "must be specified for In",
        "spec.clusterSelector.nodeSelectorTerms[0].matchExpressions[1].values: Forbidden: may "
        "not be specified for Exists",
        "spec.clusterSelector.nodeSelectorTerms[0].matchExpressions[2].values: must be a single "
        "integer for Gt",
        "spec.clusterSelector.nodeSelectorTerms[0].matchExpressions[3].operator: Unsupported "
        "value: 'Near': supported values: In, NotIn, Exists, DoesNotExist, Gt, Lt",
        "spec.clusterSelector.nodeSelectorTerms[0].matchExpressions[4].key: Required value",
        "spec.clusterSelector.nodeSelectorTerms[1].matchFields[0].key: Unsupported value: "
        "'spec.unschedulable': supported values: 'metadata.name'",
        "spec.clusterSelector.nodeSelectorTerms[1].matchFields[1].operator: Unsupported value: "
        "'Exists': use In or NotIn",
    ]
    assert selector.selector_problems(sel([req("a", "In", "x")])) == []


def vn(name: str, cluster: str, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "t"}, "spec": {"clusterID": cluster, **spec}}


def node(name: str, cluster: str, **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": {"liqo.io/remote-cluster-id": cluster, **labels}}}


def test_labels_of_a_virtual_node_without_node() -> None:
    labels = selector.virtual_node_labels(vn("a", "p1", labels={"gpu": "yes"}), None)
    assert labels == {
        "gpu": "yes",
        "liqo.io/remote-cluster-id": "p1",
        "liqo.io/type": "virtual-node",
        "storage.liqo.io/available": "false",
    }
    with_storage = vn("a", "p1", storageClasses=[{"storageClassName": "fast"}])
    assert selector.virtual_node_labels(with_storage, None)["storage.liqo.io/available"] == "true"


def test_the_registered_node_wins_over_the_virtual_node_labels() -> None:
    gpu = sel([req("gpu", "In", "yes")])
    vns = [vn("a", "p1", labels={"gpu": "yes"})]
    assert selector.selected_clusters(gpu, vns, {}) == ({"p1"}, {"p1"})
    # The Node dropped the label: the Node decides.
    assert selector.selected_clusters(gpu, vns, {"a": node("a", "p1")}) == (set(), {"p1"})
    # A Node of that name but of another cluster is not this VirtualNode's.
    assert selector.selected_clusters(gpu, vns, {"a": node("a", "p9")}) == ({"p1"}, {"p1"})


def test_a_peer_is_selected_when_any_of_its_virtual_nodes_matches() -> None:
    vns = [
        vn("a", "p1", labels={"arch": "arm"}),
        vn("b", "p1", labels={"arch": "x86"}),
        vn("c", "p2", labels={"arch": "x86"}),
        vn("d", "", labels={"arch": "arm"}),  # no cluster: ignored
    ]
    arm = sel([req("arch", "In", "arm")])
    assert selector.selected_clusters(arm, vns, {}) == ({"p1"}, {"p1", "p2"})
    assert selector.selected_clusters(None, vns, {}) == ({"p1", "p2"}, {"p1", "p2"})
    by_cluster = sel([req("liqo.io/remote-cluster-id", "In", "p2")])
    assert selector.selected_clusters(by_cluster, vns, {})[0] == {"p2"}
