"""kubectl against the API: apply, get, describe, wait, delete and get -w."""

from __future__ import annotations

import subprocess

import orjson
import pytest
from contract_helpers import wait_for
from kubernetes import client

pytestmark = pytest.mark.contract

MANIFEST = """
apiVersion: v1
kind: ConfigMap
metadata:
  name: applied
  labels: {{app: demo}}
data:
  key: {value}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports: [{{containerPort: 80}}]
"""


def test_kubectl_apply_creates_then_updates(kube_cluster, namespace):
    out = kube_cluster.kubectl(
        "apply", "-n", namespace, "-f", "-", input=MANIFEST.format(value="one", replicas=1)
    )
    assert "configmap/applied created" in out.stdout
    assert "deployment.apps/web created" in out.stdout
    out = kube_cluster.kubectl(
        "apply", "-n", namespace, "-f", "-", input=MANIFEST.format(value="two", replicas=2)
    )
    assert "configmap/applied configured" in out.stdout
    got = orjson.loads(
        kube_cluster.kubectl("get", "cm", "applied", "-n", namespace, "-o", "json").stdout
    )
    assert got["data"] == {"key": "two"}
    dep = orjson.loads(
        kube_cluster.kubectl("get", "deploy", "web", "-n", namespace, "-o", "json").stdout
    )
    assert dep["spec"]["replicas"] == 2
    assert dep["spec"]["template"]["spec"]["containers"][0]["ports"] == [
        {"containerPort": 80, "protocol": "TCP"}
    ]


def test_kubectl_apply_unchanged_is_reported(kube_cluster, namespace):
    manifest = MANIFEST.format(value="same", replicas=1)
    kube_cluster.kubectl("apply", "-n", namespace, "-f", "-", input=manifest)
    out = kube_cluster.kubectl("apply", "-n", namespace, "-f", "-", input=manifest)
    assert "configmap/applied unchanged" in out.stdout


def test_kubectl_server_side_apply(kube_cluster, namespace):
    manifest = MANIFEST.format(value="ssa", replicas=1)
    out = kube_cluster.kubectl(
        "apply",
        "--server-side",
        "--field-manager",
        "tester",
        "-n",
        namespace,
        "-f",
        "-",
        input=manifest,
    )
    assert "serverside-applied" in out.stdout
    got = orjson.loads(
        kube_cluster.kubectl(
            "get", "cm", "applied", "-n", namespace, "-o", "json", "--show-managed-fields"
        ).stdout
    )
    assert "tester" in [m["manager"] for m in got["metadata"]["managedFields"]]


def test_kubectl_get_table_shows_default_columns(kube_cluster, namespace):
    kube_cluster.kubectl("create", "configmap", "tab", "-n", namespace, "--from-literal=a=b")
    out = kube_cluster.kubectl("get", "configmaps", "-n", namespace)
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["NAME", "DATA", "AGE"]
    assert any(line.split()[:2] == ["tab", "1"] for line in lines[1:])


def test_kubectl_get_label_selector_and_jsonpath(kube_cluster, namespace):
    kube_cluster.kubectl("create", "configmap", "l1", "-n", namespace)
    kube_cluster.kubectl("label", "configmap", "l1", "-n", namespace, "pick=me")
    kube_cluster.kubectl("create", "configmap", "l2", "-n", namespace)
    out = kube_cluster.kubectl(
        "get", "cm", "-n", namespace, "-l", "pick=me", "-o", "jsonpath={.items[*].metadata.name}"
    )
    assert out.stdout.split() == ["l1"]


def test_kubectl_describe_configmap(kube_cluster, namespace):
    kube_cluster.kubectl("create", "configmap", "desc", "-n", namespace, "--from-literal=k=v")
    out = kube_cluster.kubectl("describe", "configmap", "desc", "-n", namespace)
    assert "Name:" in out.stdout and "desc" in out.stdout


def test_kubectl_wait_for_condition(kube_cluster, namespace):
    core = client.CoreV1Api(kube_cluster.api_client())
    pod = {
        "metadata": {"name": "waited"},
        "spec": {"containers": [{"name": "c", "image": "busybox:1"}]},
    }
    core.create_namespaced_pod(namespace, pod)
    waiter = subprocess.Popen(
        [
            "kubectl",
            "--kubeconfig",
            str(kube_cluster.kubeconfig),
            "wait",
            "-n",
            namespace,
            "--for=condition=Ready",
            "pod/waited",
            "--timeout=30s",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    status = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
    core.patch_namespaced_pod_status("waited", namespace, {"status": status})
    out, err = waiter.communicate(timeout=40)
    assert waiter.returncode == 0, err
    assert "condition met" in out


def test_kubectl_delete_waits_until_gone(kube_cluster, namespace):
    kube_cluster.kubectl("create", "configmap", "del", "-n", namespace)
    out = kube_cluster.kubectl("delete", "configmap", "del", "-n", namespace)
    assert 'configmap "del" deleted' in out.stdout
    missing = kube_cluster.kubectl("get", "configmap", "del", "-n", namespace, check=False)
    assert missing.returncode != 0
    assert "NotFound" in missing.stderr


def test_kubectl_get_watch_streams_changes(kube_cluster, namespace):
    watcher = subprocess.Popen(
        [
            "kubectl",
            "--kubeconfig",
            str(kube_cluster.kubeconfig),
            "get",
            "cm",
            "-n",
            namespace,
            "-w",
            "-o",
            "name",
            "--request-timeout=20s",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        core = client.CoreV1Api(kube_cluster.api_client())
        core.create_namespaced_config_map(namespace, {"metadata": {"name": "streamed"}})
        assert watcher.stdout is not None
        line = wait_for(lambda: _line_with(watcher, "streamed"), timeout=20)
        assert line.strip() == "configmap/streamed"
    finally:
        watcher.terminate()
        watcher.wait(10)


def _line_with(proc, text):
    line = proc.stdout.readline()
    return line if text in line else None


def test_kubectl_get_pods_wide_shows_node(kube_cluster, namespace):
    core = client.CoreV1Api(kube_cluster.api_client())
    pod = {
        "metadata": {"name": "wide"},
        "spec": {"nodeName": "node-w", "containers": [{"name": "c", "image": "busybox:1"}]},
    }
    core.create_namespaced_pod(namespace, pod)
    narrow = kube_cluster.kubectl("get", "pods", "-n", namespace).stdout.splitlines()[0].split()
    assert narrow == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    wide = kube_cluster.kubectl("get", "pods", "-n", namespace, "-o", "wide").stdout.splitlines()
    assert "NODE" in wide[0].split()
    assert "node-w" in wide[1].split()
