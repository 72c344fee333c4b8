"""Strategic merge patch on realistic Pod, Node, Deployment and Service objects."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from liqo_core.sandbox.apiserver.patch import PatchError, apply_strategic_merge_patch


def _pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web",
            "namespace": "default",
            "labels": {"app": "web"},
            "finalizers": ["a.io/x", "b.io/y"],
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u1"}
            ],
        },
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "nginx:1",
                    "ports": [{"containerPort": 80, "protocol": "TCP"}],
                    "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                    "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                },
                {"name": "sidecar", "image": "envoy:1"},
            ],
            "volumes": [{"name": "data", "emptyDir": {}}],
            "tolerations": [{"key": "k1", "operator": "Exists"}],
            "imagePullSecrets": [{"name": "reg1"}],
        },
        "status": {
            "phase": "Pending",
            "conditions": [
                {"type": "PodScheduled", "status": "True"},
                {"type": "Ready", "status": "False"},
            ],
            "containerStatuses": [{"name": "app", "ready": False}, {"name": "sidecar"}],
        },
    }


def smp(obj: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    before = copy.deepcopy(obj)
    out = apply_strategic_merge_patch(obj, patch, obj["apiVersion"], obj["kind"])
    assert obj == before, "input mutated"
    return out


def test_containers_merge_by_name_and_nested_lists_by_their_keys() -> None:
    out = smp(
        _pod(),
        {
            "spec": {
                "containers": [
                    {
                        "name": "app",
                        "image": "nginx:2",
                        "env": [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}],
                        "ports": [{"containerPort": 443}],
                        "volumeMounts": [{"name": "data", "mountPath": "/data", "readOnly": True}],
                    }
                ]
            }
        },
    )
    app, sidecar = out["spec"]["containers"]
    assert app["image"] == "nginx:2"
    assert app["env"] == [
        {"name": "A", "value": "1"},
        {"name": "B", "value": "20"},
        {"name": "C", "value": "3"},
    ]
    assert [p["containerPort"] for p in app["ports"]] == [80, 443]
    assert app["volumeMounts"] == [{"name": "data", "mountPath": "/data", "readOnly": True}]
    assert sidecar == {"name": "sidecar", "image": "envoy:1"}


def test_new_container_is_appended_and_directives_in_it_resolved() -> None:
    out = smp(_pod(), {"spec": {"containers": [{"name": "new", "image": "busybox"}]}})
    assert [c["name"] for c in out["spec"]["containers"]] == ["app", "sidecar", "new"]


def test_delete_list_item_directive() -> None:
    out = smp(_pod(), {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}})
    assert [c["name"] for c in out["spec"]["containers"]] == ["app"]


def test_replace_list_directive() -> None:
    patch = {
        "spec": {"volumes": [{"name": "cfg", "configMap": {"name": "c"}}, {"$patch": "replace"}]}
    }
    out = smp(_pod(), patch)
    assert out["spec"]["volumes"] == [{"name": "cfg", "configMap": {"name": "c"}}]


def test_replace_map_directive() -> None:
    out = smp(_pod(), {"metadata": {"labels": {"$patch": "replace", "new": "x"}}})
    assert out["metadata"]["labels"] == {"new": "x"}


def test_delete_map_directive_empties_it() -> None:
    out = smp(_pod(), {"metadata": {"labels": {"$patch": "delete"}}})
    assert out["metadata"]["labels"] == {}


def test_null_deletes_key() -> None:
    out = smp(_pod(), {"metadata": {"labels": {"app": None}}, "status": {"phase": None}})
    assert out["metadata"]["labels"] == {}
    assert "phase" not in out["status"]


def test_atomic_lists_are_replaced() -> None:
    out = smp(
        _pod(),
        {
            "spec": {"tolerations": [{"key": "k2", "operator": "Exists"}]},
            "status": {"containerStatuses": [{"name": "app", "ready": True}]},
        },
    )
    assert out["spec"]["tolerations"] == [{"key": "k2", "operator": "Exists"}]
    assert out["status"]["containerStatuses"] == [{"name": "app", "ready": True}]


def test_pod_status_conditions_merge_by_type() -> None:
    out = smp(_pod(), {"status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    assert out["status"]["conditions"] == [
        {"type": "PodScheduled", "status": "True"},
        {"type": "Ready", "status": "True"},
    ]


def test_finalizers_merge_as_set_and_delete_from_primitive_list() -> None:
    out = smp(_pod(), {"metadata": {"finalizers": ["b.io/y", "c.io/z"]}})
    assert out["metadata"]["finalizers"] == ["a.io/x", "b.io/y", "c.io/z"]
    out = smp(_pod(), {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a.io/x"]}})
    assert out["metadata"]["finalizers"] == ["b.io/y"]


def test_owner_references_merge_by_uid() -> None:
    ref = {"apiVersion": "v1", "kind": "Node", "name": "n", "uid": "u2"}
    out = smp(_pod(), {"metadata": {"ownerReferences": [ref]}})
    assert [r["uid"] for r in out["metadata"]["ownerReferences"]] == ["u1", "u2"]
    out = smp(_pod(), {"metadata": {"ownerReferences": [{"uid": "u1", "$patch": "delete"}]}})
    assert out["metadata"]["ownerReferences"] == []


def test_set_element_order() -> None:
    patch = {
        "spec": {
            "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}],
            "containers": [{"name": "app", "image": "nginx:3"}],
        }
    }
    out = smp(_pod(), patch)
    assert [c["name"] for c in out["spec"]["containers"]] == ["sidecar", "app"]
    assert out["spec"]["containers"][1]["image"] == "nginx:3"


def test_retain_keys_clears_other_fields() -> None:
    deploy = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {
            "replicas": 2,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
        },
    }
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
    out = smp(deploy, patch)
    assert out["spec"]["strategy"] == {"type": "Recreate"}
    assert out["spec"]["replicas"] == 2
    with pytest.raises(PatchError):
        smp(deploy, {"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}})


def test_deployment_template_uses_pod_rules_and_status_conditions_by_type() -> None:
    pod = _pod()
    deploy = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {"template": {"metadata": {"labels": {"app": "web"}}, "spec": pod["spec"]}},
        "status": {"conditions": [{"type": "Available", "status": "False"}]},
    }
    out = smp(
        deploy,
        {
            "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:9"}]}}},
            "status": {"conditions": [{"type": "Progressing", "status": "True"}]},
        },
    )
    containers = out["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [
        ("app", "nginx:9"),
        ("sidecar", "envoy:1"),
    ]
    assert len(containers[0]["env"]) == 2
    assert [c["type"] for c in out["status"]["conditions"]] == ["Available", "Progressing"]


def test_node_conditions_and_addresses_by_type_taints_atomic() -> None:
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "n1"},
        "spec": {"taints": [{"key": "a", "effect": "NoSchedule"}]},
        "status": {
            "conditions": [{"type": "Ready", "status": "False"}, {"type": "MemoryPressure"}],
            "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}],
        },
    }
    out = smp(
        node,
        {
            "spec": {"taints": [{"key": "b", "effect": "NoExecute"}]},
            "status": {
                "conditions": [{"type": "Ready", "status": "True"}],
                "addresses": [{"type": "Hostname", "address": "n1"}],
            },
        },
    )
    assert out["spec"]["taints"] == [{"key": "b", "effect": "NoExecute"}]
    assert out["status"]["conditions"][0] == {"type": "Ready", "status": "True"}
    assert len(out["status"]["conditions"]) == 2
    assert [a["type"] for a in out["status"]["addresses"]] == ["InternalIP", "Hostname"]


def test_service_ports_merge_by_port() -> None:
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s"},
        "spec": {"ports": [{"port": 80, "targetPort": 8080}]},
    }
    out = smp(svc, {"spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443}]}})
    assert out["spec"]["ports"] == [
        {"port": 80, "targetPort": 8080, "name": "http"},
        {"port": 443},
    ]


def test_unknown_kind_merges_maps_and_replaces_lists() -> None:
    obj = {
        "apiVersion": "x.io/v1",
        "kind": "Thing",
        "metadata": {"name": "t", "finalizers": ["a"]},
        "spec": {"items": [{"name": "a"}], "m": {"a": 1}},
    }
    out = smp(
        obj, {"metadata": {"finalizers": ["b"]}, "spec": {"items": [{"name": "b"}], "m": {"b": 2}}}
    )
    assert out["spec"] == {"items": [{"name": "b"}], "m": {"a": 1, "b": 2}}
    assert out["metadata"]["finalizers"] == ["a", "b"]


def test_endpointslice_endpoints_atomic() -> None:
    eps = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": "e"},
        "endpoints": [{"addresses": ["10.0.0.1"]}],
    }
    out = smp(eps, {"endpoints": [{"addresses": ["10.0.0.2"]}]})
    assert out["endpoints"] == [{"addresses": ["10.0.0.2"]}]


@pytest.mark.parametrize(
    "patch",
    [
        {"spec": {"containers": [{"image": "no-name"}]}},
        {"spec": {"containers": ["x"]}},
        {"metadata": {"labels": {"$patch": "explode"}}},
        {"metadata": {"$deleteFromPrimitiveList/finalizers": "a.io/x"}},
        {"metadata": {"finalizers": [{"a": 1}]}},
    ],
)
def test_malformed_patches_are_bad_requests(patch: dict[str, Any]) -> None:
    with pytest.raises(PatchError) as err:
        smp(_pod(), patch)
    assert err.value.code == 400


def test_empty_merge_lists_change_nothing_but_null_and_replace_do() -> None:
    out = smp(_pod(), {"metadata": {"finalizers": []}, "spec": {"containers": []}})
    assert out["metadata"]["finalizers"] == ["a.io/x", "b.io/y"]
    assert len(out["spec"]["containers"]) == 2
    out = smp(_pod(), {"metadata": {"finalizers": None}})
    assert "finalizers" not in out["metadata"]
    out = smp(_pod(), {"metadata": {"finalizers": ["z.io/z", {"$patch": "replace"}]}})
    assert out["metadata"]["finalizers"] == ["z.io/z"]


def test_item_level_replace_directive_replaces_the_item() -> None:
    patch = {"spec": {"containers": [{"name": "app", "image": "x:1", "$patch": "replace"}]}}
    out = smp(_pod(), patch)
    assert out["spec"]["containers"][0] == {"name": "app", "image": "x:1"}
    assert out["spec"]["containers"][1]["name"] == "sidecar"


def test_set_element_order_keeps_server_only_items_in_place() -> None:
    pod = _pod()
    pod["spec"]["containers"] = [
        {"name": "a", "image": "1"},
        {"name": "injected", "image": "proxy"},
        {"name": "b", "image": "1"},
    ]
    patch = {
        "spec": {
            "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}],
            "containers": [{"name": "c", "image": "new"}],
        }
    }
    out = smp(pod, patch)
    assert [c["name"] for c in out["spec"]["containers"]] == ["a", "injected", "b", "c"]
    reorder = {"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]}}
    out = smp(pod, reorder)
    assert [c["name"] for c in out["spec"]["containers"]] == ["injected", "b", "a"]


def test_retain_keys_with_null_deletion_as_kubectl_sends_it() -> None:
    patch = {
        "spec": {
            "$setElementOrder/volumes": [{"name": "data"}],
            "volumes": [
                {
                    "$retainKeys": ["configMap", "name"],
                    "configMap": {"name": "cfg"},
                    "emptyDir": None,
                    "name": "data",
                }
            ],
        }
    }
    out = smp(_pod(), patch)
    assert out["spec"]["volumes"] == [{"name": "data", "configMap": {"name": "cfg"}}]
