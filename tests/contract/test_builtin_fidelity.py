"""Built-in kinds as kube-apiserver serves and serializes them (found by client suites)."""

from __future__ import annotations

import orjson
import pytest
from contract_helpers import raw
from kubernetes import client, watch

pytestmark = pytest.mark.contract


@pytest.fixture
def api(kube_cluster):
    return kube_cluster.api_client()


def _pod_template(label: str) -> dict:
    return {
        "metadata": {"labels": {"app": label}},
        "spec": {
            "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.9"}],
            # Nothing runs these pods on any cluster: no node carries this label.
            "nodeSelector": {"contract.liqo.io/no-such-node": "true"},
        },
    }


def _discovered(api, path: str) -> dict[str, dict]:
    return {r["name"]: r for r in raw(api, "GET", path)["resources"]}


def test_replicationcontrollers_are_served_in_core_v1(api, namespace):
    resources = _discovered(api, "/api/v1")
    rc = resources["replicationcontrollers"]
    assert rc["kind"] == "ReplicationController"
    assert rc["namespaced"] is True
    assert "rc" in rc["shortNames"]
    assert {"create", "get", "list", "watch", "update", "patch", "delete"} <= set(rc["verbs"])
    assert "replicationcontrollers/scale" in resources
    assert "replicationcontrollers/status" in resources
    base = f"/api/v1/namespaces/{namespace}/replicationcontrollers"
    body = {
        "apiVersion": "v1",
        "kind": "ReplicationController",
        "metadata": {"name": "rc"},
        "spec": {"replicas": 0, "template": _pod_template("rc")},
    }
    created = raw(api, "POST", base, body)
    assert created["spec"]["selector"] == {"app": "rc"}
    assert created["metadata"]["labels"] == {"app": "rc"}
    assert created["status"] == {"replicas": 0}
    items = raw(api, "GET", base)["items"]
    assert [i["metadata"]["name"] for i in items] == ["rc"]
    stream = watch.Watch()
    core = client.CoreV1Api(api)
    for event in stream.stream(
        core.list_namespaced_replication_controller, namespace, timeout_seconds=10
    ):
        assert (event["type"], event["object"].metadata.name) == ("ADDED", "rc")
        stream.stop()
        break
    scale = raw(api, "GET", f"{base}/rc/scale")
    assert (scale["kind"], scale["spec"]["replicas"]) == ("Scale", 0)
    patched = raw(
        api,
        "PATCH",
        f"{base}/rc/scale",
        {"spec": {"replicas": 0}},
        content_type="application/merge-patch+json",
    )
    assert patched["status"]["selector"] == "app=rc"
    raw(api, "DELETE", f"{base}/rc")


def test_create_answers_the_status_counters_kube_apiserver_always_serializes(api, namespace):
    selector = {"matchLabels": {"app": "z"}}
    cases = {
        "daemonsets": (
            {"selector": selector, "template": _pod_template("z")},
            {
                "currentNumberScheduled": 0,
                "numberMisscheduled": 0,
                "desiredNumberScheduled": 0,
                "numberReady": 0,
            },
        ),
        "replicasets": (
            {"replicas": 0, "selector": selector, "template": _pod_template("z")},
            {"replicas": 0},
        ),
        "statefulsets": (
            {
                "replicas": 0,
                "serviceName": "z",
                "selector": selector,
                "template": _pod_template("z"),
            },
            {"replicas": 0, "availableReplicas": 0},
        ),
        "deployments": (
            {"replicas": 0, "selector": selector, "template": _pod_template("z")},
            {},
        ),
    }
    for resource, (spec, status) in cases.items():
        kind = {"daemonsets": "DaemonSet", "replicasets": "ReplicaSet"}.get(
            resource, "StatefulSet" if resource == "statefulsets" else "Deployment"
        )
        body = {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": "z"}, "spec": spec}
        created = raw(api, "POST", f"/apis/apps/v1/namespaces/{namespace}/{resource}", body)
        assert created["status"] == status, resource


def test_daemonset_status_omits_zero_omitempty_counters(api, namespace):
    base = f"/apis/apps/v1/namespaces/{namespace}/daemonsets"
    body = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "ds"},
        "spec": {"selector": {"matchLabels": {"app": "ds"}}, "template": _pod_template("ds")},
    }
    raw(api, "POST", base, body)
    status = {"numberUnavailable": 0, "numberAvailable": 0, "updatedNumberScheduled": 0}
    written = raw(
        api,
        "PATCH",
        f"{base}/ds/status",
        {"status": status},
        content_type="application/merge-patch+json",
    )
    for key in status:
        assert key not in written["status"], key
    assert "numberUnavailable" not in raw(api, "GET", f"{base}/ds")["status"]


