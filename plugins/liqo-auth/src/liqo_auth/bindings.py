"""RBAC the Tenant and ResourceSlice controllers grant consumers on this provider.

The ``remote-controlplane`` ClusterRole is bound (RoleBinding, tenant namespace) to a
consumer's control-plane credential, and ``virtual-kubelet-remote-clusterwide``
(ClusterRoleBinding) to the consumer's group. Roles are found by their
``app.kubernetes.io/name`` label; subjects come from the identity provider. Every binding
is labelled with the consumer's cluster id and :data:`MANAGED_BY_TENANT_LABEL`, so they
can be found and removed together.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import quote

from liqo_auth.names import REMOTE_CONTROLPLANE_ROLE, VIRTUAL_KUBELET_CLUSTERWIDE_ROLE
from liqo_auth.reconcile import Requeue
from liqo_core.api.consts import K8S_APP_NAME_LABEL, REMOTE_CLUSTER_ID_LABEL
from liqo_core.identity import CredentialRequest, IdentityProvider
from liqo_core.kube import JSONObject, Kube, api_status

#: Label marking the bindings the authentication module created for a consumer.
MANAGED_BY_TENANT_LABEL = "tenant.liqo.io/managed"

CLUSTER_ROLES_PATH = "/apis/rbac.authorization.k8s.io/v1/clusterroles"
CLUSTER_ROLE_BINDINGS_PATH = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"


def role_bindings_path(namespace: str, name: str | None = None) -> str:
    """REST path of the RoleBindings of ``namespace`` (or of one)."""
    base = f"/apis/rbac.authorization.k8s.io/v1/namespaces/{quote(namespace)}/rolebindings"
    return f"{base}/{quote(name)}" if name else base


def managed_selector(consumer: str) -> str:
    """Label selector of the bindings made for ``consumer``."""
    return f"{REMOTE_CLUSTER_ID_LABEL}={consumer},{MANAGED_BY_TENANT_LABEL}=true"


async def cluster_role(api: Kube, app_name: str) -> str:
    """The ClusterRole labelled ``app.kubernetes.io/name=<app_name>``.

    Without the right to list ClusterRoles (an installation with narrower RBAC than the
    chart's), the chart's name ``liqo-<app_name>`` is assumed.
    """
    try:
        roles = await api.list_items(CLUSTER_ROLES_PATH, f"{K8S_APP_NAME_LABEL}={app_name}")
    except Exception as exc:
        if api_status(exc) != 403:
            raise
        return f"liqo-{app_name}"
    if not roles:
        raise Requeue(f"no ClusterRole labelled {K8S_APP_NAME_LABEL}={app_name}")
    return str(sorted(role["metadata"]["name"] for role in roles)[0])


def _binding(
    kind: str, name: str, role: str, subjects: list[JSONObject], consumer: str
) -> JSONObject:
    """A (Cluster)RoleBinding of ``role`` to ``subjects``, labelled for ``consumer``."""
    rbac = "rbac.authorization.k8s.io"
    return {
        "apiVersion": f"{rbac}/v1",
        "kind": kind,
        "metadata": {
            "name": name,
            "labels": {REMOTE_CLUSTER_ID_LABEL: consumer, MANAGED_BY_TENANT_LABEL: "true"},
        },
        "roleRef": {"apiGroup": rbac, "kind": "ClusterRole", "name": role},
        "subjects": subjects,
    }


async def _apply(api: Kube, collection: str, body: JSONObject) -> None:
    name = body["metadata"]["name"]
    existing = await api.get(f"{collection}/{quote(name)}")
    if existing is None:
        if await api.create(collection, body) is not None:
            return
        existing = await api.get(f"{collection}/{quote(name)}")
    if existing is not None and (
        existing.get("roleRef") != body["roleRef"] or existing.get("subjects") != body["subjects"]
    ):
        await api.delete(f"{collection}/{quote(name)}")  # roleRef is immutable
        await api.create(collection, body)


async def bind_consumer(
    api: Kube, provider: IdentityProvider, request: CredentialRequest, *, control_plane: bool
) -> None:
    """Bind ``request``'s credential to what upstream grants it, through ``provider.subjects``.

    ``control_plane``: RoleBinding of ``remote-controlplane`` (tenant namespace) to the
    control-plane credential. Then ``virtual-kubelet-remote-clusterwide`` goes to the
    consumer's group: one ClusterRoleBinding ``<role>-<consumer>`` to Group ``<consumer>``
    when the provider's credentials carry groups (certificates' O); otherwise (tokens) the
    group's members, the credentials requested with ``groups=(<consumer>,)``, are bound one
    by one (``<role>-<consumer>-<name>``) when their issuer calls this for them.
    """
    consumer = request.consumer_cluster_id
    if control_plane:
        role = await cluster_role(api, REMOTE_CONTROLPLANE_ROLE)
        binding = _binding("RoleBinding", role, role, provider.subjects(request), consumer)
        binding["metadata"]["namespace"] = request.tenant_namespace
        await _apply(api, role_bindings_path(request.tenant_namespace), binding)
    as_member = provider.subjects(replace(request, groups=(consumer,)))
    group = [subject for subject in as_member if subject.get("kind") == "Group"]
    role = await cluster_role(api, VIRTUAL_KUBELET_CLUSTERWIDE_ROLE)
    if group:
        binding = _binding("ClusterRoleBinding", f"{role}-{consumer}", role, group, consumer)
    elif consumer in request.groups:
        name = f"{role}-{consumer}-{request.name}"
        binding = _binding("ClusterRoleBinding", name, role, provider.subjects(request), consumer)
    else:
        return
    await _apply(api, CLUSTER_ROLE_BINDINGS_PATH, binding)


async def unbind_member(api: Kube, request: CredentialRequest) -> None:
    """Remove the per-credential ClusterRoleBinding :func:`bind_consumer` made for a member
    of the consumer's group (token providers), if any."""
    role = await cluster_role(api, VIRTUAL_KUBELET_CLUSTERWIDE_ROLE)
    name = f"{role}-{request.consumer_cluster_id}-{request.name}"
    await api.delete(f"{CLUSTER_ROLE_BINDINGS_PATH}/{quote(name)}")


async def unbind_all(api: Kube, consumer: str, namespace: str) -> None:
    """Remove every binding made for ``consumer`` (cluster-wide and in ``namespace``)."""
    selector = managed_selector(consumer)
    for binding in await api.list_items(CLUSTER_ROLE_BINDINGS_PATH, selector):
        await api.delete(f"{CLUSTER_ROLE_BINDINGS_PATH}/{quote(binding['metadata']['name'])}")
    for binding in await api.list_items(role_bindings_path(namespace), selector):
        await api.delete(role_bindings_path(namespace, binding["metadata"]["name"]))
