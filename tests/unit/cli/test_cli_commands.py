"""liqoctl plugins, crds and version, run in-process (version against the test cluster)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from liqo_core.api import CORE_MODELS
from liqo_core.cli.app import run
from liqo_core.testing.clusters import ClusterHandle

CHART_CRDS = Path(__file__).parents[3] / "charts" / "liqo" / "crds"


def output(capsys: pytest.CaptureFixture[str], argv: list[str], code: int = 0) -> str:
    assert run(argv) == code, capsys.readouterr().err
    return capsys.readouterr().out


# --- plugins -------------------------------------------------------------------------


def test_plugins_list_table(capsys: pytest.CaptureFixture[str]) -> None:
    lines = output(capsys, ["plugins", "list"]).splitlines()
    rows = [line.split() for line in lines if line.strip() and not line.strip().startswith("─")]
    assert rows[0] == ["KIND", "NAME", "DISTRIBUTION", "VERSION", "ENABLED"]
    assert ["transport", "wireguard", "liqo-transport-wireguard", "1.0.0.dev0", "yes"] in rows
    assert ["module", "networking", "liqo-network", "1.0.0.dev0", "yes"] in rows


def test_plugins_list_follows_settings(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIQO_MODULES", "authentication")
    found = json.loads(output(capsys, ["plugins", "list", "-o", "json"]))
    enabled = {(p["kind"], p["name"]): p["enabled"] for p in found}
    assert enabled[("module", "authentication")]
    assert not enabled[("module", "networking")]
    assert not enabled[("transport", "wireguard")]


def test_plugins_check_shows_what_each_module_owns(capsys: pytest.CaptureFixture[str]) -> None:
    checked = yaml.safe_load(output(capsys, ["plugins", "check", "-o", "yaml"]))
    by_name = {p["name"]: p for p in checked}
    assert list(by_name) == ["networking", "authentication", "offloading", "wireguard"]
    assert by_name["authentication"]["apiGroups"] == ["authentication.liqo.io"]
    assert by_name["wireguard"]["distribution"] == "liqo-transport-wireguard"


def test_plugins_check_fails_on_an_unknown_transport(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIQO_NETWORKING__TRANSPORT", "ipsec")
    assert run(["plugins", "check"]) == 1
    assert capsys.readouterr().err == (
        "Error: transport 'ipsec' is not installed (installed transports: wireguard): "
        "install the distribution that provides it, or fix `networking.transport`\n"
    )


# --- crds ----------------------------------------------------------------------------


def test_crds_stream_has_core_and_transport_kinds(capsys: pytest.CaptureFixture[str]) -> None:
    docs = list(yaml.safe_load_all(output(capsys, ["crds"])))
    assert all(doc["kind"] == "CustomResourceDefinition" for doc in docs)
    names = {doc["metadata"]["name"] for doc in docs}
    assert {model.crd.crd_name for model in CORE_MODELS} < names
    assert "wggatewayservers.networking.liqo.io" in names
    assert len(docs) == len(names) == len(CORE_MODELS) + 4


def test_crds_without_networking_drop_the_transport_kinds(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIQO_MODULES", "[]")
    docs = list(yaml.safe_load_all(output(capsys, ["crds"])))
    assert len(docs) == len(CORE_MODELS)


def test_crds_output_dir_regenerates_the_chart(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "crds"
    written = output(capsys, ["crds", "--output-dir", str(target)]).split()
    assert len(written) == len(CORE_MODELS) + 4
    fresh = {p.name: p.read_text() for p in target.glob("*.yaml")}
    committed = {p.name: p.read_text() for p in CHART_CRDS.glob("*.yaml")}
    assert fresh == committed, "charts/liqo/crds drifted: run liqoctl crds --output-dir"
    assert "networking.liqo.io_wggatewayservers.yaml" in fresh


#: Short names of Kubernetes' built-in kinds (kubectl api-resources on a v1.32 cluster).
BUILTIN_SHORT_NAMES = {
    "cm", "cs", "ep", "ev", "limits", "no", "ns", "po", "pv", "pvc", "quota", "rc", "sa",
    "svc", "crd", "crds", "deploy", "ds", "rs", "sts", "hpa", "cj", "csr", "ing", "ingclass",
    "netpol", "pdb", "pc", "sc", "ipaddr", "vac", "lease",
}  # fmt: skip


def test_crd_short_names_do_not_shadow_builtin_kinds(capsys: pytest.CaptureFixture[str]) -> None:
    # A shared short name makes `kubectl get rs` warn and pick one of the two kinds.
    docs = list(yaml.safe_load_all(output(capsys, ["crds"])))
    short = {
        doc["spec"]["names"]["kind"]: set(doc["spec"]["names"].get("shortNames") or [])
        for doc in docs
    }
    assert short["ResourceSlice"] == {"rslice"}  # upstream's
    clashes = {kind: names & BUILTIN_SHORT_NAMES for kind, names in short.items()}
    assert not any(clashes.values()), clashes


# --- version -------------------------------------------------------------------------


def deployment(namespace: str, labels: dict[str, str], image: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "liqo-controller-manager", "namespace": namespace, "labels": labels},
        "spec": {
            "selector": {"matchLabels": {"app": "liqo-controller-manager"}},
            "template": {
                "metadata": {"labels": {"app": "liqo-controller-manager"}},
                "spec": {"containers": [{"name": "controller-manager", "image": image}]},
            },
        },
    }


def install_liqo(
    cluster: ClusterHandle, namespace: str, labels: dict[str, str], image: str
) -> None:
    from kubernetes import client

    client.AppsV1Api(cluster.shared_client()).create_namespaced_deployment(
        namespace, deployment(namespace, labels, image)
    )


def test_version_without_a_cluster_prints_the_client(capsys: pytest.CaptureFixture[str]) -> None:
    assert output(capsys, ["version"]) == "Client version: 1.0.0-dev\n"


def test_version_reads_the_installed_version(
    capsys: pytest.CaptureFixture[str], kube_cluster: ClusterHandle, namespace: str
) -> None:
    install_liqo(kube_cluster, namespace, {"app.kubernetes.io/version": "1.2.3"}, "liqo:9.9.9")
    argv = ["version", "--kubeconfig", str(kube_cluster.kubeconfig), "-n", namespace]
    assert output(capsys, argv) == "Client version: 1.0.0-dev\nServer version: 1.2.3\n"


def test_version_falls_back_to_the_image_tag(
    capsys: pytest.CaptureFixture[str],
    kube_cluster: ClusterHandle,
    namespace: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    install_liqo(kube_cluster, namespace, {}, "registry:5000/liqo/liqo:2.0.1")
    monkeypatch.setenv("KUBECONFIG", str(kube_cluster.kubeconfig))
    data = json.loads(output(capsys, ["version", "-n", namespace, "-o", "json"]))
    assert data == {"clientVersion": "1.0.0-dev", "serverVersion": "2.0.1", "namespace": namespace}


def test_version_when_liqo_is_not_installed(
    capsys: pytest.CaptureFixture[str], kube_cluster: ClusterHandle, namespace: str
) -> None:
    argv = ["version", "--kubeconfig", str(kube_cluster.kubeconfig), "-n", namespace]
    text = output(capsys, argv)
    assert text.endswith(f"Server version: Liqo is not installed in namespace {namespace!r}\n")


def test_version_with_an_unreachable_cluster_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "gone", "cluster": {"server": "https://127.0.0.1:9"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "u"}}],
                "current-context": "gone",
            }
        )
    )
    assert run(["version", "--kubeconfig", str(kubeconfig)]) == 1
    err = capsys.readouterr().err
    assert (
        err == "Error: cannot reach https://127.0.0.1:9 (connection refused): check --kubeconfig\n"
    )


def test_version_with_an_unknown_context_is_one_line(
    capsys: pytest.CaptureFixture[str], kube_cluster: ClusterHandle
) -> None:
    argv = ["version", "--kubeconfig", str(kube_cluster.kubeconfig), "--context", "nope"]
    assert run(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"Error: cannot use kubeconfig {kube_cluster.kubeconfig}:")
    assert "nope" in err
