"""The chart's controller-manager rules, exercised through the API of a real cluster.

A ServiceAccount holding exactly the rules the chart renders does what the authentication
module does: discover the consumer ClusterRoles by label, bind a consumer to them (and to
nothing else), mint ServiceAccount tokens and manage Quotas. With the module off, it can
do none of it.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml
from liqo_sides import (
    CHART_DIR,
    chart_cluster_roles,
    chart_objects,
    cleanup_cluster,
    controller_manager_rules,
    install_prerequisites,
    service_account_kubeconfig,
)

from liqo_core.testing.clusters import ClusterHandle

pytestmark = pytest.mark.e2e


@dataclass
class Manager:
    """A cluster seen through the controller-manager's ServiceAccount."""

    cluster: ClusterHandle
    namespace: str
    kubeconfig: Path
    suffix: str

    def kubectl(self, *args: str, input: str | None = None, check: bool = True) -> Any:
        return self.cluster.kubectl(
            "--kubeconfig", str(self.kubeconfig), *args, input=input, check=check
        )

    def can(self, verb: str, resource: str, *flags: str) -> bool:
        answer = self.kubectl("auth", "can-i", verb, resource, *flags, check=False).stdout
        answer = answer.strip()
        return bool(answer == "yes")


def _module_off_rules() -> list[dict[str, Any]]:
    """Rules without the module (nor offloading, which manages Quotas of its own)."""
    values = {"authentication": {"enabled": False}, "offloading": {"enabled": False}}
    with helm.Chart.load(CHART_DIR) as chart:
        rendered = chart.render(values, name="liqo", namespace="liqo")
    objects = [
        doc
        for path, text in rendered.items()
        if path.endswith(".yaml")
        for doc in yaml.safe_load_all(text)
        if doc
    ]
    return controller_manager_rules(objects)


@pytest.fixture(scope="module")
def managers(
    kube_cluster_pool: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Manager, Manager]]:
    [cluster] = kube_cluster_pool.get(1)
    tmp = tmp_path_factory.mktemp("rbac")
    objects = chart_objects()
    created = install_prerequisites(cluster, chart_cluster_roles(objects))
    suffix = secrets.token_hex(3)
    handles = []
    try:
        for name, rules in [
            ("on", controller_manager_rules(objects)),
            ("off", _module_off_rules()),
        ]:
            namespace = f"liqo-rbac-{name}-{suffix}"
            cluster.kubectl("create", "namespace", namespace)
            path = service_account_kubeconfig(cluster, namespace, rules, tmp / f"{name}.kcfg")
            handles.append(Manager(cluster, namespace, path, suffix))
        yield handles[0], handles[1]
    finally:
        cleanup_cluster(cluster, suffix, created)


def _binding(name: str, namespace: str, role: str) -> str:
    rbac = "rbac.authorization.k8s.io"
    return json.dumps(
        {
            "apiVersion": f"{rbac}/v1",
            "kind": "RoleBinding",
            "metadata": {"name": name, "namespace": namespace},
            "roleRef": {"apiGroup": rbac, "kind": "ClusterRole", "name": role},
            "subjects": [{"apiGroup": rbac, "kind": "User", "name": "consumer-a"}],
        }
    )


def test_discovers_the_consumer_roles_by_label(managers: tuple[Manager, Manager]) -> None:
    manager, _ = managers
    for label, name in [
        ("remote-controlplane", "liqo-remote-controlplane"),
        ("virtual-kubelet-remote-clusterwide", "liqo-virtual-kubelet-remote-clusterwide"),
    ]:
        found = manager.kubectl(
            "get", "clusterroles", "-l", f"app.kubernetes.io/name={label}", "-o", "name"
        ).stdout.split()
        assert found == [f"clusterrole.rbac.authorization.k8s.io/{name}"]


def test_binds_consumers_to_the_chart_roles_only(managers: tuple[Manager, Manager]) -> None:
    manager, _ = managers
    ns = manager.namespace
    manager.kubectl("create", "-f", "-", input=_binding("cp", ns, "liqo-remote-controlplane"))
    # A role granting what the controller-manager itself lacks cannot be bound.
    wider = f"liqo-rbac-wider-{manager.suffix}"
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": wider},
        "rules": [{"apiGroups": ["apps"], "resources": ["daemonsets"], "verbs": ["delete"]}],
    }
    manager.cluster.kubectl("create", "-f", "-", input=json.dumps(role))
    refused = manager.kubectl("create", "-f", "-", input=_binding("x", ns, wider), check=False)
    assert refused.returncode != 0
    assert "forbidden" in refused.stderr.lower()


def test_mints_service_account_tokens(managers: tuple[Manager, Manager]) -> None:
    manager, _ = managers
    manager.kubectl("create", "serviceaccount", "consumer-a", "-n", manager.namespace)
    token = manager.kubectl(
        "create", "token", "consumer-a", "-n", manager.namespace, "--duration=10m"
    ).stdout.strip()
    assert token.count(".") == 2  # a JWT
    manager.kubectl("delete", "serviceaccount", "consumer-a", "-n", manager.namespace)


def test_manages_quotas(managers: tuple[Manager, Manager]) -> None:
    manager, _ = managers
    quota = {
        "apiVersion": "offloading.liqo.io/v1beta1",
        "kind": "Quota",
        "metadata": {"name": "slice-a", "namespace": manager.namespace},
        "spec": {"user": "slice-a-0011", "limitsEnforcement": "Hard", "resources": {"cpu": "2"}},
    }
    manager.kubectl("create", "-f", "-", input=json.dumps(quota))
    patch = '{"spec": {"cordoned": true}}'
    manager.kubectl(
        "patch", "quotas.offloading.liqo.io", "slice-a", "-n", manager.namespace,
        "--type=merge", "-p", patch,
    )  # fmt: skip
    manager.kubectl("delete", "quotas.offloading.liqo.io", "slice-a", "-n", manager.namespace)


def test_module_off_grants_none_of_it(managers: tuple[Manager, Manager]) -> None:
    manager, off = managers
    checks = [
        ("list", "clusterroles"),
        ("create", "serviceaccounts", "--subresource=token"),
        ("create", "quotas.offloading.liqo.io"),
        ("create", "tenants.authentication.liqo.io"),
        ("create", "certificatesigningrequests.certificates.k8s.io"),
    ]
    for check in checks:
        assert manager.can(*check), check
        assert not off.can(*check), check
