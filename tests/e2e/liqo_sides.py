"""Running Liqo controller-manager "sides" on test clusters, for end-to-end tests.

A :class:`Side` is one cluster with ``liqo controller-manager`` running as a subprocess
under a ServiceAccount that holds exactly the chart's controller-manager rules, plus
helpers to drive it (``liqoctl``, kubectl, API reads). :func:`running_sides` prepares
and starts several, and removes everything they created afterwards.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import helm_python as helm
import yaml
from e2e_support import free_port, wait_for
from kubernetes import client

from liqo_core.testing.clusters import ClusterHandle

REPO = Path(__file__).resolve().parents[2]
CHART_DIR = REPO / "charts" / "liqo"
CRD_DIR = CHART_DIR / "crds"
BIN = Path(sys.executable).parent
ROLE_NAMES = {"remote-controlplane", "virtual-kubelet-remote-clusterwide"}


def chart_objects() -> list[dict[str, Any]]:
    """Every object the chart renders with default values."""
    with helm.Chart.load(CHART_DIR) as chart:
        rendered = chart.render(None, name="liqo", namespace="liqo")
    return [
        doc
        for path, text in rendered.items()
        if path.endswith(".yaml")
        for doc in yaml.safe_load_all(text)
        if doc
    ]


def chart_cluster_roles(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ClusterRoles the authentication module binds consumers to."""
    roles = [
        doc
        for doc in objects
        if doc["kind"] == "ClusterRole"
        and (doc["metadata"].get("labels") or {}).get("app.kubernetes.io/name") in ROLE_NAMES
    ]
    assert len(roles) == len(ROLE_NAMES), roles
    return roles


def controller_manager_rules(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The controller-manager's cluster-wide rules, as the chart grants them."""
    [role] = [
        doc
        for doc in objects
        if doc["kind"] == "ClusterRole" and doc["metadata"]["name"] == "liqo-controller-manager"
    ]
    rules: list[dict[str, Any]] = role["rules"]
    return rules


def service_account_kubeconfig(
    cluster: ClusterHandle, namespace: str, rules: list[dict[str, Any]], path: Path
) -> Path:
    """A kubeconfig for a ServiceAccount holding exactly the chart's controller-manager rules."""
    name = f"liqo-controller-manager-{namespace}"
    objects = [
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": "liqo-controller-manager", "namespace": namespace}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": {"name": name, "labels": {"liqo-test/auth": namespace}}, "rules": rules},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": name, "labels": {"liqo-test/auth": namespace}},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
         "subjects": [{"kind": "ServiceAccount", "name": "liqo-controller-manager",
                       "namespace": namespace}]},
    ]  # fmt: skip
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(objects))
    token = cluster.kubectl(
        "create", "token", "liqo-controller-manager", "-n", namespace, "--duration=2h"
    ).stdout.strip()
    config = yaml.safe_load(cluster.kubectl("config", "view", "--raw", "--minify").stdout)
    config["users"][0]["user"] = {"token": token}
    path.write_text(yaml.safe_dump(config))
    return path


