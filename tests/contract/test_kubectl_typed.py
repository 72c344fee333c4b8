"""kubectl's typed commands (their bodies are protobuf on the wire)."""

from __future__ import annotations

import base64

import orjson
import pytest

from liqo_core.testing.clusters import unique_name

pytestmark = pytest.mark.contract


def _get(cluster, *args):
    return orjson.loads(cluster.kubectl("get", *args, "-o", "json").stdout)


def test_kubectl_create_configmap_from_literals(kube_cluster, namespace):
    kube_cluster.kubectl(
        "create", "configmap", "lit", "-n", namespace, "--from-literal=a=1", "--from-literal=b=2"
    )
    assert _get(kube_cluster, "cm", "lit", "-n", namespace)["data"] == {"a": "1", "b": "2"}


def test_kubectl_create_secret_keeps_type_and_data(kube_cluster, namespace):
    kube_cluster.kubectl(
        "create",
        "secret",
        "generic",
        "sec",
        "-n",
        namespace,
        "--from-literal=user=admin",
        "--type=example.com/basic",
    )
    secret = _get(kube_cluster, "secret", "sec", "-n", namespace)
    assert secret["type"] == "example.com/basic"
    assert base64.b64decode(secret["data"]["user"]) == b"admin"


def test_kubectl_create_namespace_and_serviceaccount(kube_cluster):
    name = unique_name("typed")
    kube_cluster.kubectl("create", "namespace", name)
    try:
        kube_cluster.kubectl("create", "serviceaccount", "robot", "-n", name)
        sa = _get(kube_cluster, "sa", "robot", "-n", name)
        assert sa["metadata"]["namespace"] == name
        ns = _get(kube_cluster, "namespace", name)
        assert ns["status"]["phase"] == "Active"
        assert "generateName" not in ns["metadata"]
    finally:
        kube_cluster.kubectl("delete", "namespace", name, "--wait=false")


def test_kubectl_create_token_for_a_serviceaccount(kube_cluster, namespace):
    kube_cluster.kubectl("create", "serviceaccount", "tok", "-n", namespace)
    token = kube_cluster.kubectl("create", "token", "tok", "-n", namespace, "--duration=10m")
    assert token.stdout.count(".") == 2


def test_kubectl_auth_can_i_as_admin(kube_cluster, namespace):
    out = kube_cluster.kubectl("auth", "can-i", "create", "pods", "-n", namespace)
    assert out.stdout.strip() == "yes"


