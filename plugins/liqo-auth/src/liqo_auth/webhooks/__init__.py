"""The authentication module's admission webhooks (upstream's Tenant and ResourceSlice
webhooks, §3.3 and §3.4), served by the controller-manager's kopf operator.

With ``authentication.webhook.enabled`` a start-up handler gives the module's operator
its webhook server (:func:`liqo_core.webhooks.serve_webhooks`) and lets kopf keep
the Validating/MutatingWebhookConfiguration ``authentication.webhook.configuration`` up to
date (failure policy Fail, as upstream's). The webhooks are persistent: they stay
configured while the controller-manager is down or restarting, so the invariants never
lapse (writes of Tenants and ResourceSlices fail meanwhile, as with upstream's). The
handlers:

- ``tenant.mutate``: adds label ``liqo.io/remote-cluster-id`` = ``spec.clusterID``;
- ``tenant.validate``: one Tenant per tenant namespace, a name unique in the cluster, the
  Tenant in the tenant namespace of its cluster, label = ``spec.clusterID`` = namespace's
  cluster id; label and ``spec.clusterID`` immutable;
- ``resourceslice.validate``: a consumer's control-plane identity (group ``liqo.io``, or a
  subject of the control-plane RoleBinding of the namespace) may not add, change or
  remove ``liqo.io/cordon`` or ``liqo.io/cordon-tenant``; on slices that are not
  replicated copies, ``liqo.io/remote-cluster-id`` and the spec's cluster ids are
  immutable and no two slices of one name ask the same cluster.

The rules themselves are in :mod:`liqo_auth.webhooks.rules`.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import quote

import kopf

from liqo_auth.bindings import MANAGED_BY_TENANT_LABEL, role_bindings_path
from liqo_auth.kube import operator_api
from liqo_auth.names import tenant_namespace_selector
from liqo_auth.settings import auth_settings
from liqo_auth.webhooks import rules
from liqo_core import LiqoSettings
from liqo_core.api.authentication_v1beta1 import GROUP, VERSION
from liqo_core.api.consts import REMOTE_CLUSTER_ID_LABEL
from liqo_core.kube import JSONObject, Kube
from liqo_core.webhooks import serve_webhooks

#: HTTP status of refusals: 403 for what the requester may not do, 422 for invalid objects.
FORBIDDEN, INVALID = 403, 422
OPERATIONS: list[Literal["CREATE", "UPDATE"]] = ["CREATE", "UPDATE"]


def _refuse(kind: str, body: JSONObject, problems: list[str], code: int) -> None:
    if problems:
        meta = body.get("metadata") or {}
        name = f"{meta.get('namespace')}/{meta.get('name') or meta.get('generateName') or ''}"
        raise kopf.AdmissionError(f"{kind} {name}: {'; '.join(problems)}", code=code)


async def _control_plane_subjects(api: Kube, namespace: str) -> list[JSONObject]:
    """The subjects of the control-plane RoleBindings the Tenant controller made here."""
    bindings = await api.list_items(
        role_bindings_path(namespace), f"{MANAGED_BY_TENANT_LABEL}=true"
    )
    return [subject for binding in bindings for subject in binding.get("subjects") or []]


async def check_slice(
    api: Kube,
    operation: str,
    old: JSONObject | None,
    new: JSONObject,
    userinfo: dict[str, Any] | None,
) -> None:
    """Refuse (:class:`kopf.AdmissionError`) what :mod:`rules` forbids for this slice."""
    namespace = (new.get("metadata") or {}).get("namespace") or ""
    requester = rules.Requester.of(userinfo)
    touched = rules.cordon_changes(old, new)
    control_plane = bool(touched) and rules.is_control_plane(
        requester, await _control_plane_subjects(api, namespace)
    )
    _refuse("ResourceSlice", new, rules.slice_cordon_problems(old, new, control_plane), FORBIDDEN)
    if rules.is_replicated(new):
        return  # a peer's copy: its origin enforced the rest
    if operation == "UPDATE" and old is not None:
        _refuse("ResourceSlice", new, rules.slice_update_problems(old, new), INVALID)
    if operation == "CREATE":
        name = (new.get("metadata") or {}).get("name") or ""
        remote = rules.labels_of(new).get(REMOTE_CLUSTER_ID_LABEL)
        if name and remote:
            selector = f"{REMOTE_CLUSTER_ID_LABEL}={remote}"
            found = await api.list_items(f"/apis/{GROUP}/{VERSION}/resourceslices", selector)
            _refuse("ResourceSlice", new, rules.slice_duplicate_problems(new, found), INVALID)


async def check_tenant(api: Kube, operation: str, old: JSONObject | None, new: JSONObject) -> None:
    """Refuse (:class:`kopf.AdmissionError`) what :mod:`rules` forbids for this Tenant."""
    if operation == "UPDATE" and old is not None:
        _refuse("Tenant", new, rules.tenant_update_problems(old, new), INVALID)
        return
    meta = new.get("metadata") or {}
    namespace, name = meta.get("namespace") or "", meta.get("name") or ""
    cluster_id = str(rules.spec_of(new).get("clusterID") or "")
    labelled = (
        await api.list_items("/api/v1/namespaces", tenant_namespace_selector(cluster_id))
        if cluster_id
        else []
    )
    tenants = f"/apis/{GROUP}/{VERSION}"
    in_namespace = await api.list_items(f"{tenants}/namespaces/{quote(namespace)}/tenants")
    same_named = [
        t
        for t in await api.list_items(f"{tenants}/tenants")
        if (t.get("metadata") or {}).get("name") == name
    ]
    problems = rules.tenant_create_problems(
        new,
        await api.get(f"/api/v1/namespaces/{quote(namespace)}"),
        [ns["metadata"]["name"] for ns in labelled],
        in_namespace,
        same_named,
    )
    _refuse("Tenant", new, problems, INVALID)


def register(registry: kopf.OperatorRegistry, liqo_settings: LiqoSettings) -> None:
    """Register the webhooks and their server when ``authentication.webhook.enabled``."""
    config = auth_settings(liqo_settings).webhook
    if not serve_webhooks(registry, config, liqo_settings.namespace, module="authentication"):
        return

    @kopf.on.mutate(
        GROUP,
        VERSION,
        "tenants",
        registry=registry,
        id="tenant.mutate",
        operations=OPERATIONS,
        persistent=True,
    )
    def label_tenant(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
        labels = rules.tenant_label_patch(body)
        if labels:
            patch.setdefault("metadata", {}).setdefault("labels", {}).update(labels)

    @kopf.on.validate(
        GROUP,
        VERSION,
        "tenants",
        registry=registry,
        id="tenant.validate",
        operations=OPERATIONS,
        persistent=True,
    )
    async def validate_tenant(body: kopf.Body, memo: kopf.Memo, **kwargs: Any) -> None:
        async with operator_api(memo.kube_target) as api:
            await check_tenant(api, _operation(kwargs), _old(kwargs), dict(body))

    @kopf.on.validate(
        GROUP, VERSION, "resourceslices", registry=registry, id="resourceslice.validate",
        operations=OPERATIONS, persistent=True,
    )  # fmt: skip
    async def validate_slice(
        body: kopf.Body, userinfo: kopf.UserInfo, memo: kopf.Memo, **kwargs: Any
    ) -> None:
        async with operator_api(memo.kube_target) as api:
            await check_slice(api, _operation(kwargs), _old(kwargs), dict(body), dict(userinfo))


def _operation(kwargs: dict[str, Any]) -> str:
    """The admission request's operation (``CREATE``, ``UPDATE``)."""
    return str(kwargs.get("operation") or "")


def _old(kwargs: dict[str, Any]) -> JSONObject | None:
    """The object before an update, as a plain JSON object."""
    old = kwargs.get("old")
    return None if old is None else dict(old)
