"""The offloading commands against a cluster (no controller runs: they are called with
``--no-wait``, or the test plays the controller's part)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from liqo_offloading.cli import register_commands

from liqo_core.cli import app as cli_app
from liqo_core.cli.context import CliState
from liqo_core.testing.clusters import ClusterHandle

CRDS = Path(__file__).resolve().parents[5] / "charts" / "liqo" / "crds"


@pytest.fixture
def liqoctl(
    kube_cluster: ClusterHandle,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> Any:
    """Run ``liqoctl`` in-process with only this module's commands added."""
    for name in ("KUBECONFIG", "LIQO_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr("liqo_core.settings.DEFAULT_CONFIG_FILE", tmp_path / "absent.yaml")

    def add_commands(app: typer.Typer, state: CliState) -> bool:
        register_commands(app)
        return True

    monkeypatch.setattr(cli_app, "add_plugin_commands", add_commands)

    def run(*args: str) -> tuple[int, str, str]:
        code = cli_app.run(["--kubeconfig", str(kube_cluster.kubeconfig), *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def crds(kube_cluster: ClusterHandle) -> None:
    kube_cluster.kubectl("apply", "-f", str(CRDS))
    kube_cluster.kubectl(
        "wait", "--for=condition=Established", "--timeout=60s",
        "crd/namespaceoffloadings.offloading.liqo.io", "crd/virtualnodes.offloading.liqo.io",
        "crd/resourceslices.authentication.liqo.io", "crd/identities.authentication.liqo.io",
    )  # fmt: skip


def get(cluster: ClusterHandle, *args: str) -> dict[str, Any] | None:
    proc = cluster.kubectl("get", *args, "-o", "json", check=False)
    return json.loads(proc.stdout) if proc.returncode == 0 else None


def apply(cluster: ClusterHandle, *objects: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(list(objects)))


@pytest.mark.usefixtures("crds")
def test_offload_creates_and_updates_the_namespace_offloading(
    liqoctl: Any, kube_cluster: ClusterHandle, namespace: str
) -> None:
    code, out, err = liqoctl(
        "offload", "namespace", namespace, "--pod-offloading-strategy", "LocalAndRemote",
        "--selector", "region in (eu,us), !staging", "-l", "gpu", "--no-wait",
    )  # fmt: skip
    assert code == 0, err
    assert f"Offloading of namespace {namespace} enabled." in out
    nsoff = get(kube_cluster, "namespaceoffloading", "offloading", "-n", namespace)
    assert nsoff is not None
    assert nsoff["spec"]["namespaceMappingStrategy"] == "DefaultName"
    assert nsoff["spec"]["clusterSelector"] == {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "region", "operator": "In", "values": ["eu", "us"]},
                              {"key": "staging", "operator": "DoesNotExist"}]},
        {"matchExpressions": [{"key": "gpu", "operator": "Exists"}]},
    ]}  # fmt: skip

    code, out, err = liqoctl(
        "offload", "namespace", namespace, "--pod-offloading-strategy", "Remote", "--no-wait"
    )
    assert code == 0, err
    assert "more restrictive than before" in err
    nsoff = get(kube_cluster, "namespaceoffloading", "offloading", "-n", namespace)
    assert nsoff is not None
    assert nsoff["spec"]["podOffloadingStrategy"] == "Remote"
    assert nsoff["spec"]["clusterSelector"] == {"nodeSelectorTerms": []}

    code, _, err = liqoctl(
        "offload", "namespace", namespace, "--namespace-mapping-strategy", "EnforceSameName",
        "--no-wait",
    )  # fmt: skip
    assert code == 1
    assert err.strip() == (
        f"Error: namespace {namespace} is offloaded with --namespace-mapping-strategy "
        "DefaultName, which cannot change: unoffload it first"
    )

    code, out, err = liqoctl("unoffload", "namespace", namespace, "--no-wait")
    assert code == 0, err
    assert get(kube_cluster, "namespaceoffloading", "offloading", "-n", namespace) is None
    code, out, _ = liqoctl("unoffload", "namespace", namespace, "--no-wait")
    assert code == 0 and f"Namespace {namespace} is not offloaded." in out


@pytest.mark.usefixtures("crds")
def test_offload_waits_for_the_controller(
    liqoctl: Any, kube_cluster: ClusterHandle, namespace: str
) -> None:
    code, _, err = liqoctl("offload", "namespace", namespace, "--timeout", "1")
    assert code == 1
    assert f"timed out after 1s waiting for the offloading of namespace {namespace}" in err
    assert "the controller has not processed the latest change yet" in err


