"""PATCH semantics: strategic merge, JSON merge, JSON patch and server-side apply."""

from __future__ import annotations

import orjson
import pytest
from contract_helpers import UNSERVED_SCHEDULER, raw, status_of, wait_for
from kubernetes import client

pytestmark = pytest.mark.contract

SMP = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY = "application/apply-patch+yaml"


@pytest.fixture
def api(kube_cluster):
    return kube_cluster.api_client()


def _pod_path(ns, name=""):
    return f"/api/v1/namespaces/{ns}/pods" + (f"/{name}" if name else "")


def _deploy_path(ns, name=""):
    return f"/apis/apps/v1/namespaces/{ns}/deployments" + (f"/{name}" if name else "")


def _cm_path(ns, name=""):
    return f"/api/v1/namespaces/{ns}/configmaps" + (f"/{name}" if name else "")


def _pod(name):
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "web"}},
        "spec": {
            # Never bound: no kubelet rewrites the status these tests patch.
            "schedulerName": UNSERVED_SCHEDULER,
            "containers": [
                {
                    "name": "app",
                    "image": "nginx:1.25",
                    "env": [{"name": "A", "value": "1"}],
                },
                {"name": "sidecar", "image": "busybox:1.36", "command": ["sleep", "3600"]},
            ],
            "tolerations": [{"key": "k1", "operator": "Exists", "effect": "NoSchedule"}],
        },
    }


def _deployment(name, replicas=1, image="nginx:1.25"):
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
        },
    }


def _create_pod(api, ns, name):
    core = client.CoreV1Api(api)
    wait_for(lambda: core.read_namespaced_service_account("default", ns))
    return raw(api, "POST", _pod_path(ns), _pod(name))


def test_strategic_merge_on_pod_merges_containers_by_name(api, namespace):
    _create_pod(api, namespace, "smp")
    patch = {
        "metadata": {"labels": {"extra": "yes"}},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.26"}]},
    }
    out = raw(api, "PATCH", _pod_path(namespace, "smp"), patch, content_type=SMP)
    containers = {c["name"]: c for c in out["spec"]["containers"]}
    assert containers["app"]["image"] == "nginx:1.26"
    assert containers["app"]["env"] == [{"name": "A", "value": "1"}]
    assert containers["sidecar"]["image"] == "busybox:1.36"
    assert out["metadata"]["labels"] == {"app": "web", "extra": "yes"}


def test_strategic_merge_on_pod_metadata_lists_and_null(api, namespace):
    _create_pod(api, namespace, "smp-meta")
    cm = raw(api, "POST", _cm_path(namespace), {"metadata": {"name": "o1"}})
    owner = {"apiVersion": "v1", "kind": "ConfigMap", "name": "o1", "uid": cm["metadata"]["uid"]}
    patch = {
        "metadata": {
            "labels": {"app": None},
            "finalizers": ["example.com/a"],
            "ownerReferences": [owner],
        }
    }
    raw(api, "PATCH", _pod_path(namespace, "smp-meta"), patch, content_type=SMP)
    second = {"metadata": {"finalizers": ["example.com/b"], "ownerReferences": [owner]}}
    out = raw(api, "PATCH", _pod_path(namespace, "smp-meta"), second, content_type=SMP)
    assert "app" not in (out["metadata"].get("labels") or {})
    assert out["metadata"]["finalizers"] == ["example.com/a", "example.com/b"]
    assert len(out["metadata"]["ownerReferences"]) == 1
    clear = {
        "metadata": {"$deleteFromPrimitiveList/finalizers": ["example.com/a", "example.com/b"]}
    }
    out = raw(api, "PATCH", _pod_path(namespace, "smp-meta"), clear, content_type=SMP)
    assert not out["metadata"].get("finalizers")


def test_strategic_merge_on_pod_status_conditions_by_type(api, namespace):
    _create_pod(api, namespace, "smp-status")
    path = _pod_path(namespace, "smp-status") + "/status"
    first = {"status": {"conditions": [{"type": "example.com/one", "status": "True"}]}}
    raw(api, "PATCH", path, first, content_type=SMP)
    second = {"status": {"conditions": [{"type": "example.com/two", "status": "False"}]}}
    out = raw(api, "PATCH", path, second, content_type=SMP)
    types = {c["type"]: c["status"] for c in out["status"]["conditions"]}
    assert types["example.com/one"] == "True"
    assert types["example.com/two"] == "False"


def test_strategic_merge_on_deployment_template(api, namespace):
    body = _deployment("smpd")
    template = body["spec"]["template"]["spec"]
    template["containers"][0]["env"] = [{"name": "A", "value": "1"}]
    template["tolerations"] = [{"key": "k1", "operator": "Exists"}]
    raw(api, "POST", _deploy_path(namespace), body)
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "app", "env": [{"name": "B", "value": "2"}]},
                        {"name": "side", "image": "busybox:1.36"},
                    ],
                    "tolerations": [{"key": "k2", "operator": "Exists"}],
                },
            }
        }
    }
    out = raw(api, "PATCH", _deploy_path(namespace, "smpd"), patch, content_type=SMP)
    spec = out["spec"]["template"]["spec"]
    assert [c["name"] for c in spec["containers"]] == ["app", "side"]
    assert [e["name"] for e in spec["containers"][0]["env"]] == ["A", "B"]
    assert spec["containers"][0]["image"] == "nginx:1.25"
    assert [t["key"] for t in spec["tolerations"]] == ["k2"]
    assert out["metadata"]["generation"] == 2


