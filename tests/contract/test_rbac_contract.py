"""Contract: RBAC decisions, 403 messages, kubectl auth can-i, aggregation, as on Kubernetes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from test_authn_helpers import (
    api_client,
    service_account_token,
    status_of,
    token_kubeconfig,
    wait_for,
)

from liqo_core.testing.clusters import ClusterHandle, unique_name

pytestmark = pytest.mark.contract
RBAC = "rbac.authorization.k8s.io"


def robot(cluster: ClusterHandle, namespace: str, tmp_path: Path) -> tuple[Path, str]:
    """(kubeconfig, user name) of a fresh ServiceAccount without permissions."""
    core: Any = client.CoreV1Api(cluster.shared_client())
    token = service_account_token(core, namespace, "robot")
    return (
        token_kubeconfig(tmp_path / "robot.yaml", cluster, token),
        f"system:serviceaccount:{namespace}:robot",
    )


def test_denied_requests_answer_403_with_kubernetes_message(
    kube_cluster: ClusterHandle, namespace: str, tmp_path: Path
) -> None:
    kubeconfig, user = robot(kube_cluster, namespace, tmp_path)
    core: Any = client.CoreV1Api(api_client(kubeconfig))
    with pytest.raises(client.ApiException) as err:
        core.list_namespaced_pod(namespace)
    assert err.value.status == 403
    status = status_of(err.value)
    assert status["reason"] == "Forbidden"
    assert status["message"] == (
        f'pods is forbidden: User "{user}" cannot list resource "pods" in API group "" '
        f'in the namespace "{namespace}"'
    )
    assert status["details"]["kind"] == "pods"
    with pytest.raises(client.ApiException) as err:
        core.list_node()
    assert status_of(err.value)["message"] == (
        f'nodes is forbidden: User "{user}" cannot list resource "nodes" in API group "" '
        "at the cluster scope"
    )
    with pytest.raises(client.ApiException) as err:
        core.read_namespaced_secret("s1", namespace)
    assert status_of(err.value)["message"] == (
        f'secrets "s1" is forbidden: User "{user}" cannot get resource "secrets" in API '
        f'group "" in the namespace "{namespace}"'
    )


def test_rolebinding_to_clusterrole_is_scoped_to_its_namespace(
    kube_cluster: ClusterHandle, namespace: str, tmp_path: Path
) -> None:
    kubeconfig, user = robot(kube_cluster, namespace, tmp_path)
    rbac: Any = client.RbacAuthorizationV1Api(kube_cluster.shared_client())
    rbac.create_namespaced_role_binding(
        namespace,
        {
            "metadata": {"name": "robot-view"},
            "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "ServiceAccount", "name": "robot", "namespace": namespace}],
        },
    )
    core: Any = client.CoreV1Api(api_client(kubeconfig))

    def can_list() -> bool:
        try:
            core.list_namespaced_config_map(namespace)
        except client.ApiException as exc:
            assert exc.status == 403
            return False
        return True

    wait_for(can_list, what="RoleBinding effective")
    with pytest.raises(client.ApiException) as err:
        core.list_namespaced_config_map("default")
    assert err.value.status == 403
    with pytest.raises(client.ApiException) as err:
        core.create_namespaced_config_map(namespace, {"metadata": {"name": "x"}})
    assert err.value.status == 403
    assert status_of(err.value)["message"] == (
        f'configmaps is forbidden: User "{user}" cannot create resource "configmaps" in API '
        f'group "" in the namespace "{namespace}"'
    )


def test_kubectl_auth_can_i(kube_cluster: ClusterHandle, namespace: str, tmp_path: Path) -> None:
    kubeconfig, _ = robot(kube_cluster, namespace, tmp_path)
    rbac: Any = client.RbacAuthorizationV1Api(kube_cluster.shared_client())
    rbac.create_namespaced_role(
        namespace,
        {
            "metadata": {"name": "pods-get"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
        },
    )
    rbac.create_namespaced_role_binding(
        namespace,
        {
            "metadata": {"name": "pods-get"},
            "roleRef": {"apiGroup": RBAC, "kind": "Role", "name": "pods-get"},
            "subjects": [{"kind": "ServiceAccount", "name": "robot", "namespace": namespace}],
        },
    )
    as_robot = ClusterHandle("robot", kubeconfig)

    def can(*args: str) -> str:
        proc = as_robot.kubectl("auth", "can-i", *args, "-n", namespace, check=False)
        assert proc.returncode in (0, 1), proc.stderr
        return proc.stdout.strip()

    wait_for(lambda: can("get", "pods") == "yes", what="can-i get pods")
    assert can("delete", "pods") == "no"
    assert can("get", "secrets") == "no"
    # The admin may do anything, and may ask on behalf of others (impersonation).
    admin = kube_cluster.kubectl("auth", "can-i", "delete", "nodes")
    assert admin.stdout.strip() == "yes"
    sa_user = f"system:serviceaccount:{namespace}:robot"
    for verb, expected in (("get", "yes"), ("delete", "no")):
        proc = kube_cluster.kubectl(
            "auth", "can-i", verb, "pods", "-n", namespace, "--as", sa_user, check=False
        )
        assert proc.stdout.strip() == expected, proc.stderr
    # The robot may not impersonate anyone.
    proc = as_robot.kubectl("get", "pods", "-n", namespace, "--as", "someone", check=False)
    assert proc.returncode != 0
    assert 'cannot impersonate resource "users"' in proc.stderr


def test_aggregated_cluster_roles_pick_up_labelled_rules(
    kube_cluster: ClusterHandle, namespace: str
) -> None:
    rbac: Any = client.RbacAuthorizationV1Api(kube_cluster.shared_client())
    group = f"{unique_name('agg')}.example.com"
    name = unique_name("widgets-view")
    rule = {"apiGroups": [group], "resources": ["widgets"], "verbs": ["get", "list"]}
    rbac.create_cluster_role(
        {
            "metadata": {
                "name": name,
                "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"},
            },
            "rules": [rule],
        }
    )
    try:

        def view_has_rule() -> bool:
            view = rbac.read_cluster_role("view")
            return any(r.api_groups == [group] for r in view.rules or [])

        wait_for(view_has_rule, what="aggregation into view")
        review: Any = client.AuthorizationV1Api(kube_cluster.shared_client())
        body = {
            "spec": {
                "user": "someone",
                "groups": ["g"],
                "resourceAttributes": {
                    "namespace": namespace,
                    "verb": "list",
                    "group": group,
                    "resource": "widgets",
                },
            }
        }
        assert not review.create_subject_access_review(body).status.allowed
        rbac.create_namespaced_role_binding(
            namespace,
            {
                "metadata": {"name": "someone-view"},
                "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "view"},
                "subjects": [{"kind": "User", "name": "someone", "apiGroup": RBAC}],
            },
        )
        wait_for(
            lambda: review.create_subject_access_review(body).status.allowed,
            what="SubjectAccessReview allowed",
        )
    finally:
        rbac.delete_cluster_role(name)


def test_roles_cannot_grant_permissions_not_held(
    kube_cluster: ClusterHandle, namespace: str, tmp_path: Path
) -> None:
    kubeconfig, user = robot(kube_cluster, namespace, tmp_path)
    rbac: Any = client.RbacAuthorizationV1Api(kube_cluster.shared_client())
    rbac.create_namespaced_role(namespace, {
        "metadata": {"name": "role-writer"},
        "rules": [{"apiGroups": [RBAC], "resources": ["roles"], "verbs": ["create"]},
                  {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}],
    })  # fmt: skip
    rbac.create_namespaced_role_binding(namespace, {
        "metadata": {"name": "role-writer"},
        "roleRef": {"apiGroup": RBAC, "kind": "Role", "name": "role-writer"},
        "subjects": [{"kind": "ServiceAccount", "name": "robot", "namespace": namespace}],
    })  # fmt: skip
    as_robot: Any = client.RbacAuthorizationV1Api(api_client(kubeconfig))

    def create(name: str, resource: str) -> client.ApiException | None:
        try:
            as_robot.create_namespaced_role(namespace, {"metadata": {"name": name}, "rules": [
                {"apiGroups": [""], "resources": [resource], "verbs": ["get"]}]})  # fmt: skip
        except client.ApiException as exc:
            return exc
        return None

    wait_for(lambda: create("cm-reader", "configmaps") is None, what="role creation allowed")
    err = create("secret-reader", "secrets")
    assert err is not None and err.status == 403
    message = status_of(err)["message"]
    assert message.startswith(
        f'roles.rbac.authorization.k8s.io "secret-reader" is forbidden: user "{user}" (groups=['
    )
    assert message.endswith(
        "is attempting to grant RBAC permissions not currently held:\n"
        '{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}'
    )
