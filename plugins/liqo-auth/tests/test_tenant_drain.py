"""Draining a tenant against an API server: exactly the consumer's binding and copies go."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from liqo_auth.bindings import MANAGED_BY_TENANT_LABEL
from liqo_auth.tenant import drain

from liqo_core.kube import Kube, KubeTarget
from liqo_core.testing.clusters import ClusterHandle

CRD_DIR = Path(__file__).resolve().parents[3] / "charts" / "liqo" / "crds"


def _replicated(kind: str, api_version: str, name: str, namespace: str, origin: str) -> Any:
    labels = {"liqo.io/replicated": "true", "liqo.io/originID": origin}
    meta = {"name": name, "namespace": namespace, "labels": labels}
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, "spec": {}}


def _names(cluster: ClusterHandle, kind: str, namespace: str) -> list[str]:
    out = cluster.kubectl("get", kind, "-n", namespace, "-o", "json").stdout
    return sorted(item["metadata"]["name"] for item in json.loads(out)["items"])


@pytest.mark.e2e
async def test_drain_removes_only_the_consumers_binding_and_replicated_objects(
    kube_cluster: ClusterHandle, namespace: str
) -> None:
    kube_cluster.kubectl("apply", "-f", str(CRD_DIR))
    kube_cluster.kubectl(
        "wait", "--for=condition=Established", "--timeout=60s",
        "crd/resourceslices.authentication.liqo.io", "crd/namespacemaps.offloading.liqo.io",
    )  # fmt: skip
    rbac = "rbac.authorization.k8s.io"
    objects: list[Any] = []
    for name, consumer, managed in (
        ("ours", "c1", True),
        ("admin", "c1", False),
        ("other", "c2", True),
    ):
        labels = {"liqo.io/remote-cluster-id": consumer}
        if managed:
            labels[MANAGED_BY_TENANT_LABEL] = "true"
        objects.append({
            "apiVersion": f"{rbac}/v1", "kind": "RoleBinding",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "roleRef": {"apiGroup": rbac, "kind": "ClusterRole", "name": "view"},
            "subjects": [{"apiGroup": rbac, "kind": "User", "name": consumer}],
        })  # fmt: skip
    for kind, api_version in (
        ("ResourceSlice", "authentication.liqo.io/v1beta1"),
        ("NamespaceMap", "offloading.liqo.io/v1beta1"),
    ):
        objects.append(_replicated(kind, api_version, "from-c1", namespace, "c1"))
        objects.append(_replicated(kind, api_version, "from-c2", namespace, "c2"))
    objects.append(
        {
            "apiVersion": "authentication.liqo.io/v1beta1",
            "kind": "ResourceSlice",
            "metadata": {"name": "local", "namespace": namespace},
            "spec": {},
        }
    )
    kube_cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(objects))

    api = await Kube.from_target(KubeTarget(kubeconfig=kube_cluster.kubeconfig))
    try:
        removed = await drain(api, "c1", namespace)
        assert sorted(removed) == [
            "NamespaceMap from-c1",
            "ResourceSlice from-c1",
            "RoleBinding ours",
        ]
        assert await drain(api, "c1", namespace) == []  # idempotent
    finally:
        await api.close()
    assert _names(kube_cluster, "rolebindings", namespace) == ["admin", "other"]
    assert _names(kube_cluster, "resourceslices.authentication.liqo.io", namespace) == [
        "from-c2",
        "local",
    ]
    assert _names(kube_cluster, "namespacemaps.offloading.liqo.io", namespace) == ["from-c2"]
