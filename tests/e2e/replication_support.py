"""Objects a consumer replicates to its provider, and ways to look at them, for e2e tests."""

from __future__ import annotations

import json
from typing import Any

import yaml
from kubernetes import client, config
from liqo_sides import Side
from peering_support import tenant_namespace

SLICES = ("authentication.liqo.io/v1beta1", "ResourceSlice", "resourceslices")
NAMESPACE_MAPS = ("offloading.liqo.io/v1beta1", "NamespaceMap", "namespacemaps")


def create_replicated(
    consumer: Side, provider: Side, kind: tuple[str, str, str], name: str, spec: dict[str, Any]
) -> None:
    """C: an object of ``kind`` in P's tenant namespace, labelled for replication to P."""
    api_version, kind_name, _ = kind
    body = {
        "apiVersion": api_version,
        "kind": kind_name,
        "metadata": {
            "name": name,
            "namespace": tenant_namespace(provider),
            "labels": {
                "liqo.io/replication": "true",
                "liqo.io/remoteID": provider.cluster_id,
                "liqo.io/remote-cluster-id": provider.cluster_id,
            },
        },
        "spec": spec,
    }
    consumer.kubectl("create", "-f", "-", input=json.dumps(body))


def replicated_names(provider: Side, consumer: Side, kind: tuple[str, str, str]) -> list[str]:
    """P: names of the copies of C's objects of ``kind`` in C's tenant namespace."""
    api_version, _, plural = kind
    group, version = api_version.split("/")
    listed: Any = provider.custom.list_namespaced_custom_object(
        group, version, tenant_namespace(consumer), plural,
        label_selector=f"liqo.io/replicated=true,liqo.io/originID={consumer.cluster_id}",
    )  # fmt: skip
    return sorted(item["metadata"]["name"] for item in listed["items"])


def list_as(kubeconfig: bytes, namespace: str) -> int:
    """List ResourceSlices in ``namespace`` with ``kubeconfig``: 200, or the HTTP error status."""
    api = config.new_client_from_config_dict(yaml.safe_load(kubeconfig))  # type: ignore[no-untyped-call]
    try:
        client.CustomObjectsApi(api).list_namespaced_custom_object(
            "authentication.liqo.io", "v1beta1", namespace, "resourceslices", _request_timeout=10
        )
    except client.ApiException as exc:
        return int(exc.status or 0)
    finally:
        api.close()
    return 200
