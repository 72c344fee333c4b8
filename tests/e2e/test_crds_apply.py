"""The chart's CRDs install on a cluster, serve every kind, default and validate server-side.

Runs against the emulated cluster by default, or a real one with ``LIQO_TEST_KUBECONFIGS``;
everything is observed through kubectl.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest
import yaml

from liqo_core.testing.clusters import ClusterHandle

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
CRD_DIR = REPO / "charts" / "liqo" / "crds"
MANIFESTS = REPO / "tests" / "fixtures" / "manifests"
CLUSTER_SCOPED = {"ForeignCluster", "InternalNode"}


def _crd_names() -> list[str]:
    return sorted(yaml.safe_load(p.read_text())["metadata"]["name"] for p in CRD_DIR.glob("*.yaml"))


_INSTALLED: set[Path] = set()


@pytest.fixture
def crds(kube_cluster: ClusterHandle) -> ClusterHandle:
    """The cluster with the chart's CRDs applied (once per cluster and test process)."""
    if kube_cluster.kubeconfig not in _INSTALLED:
        kube_cluster.kubectl("apply", "-f", str(CRD_DIR))
        names = [f"crd/{name}" for name in _crd_names()]
        kube_cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", *names)
        _INSTALLED.add(kube_cluster.kubeconfig)
    return kube_cluster


def _samples() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted(MANIFESTS.glob("*.yaml")):
        docs.extend(yaml.safe_load_all(path.read_text()))
    return docs


def _prepare(doc: dict[str, Any], namespace: str, suffix: str) -> dict[str, Any]:
    """A sample ready to create: in the test namespace, no status, no finalizers."""
    obj: dict[str, Any] = json.loads(json.dumps(doc))
    obj.pop("status", None)
    meta = obj["metadata"]
    meta.pop("finalizers", None)
    if obj["kind"] in CLUSTER_SCOPED:
        meta["name"] = f"{meta['name']}-{suffix}"
        if obj["kind"] == "ForeignCluster":
            obj["spec"]["clusterID"] = meta["name"]
    else:
        meta["namespace"] = namespace
    return obj


def _create(cluster: ClusterHandle, obj: dict[str, Any], check: bool = True) -> Any:
    return cluster.kubectl("create", "-o", "json", "-f", "-", input=json.dumps(obj), check=check)


def test_crds_are_established_and_discoverable(crds: ClusterHandle) -> None:
    out = crds.kubectl("api-resources", "--api-group=networking.liqo.io", "-o", "name").stdout
    assert "gatewayservers.networking.liqo.io" in out.split()
    assert "wggatewayservertemplates.networking.liqo.io" in out.split()
    labelled = crds.kubectl(
        "get", "crd", "-l", "networking.liqo.io/gatewaytemplate=true", "-o", "name"
    ).stdout.split()
    assert sorted(labelled) == [
        "customresourcedefinition.apiextensions.k8s.io/wggatewayclienttemplates.networking.liqo.io",
        "customresourcedefinition.apiextensions.k8s.io/wggatewayservertemplates.networking.liqo.io",
    ]