def test_offload_usage_errors(liqoctl: Any) -> None:
    cases = [
        (("offload", "namespace"), "give the namespace NAME(s) or --ns-selector"),
        (("offload", "namespace", "a", "--ns-selector", "x=y"), "not both"),
        (("offload", "namespace", "a", "--namespace-mapping-strategy", "SelectedName"),
         "SelectedName needs --remote-namespace-name"),
        (("offload", "namespace", "a", "--remote-namespace-name", "b"),
         "--remote-namespace-name needs --namespace-mapping-strategy SelectedName"),
        (("offload", "namespace", "a", "-l", "a in (x"), "--selector 'a in (x': unclosed '('"),
    ]  # fmt: skip
    for args, message in cases:
        code, _, err = liqoctl(*args)
        assert code != 0 and message in err, (args, err)


def test_offload_prints_the_resource(liqoctl: Any) -> None:
    code, out, err = liqoctl(
        "offload", "namespace", "web", "--namespace-mapping-strategy", "SelectedName",
        "--remote-namespace-name", "web-remote", "-o", "yaml",
    )  # fmt: skip
    assert code == 0, err
    printed = yaml.safe_load(out)
    assert printed["metadata"] == {"name": "offloading", "namespace": "web"}
    assert printed["spec"]["remoteNamespaceName"] == "web-remote"


def test_offload_of_a_missing_namespace(liqoctl: Any, crds: None) -> None:
    missing = f"absent-{secrets.token_hex(3)}"
    code, _, err = liqoctl("offload", "namespace", missing, "--no-wait")
    assert code == 1 and err.strip() == f"Error: namespace {missing} does not exist"


@pytest.fixture
def provider(kube_cluster: ClusterHandle) -> Iterator[tuple[str, str]]:
    """A peer id and its tenant namespace on the test cluster."""
    peer = f"prov-{secrets.token_hex(3)}"
    tenant = f"liqo-tenant-{peer}"
    labels = {"liqo.io/tenant-namespace": "true", "liqo.io/remote-cluster-id": peer}
    apply(kube_cluster, {"apiVersion": "v1", "kind": "Namespace",
                         "metadata": {"name": tenant, "labels": labels}})  # fmt: skip
    yield peer, tenant
    kube_cluster.kubectl("delete", "namespace", tenant, "--wait=false", check=False)


@pytest.mark.usefixtures("crds")
def test_create_and_delete_a_virtual_node_from_a_kubeconfig_secret(
    liqoctl: Any, kube_cluster: ClusterHandle, provider: tuple[str, str]
) -> None:
    peer, tenant = provider
    code, out, err = liqoctl(
        "create", "virtualnode", "vn-a", "--remote-cluster-id", peer,
        "--kubeconfig-secret-name", "kc", "--cpu", "8", "--resource", "nvidia.com/gpu=1",
        "--labels", "gpu=yes,zone=a", "--node-selector", "pool=big", "--storage-classes",
        "fast,slow", "--no-create-node",
    )  # fmt: skip
    assert code == 0, err
    assert f"VirtualNode {tenant}/vn-a created." in out
    vn = get(kube_cluster, "virtualnode", "vn-a", "-n", tenant)
    assert vn is not None
    spec = vn["spec"]
    assert spec["clusterID"] == peer and spec["createNode"] is False
    assert spec["resourceQuota"]["hard"] == {
        "cpu": "8", "memory": "4Gi", "pods": "110", "nvidia.com/gpu": "1"}  # fmt: skip
    assert spec["labels"] == {"liqo.io/remote-cluster-id": peer, "gpu": "yes", "zone": "a"}
    assert spec["offloadingPatch"]["nodeSelector"] == {"pool": "big"}
    assert spec["storageClasses"][0] == {"storageClassName": "fast", "default": True}

    code, out, err = liqoctl(
        "create", "virtualnode", "vn-a", "--remote-cluster-id", peer,
        "--kubeconfig-secret-name", "kc2", "--no-create-node",
    )  # fmt: skip
    assert code == 0 and "updated" in out, err
    vn = get(kube_cluster, "virtualnode", "vn-a", "-n", tenant)
    assert vn is not None and vn["spec"]["kubeconfigSecretRef"] == {"name": "kc2"}

    code, out, err = liqoctl("delete", "virtualnode", "vn-a", "--remote-cluster-id", peer)
    assert code == 0, err
    code, _, err = liqoctl("delete", "virtualnode", f"none-{secrets.token_hex(2)}")
    assert code == 1 and "no VirtualNode called" in err


