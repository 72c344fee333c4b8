"""The authentication module's peering pieces: why-messages, slice manifests, command errors."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from liqo_auth.cli.steps import _slice_detail, _tenant_detail, resource_slice, slice_accepted

from liqo_core.cli.app import run
from liqo_core.testing.clusters import ClusterHandle


def test_tenant_detail_names_the_refusal() -> None:
    refused = {"status": {"conditions": [{
        "type": "HandshakeVerified", "status": "False", "reason": "CSRVerificationFailed",
        "message": "wrong subject"}]}}  # fmt: skip
    assert (
        _tenant_detail(refused) == "HandshakeVerified=False, CSRVerificationFailed: wrong subject"
    )
    assert _tenant_detail(None) == "the Tenant does not exist on the provider"
    assert _tenant_detail({"status": {}}) == (
        "the provider's Tenant controller has not issued credentials yet"
    )


def condition(kind: str, status: str, reason: str = "", message: str = "") -> dict[str, str]:
    return {"type": kind, "status": status, "reason": reason, "message": message}


def test_slice_detail_and_acceptance() -> None:
    accepted = {"status": {"conditions": [
        condition("Authentication", "Accepted"), condition("Resources", "Accepted")]}}  # fmt: skip
    assert slice_accepted(accepted)
    denied = {"status": {"conditions": [
        condition("Authentication", "Accepted"),
        condition("Resources", "Denied", "TenantCordoned", "the tenant is cordoned")]}}  # fmt: skip
    assert not slice_accepted(denied)
    assert _slice_detail(denied) == "Resources Denied, TenantCordoned: the tenant is cordoned"
    assert _slice_detail({}) == (
        "Authentication: no decision from the provider yet; "
        "Resources: no decision from the provider yet"
    )
    assert _slice_detail(None) == "the ResourceSlice does not exist"
    assert not slice_accepted(None)


def test_resource_slice_manifest() -> None:
    body = resource_slice("s1", "liqo-tenant-p", "p", slice_class="gold", resources={"cpu": "2"})
    assert body["metadata"] == {
        "name": "s1",
        "namespace": "liqo-tenant-p",
        "labels": {"liqo.io/replication": "true", "liqo.io/remoteID": "p",
                   "liqo.io/remote-cluster-id": "p"},
        "annotations": {"liqo.io/create-virtual-node": "true"},
    }  # fmt: skip
    assert body["spec"] == {"providerClusterID": "p", "class": "gold", "resources": {"cpu": "2"}}
    plain = resource_slice("s1", "ns", "p", create_virtual_node=False)
    assert "annotations" not in plain["metadata"]
    assert plain["spec"] == {"providerClusterID": "p"}


# --- commands against a cluster ---------------------------------------------------------------


@pytest.fixture
def provider_id(kube_cluster: ClusterHandle) -> Iterator[str]:
    """A provider id with a tenant namespace on the test cluster (the consumer's side)."""
    provider = f"prov-{secrets.token_hex(4)}"
    tenant_ns = f"liqo-tenant-{provider}"
    labels = {"liqo.io/tenant-namespace": "true", "liqo.io/remote-cluster-id": provider}
    manifest = {"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": tenant_ns, "labels": labels}}  # fmt: skip
    kube_cluster.kubectl("apply", "-f", "-", input=json.dumps(manifest))
    yield provider
    kube_cluster.kubectl("delete", "namespace", tenant_ns, "--wait=false", check=False)


def cli(capsys: pytest.CaptureFixture[str], cluster: ClusterHandle, *argv: str) -> Any:
    code = run(["--kubeconfig", str(cluster.kubeconfig), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_create_resourceslice_prints_the_manifest(
    capsys: pytest.CaptureFixture[str], kube_cluster: ClusterHandle, provider_id: str
) -> None:
    code, out, err = cli(
        capsys, kube_cluster, "create", "resourceslice", "gpu", "--remote-cluster-id", provider_id,
        "--class", "gold", "--resource", "nvidia.com/gpu=1", "--no-virtual-node", "-o", "json",
    )  # fmt: skip
    assert code == 0, err
    body = json.loads(out)
    assert body["kind"] == "ResourceSlice"
    assert body["metadata"]["namespace"] == f"liqo-tenant-{provider_id}"
    assert body["spec"] == {"providerClusterID": provider_id, "class": "gold",
                            "resources": {"nvidia.com/gpu": "1"}}  # fmt: skip
    assert "annotations" not in body["metadata"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["create", "resourceslice", "s", "--remote-cluster-id", "nobody-here"],
         "Error: no tenant namespace for cluster nobody-here: authenticate first\n"),
        (["get", "kubeconfig", "--remote-cluster-id", "p", "--identity-type", "Admin"],
         "Error: --identity-type 'Admin': use ControlPlane or ResourceSlice\n"),
        (["get", "kubeconfig", "--remote-cluster-id", "p", "--resource-slice-name", "s"],
         "Error: --resource-slice-name needs --identity-type ResourceSlice\n"),
        (["get", "kubeconfig", "--remote-cluster-id", "nobody-here"],
         "Error: no ControlPlane Identity for cluster nobody-here\n"),
        (["cordon", "tenant", "nobody-here"], "Error: no Tenant for cluster nobody-here\n"),
        (["drain", "tenant", "nobody-here"], "Error: no Tenant for cluster nobody-here\n"),
        (["cordon", "resourceslice", "nobody-here"],
         "Error: no ResourceSlice called 'nobody-here'\n"),
    ],
)  # fmt: skip
def test_commands_fail_in_one_line(
    capsys: pytest.CaptureFixture[str],
    kube_cluster: ClusterHandle,
    argv: list[str],
    message: str,
) -> None:
    code, _, err = cli(capsys, kube_cluster, *argv)
    assert (code, err) == (1, message)