def test_error_status_body_is_byte_identical_to_kube_apiserver(api, namespace):
    url = api.configuration.host + f"/api/v1/namespaces/{namespace}/configmaps/nope"
    resp = api.call_api("GET", url, header_params={"Accept": "application/json"})
    resp.read()
    assert resp.status == 404
    assert resp.data == (
        b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
        b'"message":"configmaps \\"nope\\" not found","reason":"NotFound",'
        b'"details":{"name":"nope","kind":"configmaps"},"code":404}\n'
    )


def test_secret_data_with_line_breaks_is_accepted_and_returned_canonical(kube_cluster, namespace):
    manifest = f"""
apiVersion: v1
kind: Secret
metadata:
  name: folded
  namespace: {namespace}
data:
  key: |
    aGVsbG8gd29y
    bGQgZnJvbSBh
    IGJsb2NrIHNjYWxhcg==
"""
    kube_cluster.kubectl("apply", "-f", "-", input=manifest)
    secret = orjson.loads(
        kube_cluster.kubectl("get", "secret", "folded", "-n", namespace, "-o", "json").stdout
    )
    assert secret["data"]["key"] == "aGVsbG8gd29ybGQgZnJvbSBhIGJsb2NrIHNjYWxhcg=="


def test_csistoragecapacities_are_served_in_storage_v1(api, namespace):
    resources = _discovered(api, "/apis/storage.k8s.io/v1")
    assert resources["csistoragecapacities"]["kind"] == "CSIStorageCapacity"
    assert resources["csistoragecapacities"]["namespaced"] is True
    base = f"/apis/storage.k8s.io/v1/namespaces/{namespace}/csistoragecapacities"
    body = {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "CSIStorageCapacity",
        "metadata": {"name": "cap"},
        "storageClassName": "standard",
        "capacity": "10Gi",
    }
    created = raw(api, "POST", base, body)
    assert (created["storageClassName"], created["capacity"]) == ("standard", "10Gi")
    assert [i["metadata"]["name"] for i in raw(api, "GET", base)["items"]] == ["cap"]
    storage = client.StorageV1Api(api)
    assert storage.read_namespaced_csi_storage_capacity("cap", namespace).capacity == "10Gi"


def test_hpa_metrics_v1_cannot_express_survive_a_v1_round_trip(api, namespace):
    v2 = f"/apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers"
    v1 = f"/apis/autoscaling/v1/namespaces/{namespace}/horizontalpodautoscalers"
    memory = {
        "type": "Resource",
        "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "1Gi"}},
    }
    cpu = {
        "type": "Resource",
        "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}},
    }
    body = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "mixed"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "x"},
            "minReplicas": 1,
            "maxReplicas": 3,
            "metrics": [cpu, memory],
        },
    }
    created = raw(api, "POST", v2, body)
    assert created["status"]["desiredReplicas"] == 0
    assert "currentReplicas" not in created["status"]  # omitempty at v2
    old = raw(api, "GET", f"{v1}/mixed")
    assert old["spec"]["targetCPUUtilizationPercentage"] == 60
    assert old["status"] == {"currentReplicas": 0, "desiredReplicas": 0}
    patch = {"spec": {"maxReplicas": 4}}
    raw(api, "PATCH", f"{v1}/mixed", patch, content_type="application/merge-patch+json")
    again = raw(api, "GET", f"{v2}/mixed")
    assert again["spec"]["maxReplicas"] == 4
    assert again["spec"]["metrics"] == [cpu, memory]