def test_kubectl_create_deployment(kube_cluster, namespace):
    kube_cluster.kubectl(
        "create", "deployment", "web", "-n", namespace, "--image=nginx", "--replicas=3"
    )
    dep = _get(kube_cluster, "deployment", "web", "-n", namespace)
    assert dep["spec"]["replicas"] == 3
    assert dep["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    container = dep["spec"]["template"]["spec"]["containers"][0]
    assert (container["name"], container["image"]) == ("nginx", "nginx")
    assert dep["spec"]["strategy"]["type"] == "RollingUpdate"


def test_kubectl_create_deployment_with_zero_replicas_keeps_zero(kube_cluster, namespace):
    kube_cluster.kubectl(
        "create", "deployment", "idle", "-n", namespace, "--image=nginx", "--replicas=0"
    )
    assert _get(kube_cluster, "deployment", "idle", "-n", namespace)["spec"]["replicas"] == 0


def test_kubectl_create_job_and_cronjob_and_job_from_cronjob(kube_cluster, namespace):
    kube_cluster.kubectl("create", "job", "once", "-n", namespace, "--image=busybox", "--", "true")
    job = _get(kube_cluster, "job", "once", "-n", namespace)
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["true"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    kube_cluster.kubectl(
        "create",
        "cronjob",
        "tick",
        "-n",
        namespace,
        "--image=busybox",
        "--schedule=*/5 * * * *",
        "--",
        "date",
    )
    cron = _get(kube_cluster, "cronjob", "tick", "-n", namespace)
    assert cron["spec"]["schedule"] == "*/5 * * * *"
    kube_cluster.kubectl("create", "job", "manual", "-n", namespace, "--from=cronjob/tick")
    manual = _get(kube_cluster, "job", "manual", "-n", namespace)
    assert manual["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    assert manual["spec"]["template"]["spec"]["containers"][0]["command"] == ["date"]


def test_kubectl_create_services(kube_cluster, namespace):
    kube_cluster.kubectl("create", "service", "clusterip", "cip", "-n", namespace, "--tcp=80:8080")
    kube_cluster.kubectl("create", "service", "nodeport", "np", "-n", namespace, "--tcp=80:8080")
    kube_cluster.kubectl(
        "create", "service", "externalname", "ext", "-n", namespace, "--external-name=example.com"
    )
    cip = _get(kube_cluster, "service", "cip", "-n", namespace)["spec"]
    assert cip["ports"][0]["port"] == 80
    assert cip["ports"][0]["targetPort"] == 8080
    assert cip["clusterIP"]
    np = _get(kube_cluster, "service", "np", "-n", namespace)["spec"]
    assert 30000 <= np["ports"][0]["nodePort"] <= 32767
    ext = _get(kube_cluster, "service", "ext", "-n", namespace)["spec"]
    assert (ext["type"], ext["externalName"]) == ("ExternalName", "example.com")


def test_kubectl_create_ingress_pdb_quota(kube_cluster, namespace):
    kube_cluster.kubectl(
        "create", "ingress", "ing", "-n", namespace, "--rule=foo.example.com/bar=svc:8080"
    )
    rule = _get(kube_cluster, "ingress", "ing", "-n", namespace)["spec"]["rules"][0]
    assert rule["host"] == "foo.example.com"
    path = rule["http"]["paths"][0]
    assert path["path"] == "/bar"
    assert path["backend"]["service"] == {"name": "svc", "port": {"number": 8080}}
    kube_cluster.kubectl(
        "create",
        "poddisruptionbudget",
        "pdb",
        "-n",
        namespace,
        "--selector=app=x",
        "--min-available=1",
    )
    pdb = _get(kube_cluster, "pdb", "pdb", "-n", namespace)["spec"]
    assert pdb == {"minAvailable": 1, "selector": {"matchLabels": {"app": "x"}}}
    kube_cluster.kubectl("create", "quota", "q", "-n", namespace, "--hard=configmaps=50,cpu=100")
    hard = _get(kube_cluster, "quota", "q", "-n", namespace)["spec"]["hard"]
    assert hard == {"configmaps": "50", "cpu": "100"}


def test_kubectl_create_rbac_and_priorityclass(kube_cluster, namespace):
    kube_cluster.kubectl(
        "create", "role", "reader", "-n", namespace, "--verb=get", "--resource=pods"
    )
    role = _get(kube_cluster, "role", "reader", "-n", namespace)
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]
    kube_cluster.kubectl(
        "create", "rolebinding", "reader", "-n", namespace, "--role=reader", "--user=alice"
    )
    binding = _get(kube_cluster, "rolebinding", "reader", "-n", namespace)
    assert binding["roleRef"]["name"] == "reader"
    assert binding["subjects"][0]["name"] == "alice"
    name = unique_name("typed")
    try:
        kube_cluster.kubectl("create", "clusterrole", name, "--verb=list", "--resource=nodes")
        kube_cluster.kubectl(
            "create", "clusterrolebinding", name, f"--clusterrole={name}", "--group=ops"
        )
        kube_cluster.kubectl("create", "priorityclass", name, "--value=1000")
        assert _get(kube_cluster, "clusterrole", name)["rules"][0]["verbs"] == ["list"]
        assert _get(kube_cluster, "clusterrolebinding", name)["subjects"][0]["kind"] == "Group"
        assert _get(kube_cluster, "priorityclass", name)["value"] == 1000
    finally:
        for kind in ("clusterrolebinding", "clusterrole", "priorityclass"):
            kube_cluster.kubectl("delete", kind, name, "--ignore-not-found")


def test_kubectl_create_docker_registry_secret(kube_cluster, namespace):
    kube_cluster.kubectl(
        "create",
        "secret",
        "docker-registry",
        "pull",
        "-n",
        namespace,
        "--docker-server=registry.example.com",
        "--docker-username=u",
        "--docker-password=p",
    )
    secret = _get(kube_cluster, "secret", "pull", "-n", namespace)
    assert secret["type"] == "kubernetes.io/dockerconfigjson"
    auths = orjson.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))["auths"]
    assert list(auths) == ["registry.example.com"]


def test_kubectl_autoscale_writes_v1_and_reads_back_at_v2(kube_cluster, namespace):
    kube_cluster.kubectl("create", "deployment", "scaled", "-n", namespace, "--image=nginx")
    kube_cluster.kubectl(
        "autoscale", "deployment", "scaled", "-n", namespace, "--max=5", "--cpu-percent=70"
    )
    v2 = _get(kube_cluster, "horizontalpodautoscalers.v2.autoscaling", "scaled", "-n", namespace)
    assert v2["apiVersion"] == "autoscaling/v2"
    assert v2["spec"]["maxReplicas"] == 5
    assert v2["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "scaled",
    }
    assert v2["spec"]["metrics"] == [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 70},
            },
        }
    ]
    v1 = _get(kube_cluster, "horizontalpodautoscalers.v1.autoscaling", "scaled", "-n", namespace)
    assert v1["apiVersion"] == "autoscaling/v1"
    assert v1["spec"]["targetCPUUtilizationPercentage"] == 70
