"""Install and upgrade the liqo chart with Helm's own engine against a cluster.

The cluster ID is decided by the chart with ``lookup``, which only answers against a live
API server: these tests check that a generated ID survives upgrades and that a changed ID
is refused. Everything is read back through the API, so they hold on a real cluster too.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml
from e2e_support import wait_for
from kubernetes import client

from liqo_core.testing.clusters import ClusterHandle

pytestmark = pytest.mark.e2e

CHART_DIR = Path(__file__).resolve().parents[2] / "charts" / "liqo"
RELEASE = "liqo"


class Release:
    """One release of the chart in a test namespace, read back through the API."""

    def __init__(self, cluster: ClusterHandle, namespace: str) -> None:
        self.namespace = namespace
        self.config = helm.Config(kubeconfig_path=cluster.kubeconfig, namespace=namespace)
        self.core = client.CoreV1Api(cluster.shared_client())

    def install(self, values: dict[str, Any] | None = None) -> None:
        self.config.install(CHART_DIR, RELEASE, values, namespace=self.namespace, timeout=120)

    def upgrade(self, values: dict[str, Any] | None = None, *, reuse_values: bool = False) -> None:
        self.config.upgrade(
            CHART_DIR,
            RELEASE,
            values,
            namespace=self.namespace,
            timeout=120,
            reuse_values=reuse_values,
        )

    def cluster_id(self) -> str:
        config_map = self.core.read_namespaced_config_map(
            "liqo-clusterid-configmap", self.namespace
        )
        assert config_map.data is not None
        return config_map.data["CLUSTER_ID"]

    def settings(self) -> dict[str, Any]:
        config_map = self.core.read_namespaced_config_map(
            "liqo-controller-manager-config", self.namespace
        )
        assert config_map.data is not None
        parsed: dict[str, Any] = yaml.safe_load(config_map.data["config.yaml"])
        return parsed

    def revision(self) -> int:
        revision: int = self.config.status(RELEASE)["revision"]
        return revision

    def close(self) -> None:
        self.config.uninstall(RELEASE, ignore_not_found=True, timeout=120)
        self.config.close()


def _name(metadata: client.V1ObjectMeta | None) -> str:
    assert metadata is not None
    assert metadata.name is not None
    return metadata.name


@pytest.fixture
def release(kube_cluster: ClusterHandle, namespace: str) -> Iterator[Release]:
    installed = Release(kube_cluster, namespace)
    try:
        yield installed
    finally:
        installed.close()


def test_generated_cluster_id_is_kept_across_upgrades(release: Release) -> None:
    release.install()
    generated = release.cluster_id()
    assert generated
    assert release.settings()["clusterID"] == generated

    release.upgrade({"networking": {"transport": "ipsec"}})
    assert release.cluster_id() == generated
    settings = release.settings()
    assert settings["clusterID"] == generated
    assert settings["networking"]["transport"] == "ipsec"

    # --reuse-values replays the stored values: nothing the render computed leaks into them.
    release.upgrade({"offloading": {"enabled": False}}, reuse_values=True)
    assert release.cluster_id() == generated
    settings = release.settings()
    assert settings["modules"] == ["networking", "authentication"]
    assert settings["networking"]["transport"] == "ipsec"
    stored = release.config.get_values(RELEASE)
    assert stored == {"networking": {"transport": "ipsec"}, "offloading": {"enabled": False}}


def test_changing_an_installed_cluster_id_is_refused(release: Release) -> None:
    release.install({"discovery": {"config": {"clusterID": "cluster-one"}}})
    assert release.cluster_id() == "cluster-one"
    revision = release.revision()

    with pytest.raises(helm.HelmError, match=r"discovery\.config\.clusterID") as refused:
        release.upgrade({"discovery": {"config": {"clusterID": "cluster-two"}}})
    assert "cluster-one" in str(refused.value)
    assert release.cluster_id() == "cluster-one"
    assert release.revision() == revision

    # The same ID, or none at all, upgrades fine and keeps it.
    release.upgrade({"discovery": {"config": {"clusterID": "cluster-one"}}})
    release.upgrade()
    assert release.cluster_id() == "cluster-one"
    assert release.settings()["clusterID"] == "cluster-one"


def test_install_serves_the_crds_and_discoverable_roles(
    release: Release, kube_cluster: ClusterHandle
) -> None:
    release.install()
    extensions = client.ApiextensionsV1Api(kube_cluster.shared_client())
    served = {_name(crd.metadata) for crd in extensions.list_custom_resource_definition().items}
    assert {
        "foreignclusters.core.liqo.io",
        "resourceslices.authentication.liqo.io",
        "virtualnodes.offloading.liqo.io",
        "configurations.networking.liqo.io",
    } <= served

    rbac = client.RbacAuthorizationV1Api(kube_cluster.shared_client())

    def roles_named(name: str) -> list[str]:
        selected = rbac.list_cluster_role(label_selector=f"app.kubernetes.io/name={name}")
        return [_name(role.metadata) for role in selected.items]

    assert roles_named("remote-controlplane") == ["liqo-remote-controlplane"]
    assert roles_named("virtual-kubelet-remote") == ["liqo-virtual-kubelet-remote"]

    # Turning a module off on upgrade removes the roles it binds consumers to.
    release.upgrade({"offloading": {"enabled": False}})
    assert roles_named("virtual-kubelet-remote") == []
    assert roles_named("remote-controlplane") == ["liqo-remote-controlplane"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return 0


def hosted_modules(metrics_port: int) -> set[str]:
    """Modules the controller-manager reports as enabled on /metrics."""
    sample = re.compile(r'^liqo_controller_manager_modules_enabled\{module="([^"]+)"\} 1\.0$')
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    return {m.group(1) for line in text.splitlines() if (m := sample.match(line))}


def test_deployed_controller_manager_runs_on_the_chart_settings(
    release: Release, kube_cluster: ClusterHandle, tmp_path: Path
) -> None:
    """Run the Deployment's container as a kubelet would: its command, env and config.

    The config volume is the ConfigMap's content in a directory of ours (its path in the
    command is rewritten, nothing else). Ports come from the environment, because tests
    run side by side, and the kubeconfig stands in for the in-cluster service account.
    """
    release.install(
        {"discovery": {"config": {"clusterID": "runner-test"}}, "offloading": {"enabled": False}}
    )
    apps = client.AppsV1Api(kube_cluster.shared_client())
    deployment = apps.read_namespaced_deployment("liqo-controller-manager", release.namespace)
    assert deployment.spec is not None
    pod = deployment.spec.template.spec
    assert pod is not None
    container = pod.containers[0]
    mount = next(m for m in container.volume_mounts or [] if m.name == "config")

    config_dir = tmp_path / "config"
    config_dir.mkdir()
    config_map = release.core.read_namespaced_config_map(
        "liqo-controller-manager-config", release.namespace
    )
    assert config_map.data is not None
    for key, text in config_map.data.items():
        (config_dir / key).write_text(text)
    command = [
        arg.replace(mount.mount_path, str(config_dir))
        for arg in [*(container.command or []), *(container.args or [])]
    ]
    assert command[:2] == ["liqo", "controller-manager"]
    command[0] = str(Path(sys.executable).parent / "liqo")

    health, metrics = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIQO_")}
    env.update(
        {
            "POD_NAME": "liqo-controller-manager-0",
            "POD_NAMESPACE": release.namespace,
            "KUBECONFIG": str(kube_cluster.kubeconfig),
            "LIQO_CONTROLLER_MANAGER__HEALTH_PORT": str(health),
            "LIQO_CONTROLLER_MANAGER__METRICS_PORT": str(metrics),
            "LIQO_AUTHENTICATION__WEBHOOK__PORT": str(_free_port()),
        }
    )
    log = tmp_path / "controller-manager.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, env=env, stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    try:

        def ready() -> bool:
            assert process.poll() is None, log.read_text(errors="replace")[-3000:]
            return _http_status(f"http://127.0.0.1:{health}/readyz") == 200

        wait_for("the controller-manager ready", ready, timeout=90, interval=0.3)
        assert _http_status(f"http://127.0.0.1:{health}/healthz") == 200
        # The modules the values enabled are the ones the process hosts, next to the
        # always-on core operator (ForeignClusters).
        hosted = hosted_modules(metrics)
        expected = {"core", "networking", "authentication", "transport:wireguard"}
        assert hosted == expected, log.read_text(errors="replace")
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