@pytest.mark.usefixtures("crds")
def test_create_a_virtual_node_from_a_resource_slice(
    liqoctl: Any, kube_cluster: ClusterHandle, provider: tuple[str, str]
) -> None:
    peer, tenant = provider
    code, _, err = liqoctl(
        "create", "virtualnode", "s1", "--remote-cluster-id", peer, "--resource-slice-name",
        "s1", "--no-wait",
    )  # fmt: skip
    assert code == 1 and err.strip() == f"Error: no ResourceSlice {tenant}/s1"
    slice_ = {"apiVersion": "authentication.liqo.io/v1beta1", "kind": "ResourceSlice",
              "metadata": {"name": "s1", "namespace": tenant},
              "spec": {"providerClusterID": peer}}  # fmt: skip
    apply(kube_cluster, slice_)
    granted = {"status": {"resources": {"cpu": "3", "memory": "6Gi"},
                          "nodeLabels": {"zone": "z"}, "nodeSelector": {"pool": "p"}}}  # fmt: skip
    kube_cluster.kubectl(
        "patch", "resourceslice", "s1", "-n", tenant, "--subresource=status", "--type=merge",
        "-p", json.dumps(granted),
    )  # fmt: skip
    code, _, err = liqoctl(
        "create", "virtualnode", "s1", "--remote-cluster-id", peer, "--resource-slice-name",
        "s1", "--no-wait",
    )  # fmt: skip
    assert code == 1 and "has no Identity yet" in err
    identity = {"apiVersion": "authentication.liqo.io/v1beta1", "kind": "Identity",
                "metadata": {"name": "resourceslice-s1", "namespace": tenant,
                             "labels": {"liqo.io/resourceslice-name": "s1",
                                        "liqo.io/identity-type": "ResourceSlice"}},
                "spec": {"clusterID": peer, "type": "ResourceSlice",
                         "authParams": {"ca": "eA==", "signedCRT": "eA==",
                                        "apiServer": "https://x"}}}  # fmt: skip
    secret = {"apiVersion": "v1", "kind": "Secret",
              "metadata": {"name": "kubeconfig-resourceslice-s1", "namespace": tenant},
              "stringData": {"kubeconfig": "x"}}  # fmt: skip
    apply(kube_cluster, identity, secret)
    code, _, err = liqoctl(
        "create", "virtualnode", "s1", "--remote-cluster-id", peer, "--resource-slice-name",
        "s1", "--labels", "extra=1", "--no-wait",
    )  # fmt: skip
    assert code == 0, err
    vn = get(kube_cluster, "virtualnode", "s1", "-n", tenant)
    assert vn is not None
    assert vn["spec"]["kubeconfigSecretRef"] == {"name": "kubeconfig-resourceslice-s1"}
    assert vn["spec"]["resourceQuota"]["hard"] == {"cpu": "3", "memory": "6Gi"}
    assert vn["spec"]["labels"] == {"liqo.io/remote-cluster-id": peer, "zone": "z", "extra": "1"}
    assert vn["spec"]["offloadingPatch"] == {"nodeSelector": {"pool": "p"}}


def test_create_virtual_node_usage_errors(liqoctl: Any, crds: None) -> None:
    code, _, err = liqoctl("create", "virtualnode", "x", "--remote-cluster-id", "p")
    assert code == 1 and "exactly one of --resource-slice-name and --kubeconfig-secret-name" in err
    code, _, err = liqoctl(
        "create", "virtualnode", "x", "--remote-cluster-id", "p", "--resource-slice-name", "s",
        "--cpu", "2",
    )  # fmt: skip
    assert code == 1 and "come from the ResourceSlice" in err
    missing = f"nobody-{secrets.token_hex(2)}"
    code, _, err = liqoctl(
        "create", "virtualnode", "x", "--remote-cluster-id", missing, "--kubeconfig-secret-name",
        "k",
    )  # fmt: skip
    assert code == 1 and f"no tenant namespace for cluster {missing}" in err
    code, _, err = liqoctl(
        "create", "virtualnode", "x", "--remote-cluster-id", "p", "--kubeconfig-secret-name",
        "k", "--cpu", "lots",
    )  # fmt: skip
    assert code == 1 and "'lots' is not a Kubernetes quantity" in err