def _batches(objs: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Split objects so that no batch holds two objects of the same kind and name."""
    batches: list[list[dict[str, Any]]] = []
    for obj in objs:
        key = (obj["kind"], obj["metadata"]["name"])
        for batch in batches:
            if all((o["kind"], o["metadata"]["name"]) != key for o in batch):
                batch.append(obj)
                break
        else:
            batches.append([obj])
    return batches


def _json_stream(text: str) -> list[dict[str, Any]]:
    """Objects printed by ``kubectl -o json`` (one List, or several objects in a row)."""
    decoder = json.JSONDecoder()
    objs: list[dict[str, Any]] = []
    pos = 0
    while text[pos:].strip():
        pos += len(text[pos:]) - len(text[pos:].lstrip())
        obj, pos = decoder.raw_decode(text, pos)
        objs.extend(obj["items"] if obj.get("kind") == "List" else [obj])
    return objs


def test_every_sample_is_accepted(crds: ClusterHandle, namespace: str) -> None:
    suffix = secrets.token_hex(3)
    objs = [_prepare(doc, namespace, suffix) for doc in _samples()]
    for batch in _batches(objs):
        stream = yaml.safe_dump_all(batch)
        items = _json_stream(crds.kubectl("create", "-o", "json", "-f", "-", input=stream).stdout)
        assert [i["kind"] for i in items] == [o["kind"] for o in batch]
        for sent, live in zip(batch, items, strict=True):
            assert _contains(live["spec"], sent["spec"]), (sent["spec"], live["spec"])
        crds.kubectl("delete", "--wait=false", "-f", "-", input=stream)


def _contains(big: Any, small: Any) -> bool:
    if isinstance(small, dict):
        return isinstance(big, dict) and all(
            k in big and _contains(big[k], v) for k, v in small.items()
        )
    if isinstance(small, list):
        return isinstance(big, list) and len(big) == len(small) and all(map(_contains, big, small))
    return bool(big == small)


def test_server_applies_upstream_defaults(crds: ClusterHandle, namespace: str) -> None:
    tenant = {
        "apiVersion": "authentication.liqo.io/v1beta1",
        "kind": "Tenant",
        "metadata": {"name": "rome", "namespace": namespace},
        "spec": {"clusterID": "rome"},
    }
    live = json.loads(_create(crds, tenant).stdout)
    assert live["spec"]["authzPolicy"] == "KeysExchange"
    assert live["spec"]["tenantCondition"] == "Active"
    nsoff = {
        "apiVersion": "offloading.liqo.io/v1beta1",
        "kind": "NamespaceOffloading",
        "metadata": {"name": "offloading", "namespace": namespace},
        "spec": {},
    }
    live = json.loads(_create(crds, nsoff).stdout)
    assert live["spec"]["namespaceMappingStrategy"] == "DefaultName"
    assert live["spec"]["podOffloadingStrategy"] == "LocalAndRemote"
    gws = {
        "apiVersion": "networking.liqo.io/v1beta1",
        "kind": "GatewayServer",
        "metadata": {"name": "server", "namespace": namespace},
        "spec": {
            "serverTemplateRef": {"kind": "WgGatewayServerTemplate", "name": "wireguard-server"},
            "endpoint": {"port": 51840},
        },
    }
    live = json.loads(_create(crds, gws).stdout)
    assert live["spec"]["endpoint"]["serviceType"] == "ClusterIP"


@pytest.mark.parametrize(
    ("obj", "field"),
    [
        (
            {
                "apiVersion": "core.liqo.io/v1beta1",
                "kind": "ForeignCluster",
                "metadata": {"name": "bad-fc"},
                "spec": {"clusterID": "Not_A_DNS_Label"},
            },
            "spec.clusterID",
        ),
        (
            {
                "apiVersion": "networking.liqo.io/v1beta1",
                "kind": "GatewayServer",
                "metadata": {"name": "bad-gws"},
                "spec": {
                    "serverTemplateRef": {"name": "wireguard-server"},
                    "endpoint": {"port": 51840, "ports": [51841]},
                },
            },
            "spec.endpoint",
        ),
        (
            {
                "apiVersion": "offloading.liqo.io/v1beta1",
                "kind": "NamespaceOffloading",
                "metadata": {"name": "offloading"},
                "spec": {"namespaceMappingStrategy": "SelectedName"},
            },
            "remoteNamespaceName",
        ),
    ],
    ids=["fc-cluster-id", "gws-ports", "nsoff-selected-name"],
)
def test_server_refuses_invalid_objects(
    crds: ClusterHandle, namespace: str, obj: dict[str, Any], field: str
) -> None:
    if obj["kind"] not in CLUSTER_SCOPED:
        obj["metadata"]["namespace"] = namespace
    proc = _create(crds, obj, check=False)
    assert proc.returncode != 0
    assert field in proc.stderr, proc.stderr


def test_immutable_fields_cannot_change(crds: ClusterHandle, namespace: str) -> None:
    net = {
        "apiVersion": "ipam.liqo.io/v1alpha1",
        "kind": "Network",
        "metadata": {"name": "external", "namespace": namespace},
        "spec": {"cidr": "10.70.0.0/16"},
    }
    _create(crds, net)
    patch = json.dumps({"spec": {"cidr": "10.99.0.0/16"}})
    proc = crds.kubectl(
        "-n", namespace, "patch", "networks.ipam.liqo.io", "external", "--type=merge", "-p", patch,
        check=False,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "immutable" in proc.stderr, proc.stderr