@dataclass
class Side:
    """One cluster with Liqo's authentication module running."""

    cluster: ClusterHandle
    cluster_id: str
    namespace: str
    config: Path
    log: Path
    manager_kubeconfig: Path
    process: subprocess.Popen[bytes] | None = None
    api: Any = field(default=None, repr=False)

    def start(self) -> None:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("LIQO_")}
        command = [
            *(str(BIN / "liqo"), "controller-manager", "--config", str(self.config)),
            *("--kubeconfig", str(self.manager_kubeconfig), "--no-leader-elect"),
            *("--health-port", str(free_port()), "--metrics-port", str(free_port())),
            *("--bind-address", "127.0.0.1", "--identity", self.cluster_id),
        ]
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(
                command, env=environment, stdout=sink, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def liqoctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("LIQO_")}
        command = [str(BIN / "liqoctl"), "--kubeconfig", str(self.cluster.kubeconfig)]
        command += ["--config", str(self.config), *args]
        proc = subprocess.run(
            command, capture_output=True, text=True, timeout=90, env=environment, check=False
        )
        if check:
            assert proc.returncode == 0, f"{' '.join(args)}: {proc.stdout}\n{proc.stderr}"
        return proc

    def kubectl(self, *args: str, input: str | None = None, check: bool = True) -> str:
        return self.cluster.kubectl(*args, input=input, check=check).stdout

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    @property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api)

    def secret_data(self, namespace: str, name: str) -> dict[str, bytes] | None:
        try:
            secret = self.core.read_namespaced_secret(name, namespace)
        except client.ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return {k: base64.b64decode(v) for k, v in (secret.data or {}).items()}

    def tenant(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            obj: Any = self.custom.get_namespaced_custom_object(
                "authentication.liqo.io", "v1beta1", namespace, "tenants", name
            )
        except client.ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return dict(obj)

    def events(self, namespace: str, name: str | None = None) -> list[Any]:
        events = self.core.list_namespaced_event(namespace).items
        return [e for e in events if name is None or e.involved_object.name == name]

    def private_key(self) -> bytes | None:
        return (self.secret_data(self.namespace, "authentication-keys") or {}).get("privateKey")

    def logs(self) -> str:
        return self.log.read_text(errors="replace")


def install_prerequisites(cluster: ClusterHandle, roles: list[dict[str, Any]]) -> list[str]:
    """CRDs and the chart's consumer ClusterRoles; return the ClusterRoles created here."""
    cluster.kubectl("apply", "-f", str(CRD_DIR))
    cluster.kubectl(
        "wait", "--for=condition=Established", "--timeout=60s",
        "crd/tenants.authentication.liqo.io", "crd/identities.authentication.liqo.io",
        "crd/resourceslices.authentication.liqo.io",
    )  # fmt: skip
    created = []
    for role in roles:  # a chart release may own them already (other tests install it)
        name = role["metadata"]["name"]
        if cluster.kubectl("get", "clusterrole", name, check=False).returncode != 0:
            cluster.kubectl("create", "-f", "-", input=yaml.safe_dump(role))
            created.append(name)
    return created


#: Address of this host the clusters' API servers reach the sides' admission webhooks at
#: (the loopback for emulated clusters; on real clusters, an address of the test host
#: they can reach, e.g. the container network's gateway for kind).
WEBHOOK_HOST = os.environ.get("LIQO_TEST_WEBHOOK_HOST", "127.0.0.1")


def webhook_settings(cluster_id: str) -> dict[str, Any]:
    """The side's admission webhook server: a free port, a configuration of its own."""
    return {
        "enabled": True,
        "address": "127.0.0.1" if WEBHOOK_HOST == "127.0.0.1" else "0.0.0.0",
        "host": WEBHOOK_HOST,
        "port": free_port(),
        "configuration": f"liqo-webhook-{cluster_id}",
    }


def make_side(
    cluster: ClusterHandle,
    cluster_id: str,
    namespace: str,
    rules: list[dict[str, Any]],
    tmp: Path,
    *,
    extra_settings: dict[str, Any] | None = None,
) -> Side:
    """Prepare (not start) a controller-manager for ``cluster`` with the chart's RBAC.

    :param extra_settings: Settings-file keys merged over the defaults (authentication
        module only, this cluster's id and namespace).
    """
    config = tmp / f"{cluster_id}.yaml"
    settings: dict[str, Any] = {
        "clusterID": cluster_id, "namespace": namespace, "modules": ["authentication"],
        "authentication": {"webhook": webhook_settings(cluster_id)},
    }  # fmt: skip
    for key, value in (extra_settings or {}).items():
        merged = settings.get(key)
        settings[key] = {**merged, **value} if isinstance(merged, dict) else value
    config.write_text(yaml.safe_dump(settings))
    cluster.kubectl("create", "namespace", namespace)
    manager = service_account_kubeconfig(cluster, namespace, rules, tmp / f"{cluster_id}.kcfg")
    side = Side(cluster, cluster_id, namespace, config, tmp / f"{cluster_id}.log", manager)
    side.api = cluster.api_client()
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "liqo-clusterid-configmap", "namespace": namespace},
        "data": {"CLUSTER_ID": cluster_id},
    }
    side.kubectl("apply", "-f", "-", input=json.dumps(config_map))
    return side


def cleanup_cluster(cluster: ClusterHandle, suffix: str, cluster_roles: list[str]) -> None:
    """Delete what the module's test left: everything named after ``suffix``."""
    # First the sides' webhooks (persistent, failure policy Fail): their servers are gone.
    for kind in ("validatingwebhookconfigurations", "mutatingwebhookconfigurations"):
        for ref in cluster.kubectl("get", kind, "-o", "name").stdout.split():
            if ref.endswith(suffix):
                cluster.kubectl("delete", ref, check=False)
    tenants = json.loads(cluster.kubectl("get", "tenants", "-A", "-o", "json").stdout)
    for tenant in tenants["items"]:  # no controller is left to remove the finalizer
        meta = tenant["metadata"]
        if meta["namespace"].endswith(suffix) and meta.get("finalizers"):
            cluster.kubectl(
                "patch", "tenant", meta["name"], "-n", meta["namespace"], "--type=merge",
                "-p", '{"metadata": {"finalizers": null}}', check=False,
            )  # fmt: skip
    for kind in ("namespace", "clusterrolebinding", "clusterrole", "foreignclusters"):
        for ref in cluster.kubectl("get", kind, "-o", "name").stdout.split():
            if ref.endswith(suffix):
                cluster.kubectl("delete", ref, "--wait=false", check=False)
    for name in cluster_roles:
        cluster.kubectl("delete", "clusterrole", name, check=False)


@contextmanager
def running_sides(
    clusters: Sequence[ClusterHandle],
    prefixes: Sequence[str],
    tmp: Path,
    extra_settings: dict[str, Any] | None = None,
) -> Iterator[tuple[str, list[Side]]]:
    """Start one side per cluster, named ``<prefix>-<suffix>``; clean up on exit.

    Yields the random suffix and the started sides, each with its key pair in place.
    """
    objects = chart_objects()
    roles, rules = chart_cluster_roles(objects), controller_manager_rules(objects)
    unique = {cluster.name: cluster for cluster in clusters}
    created = {name: install_prerequisites(cluster, roles) for name, cluster in unique.items()}
    suffix = secrets.token_hex(3)
    sides: list[Side] = []
    try:
        for cluster, prefix in zip(clusters, prefixes, strict=True):
            cluster_id = f"{prefix}-{suffix}"
            namespace = f"liqo-{prefix}-{suffix}"
            sides.append(
                make_side(cluster, cluster_id, namespace, rules, tmp, extra_settings=extra_settings)
            )
        for side in sides:
            side.start()
        for side in sides:
            wait_for(f"the key pair of {side.cluster_id}", side.private_key, timeout=120)
        yield suffix, sides
    finally:
        for side in sides:
            side.stop()
        for name, cluster in unique.items():
            cleanup_cluster(cluster, suffix, created[name])
