"""Status subresource of built-in kinds: status only through /status."""

from __future__ import annotations

import pytest
from contract_helpers import UNSERVED_SCHEDULER
from kubernetes import client

pytestmark = pytest.mark.contract


def _pod(name):
    # Never bound, so no kubelet writes the status these tests look at.
    spec = {"containers": [{"name": "c", "image": "b:1"}], "schedulerName": UNSERVED_SCHEDULER}
    return {"metadata": {"name": name}, "spec": spec}


def test_new_pod_starts_pending_whatever_status_is_sent(kube_cluster, namespace):
    core = client.CoreV1Api(kube_cluster.api_client())
    body = _pod("pend")
    body["status"] = {"phase": "Running"}
    created = core.create_namespaced_pod(namespace, body)
    assert created.status.phase == "Pending"


def test_status_changes_on_main_endpoint_are_ignored(kube_cluster, namespace):
    core = client.CoreV1Api(kube_cluster.api_client())
    core.create_namespaced_pod(namespace, _pod("main"))
    out = core.patch_namespaced_pod(
        "main", namespace, {"metadata": {"labels": {"a": "b"}}, "status": {"phase": "Running"}}
    )
    assert out.metadata.labels == {"a": "b"}
    assert out.status.phase == "Pending"


def test_status_endpoint_changes_status_only(kube_cluster, namespace):
    core = client.CoreV1Api(kube_cluster.api_client())
    core.create_namespaced_pod(namespace, _pod("stat"))
    out = core.patch_namespaced_pod_status(
        "stat",
        namespace,
        {"spec": {"activeDeadlineSeconds": 5}, "status": {"phase": "Running", "podIP": "10.0.0.7"}},
    )
    assert out.status.phase == "Running"
    assert out.status.pod_ip == "10.0.0.7"
    assert out.spec.active_deadline_seconds is None


def test_status_endpoint_get_returns_the_object(kube_cluster, namespace):
    core = client.CoreV1Api(kube_cluster.api_client())
    core.create_namespaced_pod(namespace, _pod("getstat"))
    assert core.read_namespaced_pod_status("getstat", namespace).metadata.name == "getstat"


def test_dry_run_create_stores_nothing(kube_cluster, namespace):
    core = client.CoreV1Api(kube_cluster.api_client())
    out = core.create_namespaced_config_map(
        namespace, {"metadata": {"name": "dry"}, "data": {}}, dry_run="All"
    )
    assert out.metadata.name == "dry"
    with pytest.raises(client.ApiException) as err:
        core.read_namespaced_config_map("dry", namespace)
    assert err.value.status == 404