def test_merge_patch_replaces_lists_and_null_deletes(api, namespace):
    raw(api, "POST", _deploy_path(namespace), _deployment("mp"))
    patch = {
        "metadata": {"labels": {"a": "1"}},
        "spec": {"template": {"spec": {"containers": [{"name": "only", "image": "busybox:1.36"}]}}},
    }
    out = raw(api, "PATCH", _deploy_path(namespace, "mp"), patch, content_type=MERGE)
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == ["only"]
    out = raw(
        api,
        "PATCH",
        _deploy_path(namespace, "mp"),
        {"metadata": {"labels": {"a": None}}},
        content_type=MERGE,
    )
    assert "a" not in (out["metadata"].get("labels") or {})


def test_json_patch_ops_and_failed_test_is_422(api, namespace):
    raw(api, "POST", _cm_path(namespace), {"metadata": {"name": "jp"}, "data": {"k": "v"}})
    ops = [
        {"op": "test", "path": "/data/k", "value": "v"},
        {"op": "add", "path": "/data/n", "value": "new"},
        {"op": "remove", "path": "/data/k"},
    ]
    out = raw(api, "PATCH", _cm_path(namespace, "jp"), ops, content_type=JSON_PATCH)
    assert out["data"] == {"n": "new"}
    bad = [{"op": "test", "path": "/data/n", "value": "other"}]
    with pytest.raises(client.ApiException) as err:
        raw(api, "PATCH", _cm_path(namespace, "jp"), bad, content_type=JSON_PATCH)
    assert err.value.status == 422
    assert status_of(err.value)["reason"] == "Invalid"


def _apply(api, ns, body, manager, force=False):
    query = [("fieldManager", manager)] + ([("force", "true")] if force else [])
    path = _deploy_path(ns, body["metadata"]["name"])
    return raw(api, "PATCH", path, orjson.dumps(body).decode(), query, content_type=APPLY)


def test_server_side_apply_conflict_and_force(api, namespace):
    created = _apply(api, namespace, _deployment("ssa", replicas=1), "alice")
    managers = {m["manager"]: m for m in created["metadata"]["managedFields"]}
    assert managers["alice"]["operation"] == "Apply"
    assert managers["alice"]["fieldsType"] == "FieldsV1"
    spec_fields = managers["alice"]["fieldsV1"]["f:spec"]
    assert "f:replicas" in spec_fields
    assert 'k:{"name":"app"}' in spec_fields["f:template"]["f:spec"]["f:containers"]

    with pytest.raises(client.ApiException) as err:
        _apply(api, namespace, _deployment("ssa", replicas=3), "bob")
    status = status_of(err.value)
    assert err.value.status == 409
    assert status["reason"] == "Conflict"
    assert status["message"] == (
        'Apply failed with 1 conflict: conflict with "alice": .spec.replicas'
    )
    assert status["details"]["causes"][0]["field"] == ".spec.replicas"

    forced = _apply(api, namespace, _deployment("ssa", replicas=3), "bob", force=True)
    assert forced["spec"]["replicas"] == 3
    owners = {m["manager"]: m["fieldsV1"] for m in forced["metadata"]["managedFields"]}
    assert "f:replicas" in owners["bob"]["f:spec"]
    assert "f:replicas" not in owners["alice"]["f:spec"]


def test_server_side_apply_removes_fields_no_longer_applied(api, namespace):
    first = _deployment("ssa-rm")
    first["metadata"]["labels"] = {"keep": "1", "drop": "1"}
    _apply(api, namespace, first, "owner")
    second = _deployment("ssa-rm")
    second["metadata"]["labels"] = {"keep": "1"}
    out = _apply(api, namespace, second, "owner")
    assert out["metadata"]["labels"] == {"keep": "1"}


def test_update_takes_ownership_and_later_apply_conflicts(kube_cluster, api, namespace):
    manifest = orjson.dumps(_deployment("edited", replicas=1)).decode()
    kube_cluster.kubectl(
        "apply",
        "--server-side",
        "--field-manager",
        "deployer",
        "-n",
        namespace,
        "-f",
        "-",
        input=manifest,
    )
    kube_cluster.kubectl(
        "patch",
        "deployment",
        "edited",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        '{"spec":{"replicas":4}}',
    )
    again = kube_cluster.kubectl(
        "apply",
        "--server-side",
        "--field-manager",
        "deployer",
        "-n",
        namespace,
        "-f",
        "-",
        input=manifest,
        check=False,
    )
    assert again.returncode != 0
    assert "conflict" in again.stderr.lower()
    assert ".spec.replicas" in again.stderr
    assert '"kubectl-patch"' in again.stderr
    forced = kube_cluster.kubectl(
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager",
        "deployer",
        "-n",
        namespace,
        "-f",
        "-",
        input=manifest,
    )
    assert "serverside-applied" in forced.stdout
    got = orjson.loads(
        kube_cluster.kubectl("get", "deployment", "edited", "-n", namespace, "-o", "json").stdout
    )
    assert got["spec"]["replicas"] == 1


