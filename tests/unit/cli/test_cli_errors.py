"""liqoctl's cluster-access errors: one line naming what to fix, never urllib3's text.

A missing kubeconfig names the file and where it came from; an unreachable server names
its URL, the cause and the flag to check, with no retry warnings before it; ``info`` in a
namespace without Liqo fails instead of printing an empty installation.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from liqo_core.cli.app import run
from liqo_core.testing.clusters import ClusterHandle


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A local port bound but not listening: connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def kubeconfig_for(path: Path, server: str) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": server}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "c",
            }
        )
    )
    return path


def error_of(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert run(argv) == 1
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1, captured.err
    return captured.err


def test_missing_kubeconfig_flag_names_the_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = tmp_path / "nope"
    err = error_of(capsys, ["--kubeconfig", str(missing), "version"])
    assert err == f"Error: kubeconfig {missing} does not exist: check --kubeconfig\n"


def test_missing_kubeconfig_from_the_environment_names_the_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "a"))
    err = error_of(capsys, ["info"])
    assert err == f"Error: kubeconfig {tmp_path / 'a'} does not exist: check $KUBECONFIG\n"
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'a'}:{tmp_path / 'b'}")
    err = error_of(capsys, ["info"])
    assert err == (
        f"Error: no kubeconfig: none of {tmp_path / 'a'}, {tmp_path / 'b'} exists: "
        "check $KUBECONFIG\n"
    )


def test_unreachable_cluster_is_one_line_naming_server_and_cause(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, refused_port: int
) -> None:
    server = f"https://127.0.0.1:{refused_port}"
    kubeconfig = kubeconfig_for(tmp_path / "kubeconfig", server)
    for argv in (["version"], ["info"], ["info", "peer"]):
        err = error_of(capsys, ["--kubeconfig", str(kubeconfig), *argv])
        assert err == f"Error: cannot reach {server} (connection refused): check --kubeconfig\n"


def test_unreachable_remote_names_the_remote_flag_without_warnings(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    refused_port: int,
    kube_cluster: ClusterHandle,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LIQO_CLUSTER_ID", "consumer")  # the local side needs no Liqo
    server = f"https://127.0.0.1:{refused_port}"
    remote = kubeconfig_for(tmp_path / "remote", server)
    argv = ["--kubeconfig", str(kube_cluster.kubeconfig), "peer", "--remote-kubeconfig"]
    err = error_of(capsys, [*argv, str(remote), "--networking-disabled"])
    assert err == (
        f"Error: cannot reach {server} (connection refused): check --remote-kubeconfig\n"
    )
    err = error_of(capsys, [*argv, str(tmp_path / "absent")])
    assert (
        err
        == f"Error: kubeconfig {tmp_path / 'absent'} does not exist: check --remote-kubeconfig\n"
    )


def test_info_in_a_namespace_that_does_not_exist_fails(
    capsys: pytest.CaptureFixture[str], kube_cluster: ClusterHandle
) -> None:
    base = ["--kubeconfig", str(kube_cluster.kubeconfig), "-n", "wrongns"]
    for argv in (["info"], ["info", "-o", "json"], ["info", "peer"]):
        err = error_of(capsys, [*base, *argv])
        assert err.startswith(
            "Error: Liqo is not installed in namespace wrongns: no such namespace"
        )
        assert "-n/--namespace" in err


def test_info_in_a_namespace_without_liqo_fails(
    capsys: pytest.CaptureFixture[str], kube_cluster: ClusterHandle, namespace: str
) -> None:
    err = error_of(capsys, ["--kubeconfig", str(kube_cluster.kubeconfig), "-n", namespace, "info"])
    assert err.startswith(
        f"Error: Liqo is not installed in namespace {namespace}: no ConfigMap "
        "liqo-clusterid-configmap and no Deployment liqo-controller-manager there"
    )


def test_info_where_liqo_is_installed_shows_it(
    capsys: pytest.CaptureFixture[str], kube_cluster: ClusterHandle, namespace: str
) -> None:
    from kubernetes import client

    client.CoreV1Api(kube_cluster.shared_client()).create_namespaced_config_map(
        namespace,
        {"metadata": {"name": "liqo-clusterid-configmap"}, "data": {"CLUSTER_ID": "here"}},
    )
    argv = ["--kubeconfig", str(kube_cluster.kubeconfig), "-n", namespace, "info"]
    assert run([*argv, "--get", "local.clusterID"]) == 0
    assert capsys.readouterr().out == "here\n"


def test_unreachable_remote_prints_no_retry_warnings_as_a_process(
    tmp_path: Path, refused_port: int, kube_cluster: ClusterHandle
) -> None:
    # In-process, pytest's log capture hides urllib3's warnings: run liqoctl itself.
    server = f"https://127.0.0.1:{refused_port}"
    remote = kubeconfig_for(tmp_path / "remote", server)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "LIQO_CLUSTER_ID": "consumer",
    }
    argv = ["--kubeconfig", str(kube_cluster.kubeconfig), "peer", "--remote-kubeconfig"]
    done = subprocess.run(
        [str(Path(sys.executable).parent / "liqoctl"), *argv, str(remote)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr == (
        f"Error: cannot reach {server} (connection refused): check --remote-kubeconfig\n"
    )


async def test_the_async_client_names_missing_kubeconfigs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from liqo_core.kube import KubeConfigError, KubeTarget, load_configuration

    with pytest.raises(KubeConfigError) as raised:
        await load_configuration(KubeTarget(kubeconfig=tmp_path / "a"))
    assert str(raised.value) == f"kubeconfig {tmp_path / 'a'} does not exist"
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'a'}:{tmp_path / 'b'}")
    with pytest.raises(KubeConfigError) as raised:
        await load_configuration(KubeTarget())
    assert str(raised.value) == (
        f"no kubeconfig: none of {tmp_path / 'a'}, {tmp_path / 'b'} exists ($KUBECONFIG)"
    )
