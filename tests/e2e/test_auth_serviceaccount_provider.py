"""The declarative handshake with ``authentication.identityProvider: serviceaccount-token``.

For API servers that sign no client certificates: the provider still verifies the
consumer's proof of identity, then issues a ServiceAccount token instead of signing the
CSR. The consumer's kubeconfig carries that token and can do exactly what
``remote-controlplane`` allows in its tenant namespace; the token appears in no log or
event; deleting the Tenant deletes the ServiceAccount (so the token stops working) and
the bindings. Everything is observed through the Kubernetes API.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e_support import wait_for
from flow_support import create, resource_slice, slice_kubeconfig_secret, slice_ready
from kubernetes import client
from liqo_sides import Side, running_sides
from peering_support import control_plane_secret, declarative_handshake

from liqo_core.testing.clusters import ClusterPool

pytestmark = pytest.mark.e2e

SETTINGS = {"authentication": {"identityProvider": "serviceaccount-token"}}


@pytest.fixture(scope="module")
def sides(
    kube_cluster_pool: ClusterPool, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Side, Side]]:
    clusters = kube_cluster_pool.get(2)
    tmp = tmp_path_factory.mktemp("auth-sa")
    prefixes = ["provider", "consumer"]
    with running_sides(clusters, prefixes, tmp, extra_settings=SETTINGS) as (_, (p, c)):
        yield p, c


def _as_consumer(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["kubectl", "--kubeconfig", str(kubeconfig), *args],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip


def _event_texts(side: Side, namespace: str) -> list[str]:
    return [f"{e.reason} {e.message}" for e in side.events(namespace)]


def test_a_token_kubeconfig_scoped_to_the_tenant_namespace(
    sides: tuple[Side, Side], tmp_path: Path
) -> None:
    p, c = sides
    handshake = declarative_handshake(p, c)
    tenant_ns, c_tenant_ns = handshake.provider_namespace, handshake.consumer_namespace

    # P: the Tenant carries a token, no certificate; it is kept for restarts.
    tenant = p.tenant(tenant_ns, c.cluster_id) or {}
    params = tenant["status"]["authParams"]
    token = params["token"]
    assert token and not params.get("signedCRT")
    stored = p.secret_data(tenant_ns, "liqo-remote-certificate") or {}
    assert stored.get("token") == token.encode() and "certificate" not in stored
    assert "TokenIssued" in [e.reason for e in p.events(tenant_ns, c.cluster_id)]

    # P: one labelled ServiceAccount, bound to remote-controlplane in the tenant namespace.
    account_name = f"liqo-{c.cluster_id}"
    account: Any = p.core.read_namespaced_service_account(account_name, tenant_ns)
    assert account.metadata.labels["liqo.io/remote-cluster-id"] == c.cluster_id
    assert account.metadata.labels["liqo.io/identity-type"] == "ControlPlane"
    rbac = client.RbacAuthorizationV1Api(p.api)
    selector = f"liqo.io/remote-cluster-id={c.cluster_id}"
    role_binding: Any
    [role_binding] = rbac.list_namespaced_role_binding(tenant_ns, label_selector=selector).items
    assert role_binding.role_ref.name == "liqo-remote-controlplane"
    subjects = [(s.kind, s.name, s.namespace) for s in role_binding.subjects]
    assert subjects == [("ServiceAccount", account_name, tenant_ns)]
    # The control plane is no member of the consumer's group: nothing cluster-wide for it.
    assert rbac.list_cluster_role_binding(label_selector=selector).items == []

    # C: a kubeconfig with the token and no client key.
    data = c.secret_data(c_tenant_ns, control_plane_secret(p)) or {}
    kubeconfig = tmp_path / "remote.kubeconfig"
    kubeconfig.write_bytes(data["kubeconfig"])
    [user] = yaml.safe_load(data["kubeconfig"])["users"]
    assert user["user"] == {"token": token}

    whoami = _as_consumer(
        kubeconfig, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"
    )
    assert whoami.returncode == 0, whoami.stderr
    assert whoami.stdout == f"system:serviceaccount:{tenant_ns}:{account_name}"
    allowed = _as_consumer(
        kubeconfig, "get", "resourceslices.authentication.liqo.io", "-n", tenant_ns
    )
    assert allowed.returncode == 0, allowed.stderr
    # Even as a ServiceAccount (no group liqo.io), the control plane cannot cordon a slice:
    # it is whoever the tenant's RoleBinding binds.
    cordoned = {
        "apiVersion": "authentication.liqo.io/v1beta1", "kind": "ResourceSlice",
        "metadata": {"name": "cordoned", "namespace": tenant_ns,
                     "annotations": {"liqo.io/cordon": "true"}},
        "spec": {},
    }  # fmt: skip
    refused = subprocess.run(
        ["kubectl", "--kubeconfig", str(kubeconfig), "create", "-f", "-"],
        input=json.dumps(cordoned), capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert refused.returncode != 0
    assert "metadata.annotations[liqo.io/cordon]" in refused.stderr, refused.stderr
    assert "control-plane identity may not add, change or remove it" in refused.stderr
    for denied in (
        _as_consumer(kubeconfig, "get", "secrets", "-n", tenant_ns),
        _as_consumer(kubeconfig, "get", "resourceslices.authentication.liqo.io", "-n", "default"),
        _as_consumer(kubeconfig, "get", "namespaces"),
    ):
        assert denied.returncode != 0
        assert "forbidden" in denied.stderr.lower(), denied.stderr

    # The token is in no log and no event, on either side.
    for side, namespace in ((p, tenant_ns), (c, c_tenant_ns)):
        assert token not in side.logs()
        assert not [text for text in _event_texts(side, namespace) if token in text]

    # A restarted provider (which restores a binding deleted meanwhile) reuses the stored
    # token and the ServiceAccount.
    p.stop()
    rbac.delete_namespaced_role_binding(role_binding.metadata.name, tenant_ns)
    p.start()
    wait_for(
        "the RoleBinding restored",
        lambda: rbac.list_namespaced_role_binding(tenant_ns, label_selector=selector).items,
    )
    again = (p.tenant(tenant_ns, c.cluster_id) or {})["status"]["authParams"]
    assert again["token"] == token
    same: Any = p.core.read_namespaced_service_account(account_name, tenant_ns)
    assert same.metadata.uid == account.metadata.uid

    # A ResourceSlice gets its own ServiceAccount token; as a member of the consumer's group
    # it is bound to virtual-kubelet-remote-clusterwide one by one, and unbound with it.
    create(c, "resourceslices", resource_slice(p, c, "sa-slice"))
    wait_for("the slice accepted with a kubeconfig", lambda: slice_ready(p, c, "sa-slice"), 90)
    slice_data = c.secret_data(c_tenant_ns, slice_kubeconfig_secret("sa-slice")) or {}
    [slice_user] = yaml.safe_load(slice_data["kubeconfig"])["users"]
    assert set(slice_user["user"]) == {"token"}
    slice_kubeconfig = tmp_path / "slice.kubeconfig"
    slice_kubeconfig.write_bytes(slice_data["kubeconfig"])
    slice_whoami = _as_consumer(
        slice_kubeconfig, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"
    )
    assert slice_whoami.returncode == 0, slice_whoami.stderr
    slice_account = slice_whoami.stdout.rsplit(":", 1)[-1]
    assert slice_whoami.stdout == f"system:serviceaccount:{tenant_ns}:{slice_account}"
    member: Any
    [member] = rbac.list_cluster_role_binding(label_selector=selector).items
    assert member.role_ref.name == "liqo-virtual-kubelet-remote-clusterwide"
    assert [(s.kind, s.name) for s in member.subjects] == [("ServiceAccount", slice_account)]
    c.custom.delete_namespaced_custom_object(
        "authentication.liqo.io", "v1beta1", c_tenant_ns, "resourceslices", "sa-slice"
    )
    wait_for(
        "the slice's ServiceAccount and binding gone",
        lambda: (
            not rbac.list_cluster_role_binding(label_selector=selector).items
            and not [
                a
                for a in p.core.list_namespaced_service_account(tenant_ns).items
                if a.metadata.name == slice_account
            ]
        ),
        60,
    )

    # Deleting the Tenant deletes the ServiceAccount (the token stops working) and bindings.
    p.kubectl("delete", "tenant", c.cluster_id, "-n", tenant_ns, "--wait=false")
    wait_for("the Tenant gone", lambda: p.tenant(tenant_ns, c.cluster_id) is None)
    accounts = p.core.list_namespaced_service_account(tenant_ns, label_selector=selector).items
    assert accounts == []
    assert rbac.list_namespaced_role_binding(tenant_ns, label_selector=selector).items == []
    assert p.secret_data(tenant_ns, "liqo-remote-certificate") is None
    refused = _as_consumer(
        kubeconfig, "get", "resourceslices.authentication.liqo.io", "-n", tenant_ns
    )
    assert refused.returncode != 0
    assert "must be logged in" in refused.stderr, refused.stderr  # 401: no such identity