def test_apply_shares_fields_with_equal_values(api, namespace):
    _apply(api, namespace, _deployment("shared"), "one")
    out = _apply(api, namespace, _deployment("shared"), "two")
    owners = {m["manager"]: m["fieldsV1"] for m in out["metadata"]["managedFields"]}
    assert "f:replicas" in owners["one"]["f:spec"]
    assert "f:replicas" in owners["two"]["f:spec"]


def test_kubectl_client_side_apply_three_way_merge(kube_cluster, api, namespace):
    two = _deployment("csa")
    two["spec"]["template"]["spec"]["containers"].append(
        {"name": "side", "image": "busybox:1.36", "env": [{"name": "X", "value": "1"}]}
    )
    kube_cluster.kubectl("apply", "-n", namespace, "-f", "-", input=orjson.dumps(two).decode())
    # someone else adds a label; the next apply must keep it (three-way merge)
    raw(
        api,
        "PATCH",
        _deploy_path(namespace, "csa"),
        {"metadata": {"labels": {"other": "x"}}},
        content_type=MERGE,
    )
    one = _deployment("csa", image="nginx:1.26")
    one["metadata"]["labels"] = {"mine": "y"}
    kube_cluster.kubectl("apply", "-n", namespace, "-f", "-", input=orjson.dumps(one).decode())
    got = raw(api, "GET", _deploy_path(namespace, "csa"))
    containers = got["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [("app", "nginx:1.26")]
    assert got["metadata"]["labels"] == {"other": "x", "mine": "y"}


def test_kubectl_apply_switching_volume_source_uses_retain_keys(kube_cluster, api, namespace):
    def with_volume(source):
        body = _deployment("vol")
        spec = body["spec"]["template"]["spec"]
        spec["volumes"] = [{"name": "data", **source}]
        spec["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
        return orjson.dumps(body).decode()

    kube_cluster.kubectl("apply", "-n", namespace, "-f", "-", input=with_volume({"emptyDir": {}}))
    kube_cluster.kubectl(
        "apply", "-n", namespace, "-f", "-", input=with_volume({"configMap": {"name": "cfg"}})
    )
    got = raw(api, "GET", _deploy_path(namespace, "vol"))
    (volume,) = got["spec"]["template"]["spec"]["volumes"]
    assert volume["name"] == "data"
    assert volume["configMap"]["name"] == "cfg"
    assert "emptyDir" not in volume


def test_kubectl_apply_removes_list_items_and_set_image_merges(kube_cluster, api, namespace):
    full = _deployment("items")
    app = full["spec"]["template"]["spec"]["containers"][0]
    app["env"] = [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    app["ports"] = [{"containerPort": 80}, {"containerPort": 443}]
    kube_cluster.kubectl("apply", "-n", namespace, "-f", "-", input=orjson.dumps(full).decode())
    app["env"] = [{"name": "B", "value": "2"}]
    app["ports"] = [{"containerPort": 443}]
    kube_cluster.kubectl("apply", "-n", namespace, "-f", "-", input=orjson.dumps(full).decode())
    kube_cluster.kubectl("set", "image", "deployment/items", "app=nginx:1.27", "-n", namespace)
    got = raw(api, "GET", _deploy_path(namespace, "items"))
    (container,) = got["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "nginx:1.27"
    assert [e["name"] for e in container["env"]] == ["B"]
    assert [p["containerPort"] for p in container["ports"]] == [443]


def test_kubectl_migrates_client_side_apply_to_server_side(kube_cluster, api, namespace):
    manifest = _deployment("migrate", replicas=1)
    kube_cluster.kubectl("apply", "-n", namespace, "-f", "-", input=orjson.dumps(manifest).decode())
    manifest["spec"]["replicas"] = 2
    out = kube_cluster.kubectl(
        "apply", "--server-side", "-n", namespace, "-f", "-", input=orjson.dumps(manifest).decode()
    )
    assert "serverside-applied" in out.stdout
    got = raw(api, "GET", _deploy_path(namespace, "migrate"))
    assert got["spec"]["replicas"] == 2
    managers = {(m["manager"], m["operation"]) for m in got["metadata"]["managedFields"]}
    assert ("kubectl", "Apply") in managers
    assert ("kubectl-client-side-apply", "Update") not in managers


def test_noop_server_side_apply_does_not_write(api, namespace):
    first = _apply(api, namespace, _deployment("noop"), "owner")
    again = _apply(api, namespace, _deployment("noop"), "owner")
    assert again["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    assert again["metadata"]["managedFields"] == first["metadata"]["managedFields"]
