"""Validation and normalisation of built-in kinds, as kube-apiserver does it."""

from __future__ import annotations

import base64

import pytest
from contract_helpers import UNSERVED_SCHEDULER, raw, status_of
from kubernetes import client

pytestmark = pytest.mark.contract


@pytest.fixture
def core(kube_cluster):
    return client.CoreV1Api(kube_cluster.api_client())


def _causes(err):
    return [c["field"] for c in status_of(err.value)["details"]["causes"]]


def test_pod_without_containers_is_422(kube_cluster, namespace):
    api = kube_cluster.api_client()
    path = f"/api/v1/namespaces/{namespace}/pods"
    with pytest.raises(client.ApiException) as err:
        raw(api, "POST", path, {"metadata": {"name": "empty"}, "spec": {}})
    assert err.value.status == 422
    assert "spec.containers" in _causes(err)


def test_pod_spec_is_immutable_except_images(core, namespace):
    pod = {
        "metadata": {"name": "fixed"},
        "spec": {"containers": [{"name": "c", "image": "busybox:1"}]},
    }
    core.create_namespaced_pod(namespace, pod)
    patched = core.patch_namespaced_pod(
        "fixed", namespace, {"spec": {"containers": [{"name": "c", "image": "busybox:2"}]}}
    )
    assert patched.spec.containers[0].image == "busybox:2"
    with pytest.raises(client.ApiException) as err:
        core.patch_namespaced_pod("fixed", namespace, {"spec": {"hostname": "other"}})
    assert err.value.status == 422
    assert _causes(err) == ["spec"]


def test_deployment_selector_must_match_template_labels(kube_cluster, namespace):
    apps = client.AppsV1Api(kube_cluster.api_client())
    dep = {
        "metadata": {"name": "mismatch"},
        "spec": {
            "selector": {"matchLabels": {"app": "a"}},
            "template": {
                "metadata": {"labels": {"app": "b"}},
                "spec": {"containers": [{"name": "c", "image": "busybox:1"}]},
            },
        },
    }
    with pytest.raises(client.ApiException) as err:
        apps.create_namespaced_deployment(namespace, dep)
    assert err.value.status == 422
    assert "spec.template.metadata.labels" in _causes(err)


def test_secret_string_data_is_folded_into_data(core, namespace):
    body = {"metadata": {"name": "sd"}, "stringData": {"user": "admin"}, "data": {}}
    created = core.create_namespaced_secret(namespace, body)
    assert created.string_data is None
    assert base64.b64decode(created.data["user"]) == b"admin"


def test_configmap_key_must_be_valid(core, namespace):
    with pytest.raises(client.ApiException) as err:
        core.create_namespaced_config_map(
            namespace, {"metadata": {"name": "badkey"}, "data": {"no/slash": "x"}}
        )
    assert err.value.status == 422


def test_service_requires_ports(core, namespace):
    with pytest.raises(client.ApiException) as err:
        core.create_namespaced_service(
            namespace, {"metadata": {"name": "noports"}, "spec": {"selector": {"a": "b"}}}
        )
    assert err.value.status == 422
    assert "spec.ports" in _causes(err)


def test_pod_binding_sets_node_once(kube_cluster, core, namespace):
    # No scheduler races this test's binding: the pod names one nobody serves.
    spec = {"containers": [{"name": "c", "image": "x:1"}], "schedulerName": UNSERVED_SCHEDULER}
    core.create_namespaced_pod(namespace, {"metadata": {"name": "bindme"}, "spec": spec})
    binding = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "bindme"},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"},
    }
    api = kube_cluster.api_client()
    path = f"/api/v1/namespaces/{namespace}/pods/bindme/binding"
    assert raw(api, "POST", path, binding)["status"] == "Success"
    assert core.read_namespaced_pod("bindme", namespace).spec.node_name == "node-1"
    with pytest.raises(client.ApiException) as err:
        raw(api, "POST", path, binding)
    assert err.value.status == 409


def test_service_name_must_start_with_a_letter(core, namespace):
    body = {"metadata": {"name": "1web"}, "spec": {"ports": [{"port": 80}]}}
    with pytest.raises(client.ApiException) as err:
        core.create_namespaced_service(namespace, body)
    assert err.value.status == 422
    assert _causes(err) == ["metadata.name"]


def test_owner_reference_needs_a_uid(core, namespace):
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "uid": ""}
    body = {"metadata": {"name": "badref", "ownerReferences": [ref]}, "data": {}}
    with pytest.raises(client.ApiException) as err:
        core.create_namespaced_config_map(namespace, body)
    assert err.value.status == 422


def test_resource_quota_limits_pods_and_reports_usage(core, namespace):
    from contract_helpers import wait_for

    quota = {"metadata": {"name": "q"}, "spec": {"hard": {"pods": "1", "requests.cpu": "1"}}}
    core.create_namespaced_resource_quota(namespace, quota)

    def pod(name):
        res = {"requests": {"cpu": "500m"}}
        return {
            "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "b:1", "resources": res}]},
        }

    wait_for(
        lambda: (
            (core.read_namespaced_resource_quota("q", namespace).status or {})
            and core.read_namespaced_resource_quota("q", namespace).status.hard
        )
    )
    core.create_namespaced_pod(namespace, pod("first"))
    with pytest.raises(client.ApiException) as err:
        core.create_namespaced_pod(namespace, pod("second"))
    assert err.value.status == 403
    assert "exceeded quota: q" in status_of(err.value)["message"]
    wait_for(
        lambda: (
            (core.read_namespaced_resource_quota("q", namespace).status.used or {}).get("pods")
            == "1"
        )
    )
