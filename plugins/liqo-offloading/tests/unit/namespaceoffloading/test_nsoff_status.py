"""The NamespaceOffloading status derived from the peers' NamespaceMaps."""

from __future__ import annotations

from typing import Any

import pytest
from liqo_offloading.namespaceoffloading import status
from liqo_offloading.namespaceoffloading.controller import changed_namespaces, map_cluster


def nm(cluster: str, desired: dict[str, str] | None = None, **current: str) -> dict[str, Any]:
    return {
        "metadata": {"name": cluster, "namespace": f"liqo-tenant-{cluster}",
                     "labels": {"liqo.io/remote-cluster-id": cluster, "liqo.io/remoteID": cluster,
                                "liqo.io/replication": "true"}},
        "spec": {"desiredMapping": desired or {}},
        "status": {"currentMapping": {
            ns: {"remoteNamespace": f"{ns}-x", "phase": phase} for ns, phase in current.items()}},
    }  # fmt: skip


def peers(*maps: dict[str, Any], namespace: str = "app") -> dict[str, status.PeerMapping]:
    return {m["metadata"]["name"]: status.peer_mapping(m, namespace) for m in maps}


@pytest.mark.parametrize(
    ("maps", "expected"),
    [
        ([], "NoClusterSelected"),
        ([nm("a")], "NoClusterSelected"),
        ([nm("a", {"app": "app-x"})], "InProgress"),
        ([nm("a", {"app": "app-x"}, app="Accepted")], "Ready"),
        ([nm("a", {"app": "app-x"}, app="Accepted"), nm("b")], "Ready"),
        ([nm("a", {"app": "app-x"}, app="Accepted"), nm("b", {"app": "app-x"})], "InProgress"),
        ([nm("a", {"app": "app-x"}, app="CreationLoopBackOff")], "AllFailed"),
        (
            [
                nm("a", {"app": "app-x"}, app="CreationLoopBackOff"),
                nm("b", {"app": "app-x"}, app="Accepted"),
            ],
            "SomeFailed",
        ),
    ],
)
def test_phase(maps: list[dict[str, Any]], expected: str) -> None:
    assert status.phase(peers(*maps), deleting=False) == expected
    assert status.phase(peers(*maps), deleting=True) == "Terminating"


def kinds(conditions: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(c["type"], c["status"], c["reason"]) for c in conditions]


def test_conditions_per_peer() -> None:
    found = status.remote_conditions(
        peers(nm("a", {"app": "app-x"}, app="Accepted"), nm("b"), nm("c", {"app": "app-x"}),
              nm("d", {}, app="Terminating")),
        {}, deleting=False, now="T1",
    )  # fmt: skip
    assert {k: kinds(v) for k, v in found.items()} == {
        "a": [("OffloadingRequired", "True", "ClusterSelected"),
              ("Ready", "True", "NamespaceCreated")],
        "b": [("OffloadingRequired", "False", "ClusterNotSelected")],
        "c": [("OffloadingRequired", "True", "ClusterSelected"), ("Ready", "False", "Creating")],
        "d": [("OffloadingRequired", "False", "ClusterNotSelected"),
              ("Ready", "False", "Terminating")],
    }  # fmt: skip
    assert all(c["lastTransitionTime"] == "T1" for cs in found.values() for c in cs)


def test_transition_times_stay_while_nothing_changes() -> None:
    before = status.remote_conditions(
        peers(nm("a", {"app": "app-x"})), {}, deleting=False, now="T1"
    )
    after = status.remote_conditions(
        peers(nm("a", {"app": "app-x"}, app="Accepted")), before, deleting=False, now="T2"
    )
    assert [c["lastTransitionTime"] for c in after["a"]] == ["T1", "T2"]


def test_while_deleting_done_peers_drop_out() -> None:
    maps = peers(nm("a", {}, app="Terminating"), nm("b"))
    found = status.remote_conditions(maps, {}, deleting=True, now="T")
    assert list(found) == ["a"]
    assert not status.unmapped(maps)
    assert status.unmapped(peers(nm("a"), nm("b")))
    assert status.unmapped({})


def test_the_whole_status() -> None:
    found = status.offloading_status(
        {"remoteNamespacesConditions": {"gone": []}},
        peers(nm("a", {"app": "app-c"}, app="Accepted")),
        remote_name="app-c",
        generation=3,
        deleting=False,
        now="T",
    )
    assert found["remoteNamespaceName"] == "app-c"
    assert found["offloadingPhase"] == "Ready"
    assert found["observedGeneration"] == 3
    assert list(found["remoteNamespacesConditions"]) == ["a"]  # a vanished peer is dropped


def test_which_namespaces_a_map_change_concerns() -> None:
    old = nm("a", {"app": "app-x", "web": "web-x"}, app="Accepted")
    new = nm("a", {"app": "app-x", "db": "db-x"}, app="Accepted", web="Terminating")
    assert changed_namespaces(old, new) == {"web", "db"}
    assert changed_namespaces(old, old) == set()
    assert map_cluster(old) == ["a"]
    replica = nm("a")
    del replica["metadata"]["labels"]["liqo.io/remoteID"]
    assert map_cluster(replica) == []
