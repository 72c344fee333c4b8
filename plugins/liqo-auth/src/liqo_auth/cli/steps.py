"""The authentication module's part of ``liqoctl peer`` / ``unpeer`` (synchronous client).

- :class:`TenantNamespaces` (phase ``NAMESPACES``): tenant namespaces on both sides;
  dropped last by ``unpeer --delete-namespaces``, kept (and said so) by a plain ``unpeer``;
- :class:`Authentication` (phase ``AUTHENTICATION``): the handshake with both
  kubeconfigs: nonce on the provider, signed nonce and Tenant on the consumer, Tenant
  applied on the provider, ControlPlane Identity from the provider applied on the
  consumer, until the consumer's kubeconfig Secret exists; undone by deleting the
  Identity, the Tenant, the nonce Secrets and the consumer's Renews replicated to the
  provider;
- :class:`ResourceSliceRequest` (phase ``RESOURCES``): a ResourceSlice named after the
  provider, until the provider accepts it; undone with the consumer's VirtualNodes and
  ResourceSlices for that provider.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from liqo_auth import forge
from liqo_auth.names import (
    CONTROL_PLANE_IDENTITY_PREFIX,
    KUBECONFIG_KEY,
    KUBECONFIG_SECRET_PREFIX,
    NONCE_SECRET,
    SIGNED_NONCE_SECRET,
    tenant_namespace_selector,
)
from liqo_core.api.authentication_v1beta1 import GROUP, VERSION
from liqo_core.api.consts import (
    CREATE_VIRTUAL_NODE_ANNOTATION,
    REMOTE_CLUSTER_ID_LABEL,
    REPLICATION_DESTINATION_LABEL,
    REPLICATION_ORIGIN_LABEL,
    REPLICATION_REQUESTED_LABEL,
    REPLICATION_STATUS_LABEL,
    RESOURCE_SLICE_ACCEPTED,
    RESOURCE_SLICE_CONDITION_AUTHENTICATION,
    RESOURCE_SLICE_CONDITION_RESOURCES,
)
from liqo_core.peering import (
    SHARED_PROXY_URL,
    PeeringContext,
    PeeringError,
    PeeringPhase,
    PeeringStep,
    PeeringTimeout,
)

#: Condition the Tenant controller sets when it verifies (or refuses) a handshake.
HANDSHAKE_CONDITION = "HandshakeVerified"
OFFLOADING_GROUP = "offloading.liqo.io"
SLICE_CONDITIONS = (RESOURCE_SLICE_CONDITION_AUTHENTICATION, RESOURCE_SLICE_CONDITION_RESOURCES)


# --- small synchronous API helpers ---------------------------------------------------------


def _status(exc: BaseException) -> int | None:
    return getattr(exc, "status", None)


def _ignore_missing(call: Callable[[], Any]) -> None:
    """Call ``call``; a 404 (already gone) is fine."""
    try:
        call()
    except Exception as exc:
        if _status(exc) != 404:
            raise


def _custom(api_client: Any) -> Any:
    from kubernetes.client import CustomObjectsApi

    return CustomObjectsApi(api_client)


def _core(api_client: Any) -> Any:
    from kubernetes.client import CoreV1Api

    return CoreV1Api(api_client)


def get_object(
    api_client: Any, plural: str, namespace: str, name: str, group: str = GROUP
) -> dict[str, Any] | None:
    """A namespaced Liqo object, or None if it (or its kind) does not exist."""
    try:
        found: dict[str, Any] = _custom(api_client).get_namespaced_custom_object(
            group, VERSION, namespace, plural, name
        )
    except Exception as exc:
        if _status(exc) == 404:
            return None
        raise
    return found


def list_objects(
    api_client: Any, plural: str, selector: str = "", group: str = GROUP
) -> list[dict[str, Any]]:
    """Liqo objects of a kind in every namespace; empty if the kind is not installed."""
    try:
        found: dict[str, Any] = _custom(api_client).list_cluster_custom_object(
            group, VERSION, plural, label_selector=selector
        )
    except Exception as exc:
        if _status(exc) == 404:
            return []
        raise
    return list(found.get("items") or [])


def apply_object(api_client: Any, plural: str, body: dict[str, Any]) -> None:
    """Create ``body``; if it exists, merge its labels, annotations and spec into it."""
    meta = body["metadata"]
    custom = _custom(api_client)
    try:
        custom.create_namespaced_custom_object(GROUP, VERSION, meta["namespace"], plural, body)
    except Exception as exc:
        if _status(exc) != 409:
            raise
        patch = {
            "metadata": {k: meta[k] for k in ("labels", "annotations") if k in meta},
            "spec": body.get("spec") or {},
        }
        custom.patch_namespaced_custom_object(
            GROUP, VERSION, meta["namespace"], plural, meta["name"], patch
        )


def delete_object(
    api_client: Any, plural: str, namespace: str, name: str, group: str = GROUP
) -> None:
    """Delete a namespaced Liqo object; already gone is fine."""
    custom = _custom(api_client)
    _ignore_missing(
        lambda: custom.delete_namespaced_custom_object(group, VERSION, namespace, plural, name)
    )


def _delete_secret(api_client: Any, namespace: str, name: str) -> None:
    core = _core(api_client)
    _ignore_missing(lambda: core.delete_namespaced_secret(name, namespace))


def tenant_namespaces(api_client: Any, remote_cluster_id: str) -> list[str]:
    """Names of the tenant namespaces for a peer."""
    found = _core(api_client).list_namespace(
        label_selector=tenant_namespace_selector(remote_cluster_id)
    )
    return sorted(ns.metadata.name for ns in found.items)


def _forge(what: str, call: Callable[[], Any]) -> Any:
    """Run a :mod:`liqo_auth.forge` helper; its errors become peering errors."""
    try:
        return call()
    except forge.ForgeError as err:
        text = str(err)
        if text.startswith("timed out"):
            raise PeeringTimeout(f"{text} ({what})") from err
        raise PeeringError(text) from err


def _missing_crd(api_client: Any, plural: str, side: str) -> None:
    try:
        _custom(api_client).list_cluster_custom_object(GROUP, VERSION, plural, limit=1)
    except Exception as exc:
        if _status(exc) == 404:
            raise PeeringError(
                f"the {side} has no {plural}.{GROUP} CRD: is Liqo installed there?"
            ) from None
        raise


# --- steps ---------------------------------------------------------------------------------


class TenantNamespaces:
    """Tenant namespaces on both sides; ``unpeer --delete-namespaces`` drops them."""

    name = "tenant-namespaces"
    phase = PeeringPhase.NAMESPACES

    def validate(self, ctx: PeeringContext) -> None:
        """Nothing to check."""

    def run(self, ctx: PeeringContext) -> None:
        """Ensure the provider's namespace for the consumer and the consumer's for the provider."""
        forge.ensure_tenant_namespace(ctx.provider, ctx.consumer_id)
        forge.ensure_tenant_namespace(ctx.consumer, ctx.provider_id)

    def undo(self, ctx: PeeringContext) -> None:
        """With ``delete_namespaces``: the nonce Secrets, then the namespaces, until gone."""
        if not ctx.options.delete_namespaces:
            ctx.outcome = "kept (use --delete-namespaces to remove them)"
            return
        sides = ((ctx.provider, ctx.consumer_id, NONCE_SECRET, "provider"),
                 (ctx.consumer, ctx.provider_id, SIGNED_NONCE_SECRET, "consumer"))  # fmt: skip
        for api_client, peer, secret, side in sides:
            drop_tenant_namespaces(ctx, api_client, peer, secret, side)


def drop_tenant_namespaces(
    ctx: PeeringContext, api_client: Any, peer: str, secret: str, side: str
) -> None:
    """Delete the nonce Secret ``secret``, then every tenant namespace for ``peer``."""
    core = _core(api_client)
    for namespace in tenant_namespaces(api_client, peer):
        _ignore_missing(lambda: core.delete_namespaced_secret(secret, namespace))  # noqa: B023
        _ignore_missing(lambda: core.delete_namespace(namespace))  # noqa: B023

    def probe() -> tuple[bool, str]:
        left = tenant_namespaces(api_client, peer)
        return not left, f"still there: {', '.join(left)}"

    ctx.wait(f"the {side}'s tenant namespaces for {peer} to be deleted", probe)


def _tenant_detail(tenant: dict[str, Any] | None) -> str:
    """Why a Tenant has no credentials yet."""
    if tenant is None:
        return "the Tenant does not exist on the provider"
    conditions = (tenant.get("status") or {}).get("conditions") or []
    for condition in conditions:
        if condition.get("type") == HANDSHAKE_CONDITION and condition.get("status") == "False":
            reason = condition.get("reason") or "Refused"
            message = condition.get("message") or ""
            return f"{HANDSHAKE_CONDITION}=False, {reason}: {message}".rstrip(": ")
    return "the provider's Tenant controller has not issued credentials yet"


class Authentication:
    """The key-exchange handshake, driven with both kubeconfigs (upstream §3.3 steps 1-6)."""

    name = "authentication"
    phase = PeeringPhase.AUTHENTICATION

    def validate(self, ctx: PeeringContext) -> None:
        """Both sides have the CRDs; the consumer has its key pair."""
        _missing_crd(ctx.provider, "tenants", "provider")
        _missing_crd(ctx.consumer, "identities", "consumer")
        if forge.read_public_key(ctx.consumer, ctx.consumer_namespace) is None:
            raise PeeringError(
                f"the consumer has no key pair in {ctx.consumer_namespace}/authentication-keys:"
                " is the authentication module running there?"
            )

    def _provider_tenant(self, ctx: PeeringContext) -> dict[str, Any] | None:
        for namespace in tenant_namespaces(ctx.provider, ctx.consumer_id):
            found = get_object(ctx.provider, "tenants", namespace, ctx.consumer_id)
            if found is not None:
                return found
        return None

    def _kubeconfig(self, ctx: PeeringContext) -> bytes | None:
        name = f"{KUBECONFIG_SECRET_PREFIX}{CONTROL_PLANE_IDENTITY_PREFIX}{ctx.provider_id}"
        for namespace in tenant_namespaces(ctx.consumer, ctx.provider_id):
            try:
                secret = _core(ctx.consumer).read_namespaced_secret(name, namespace)
            except Exception as exc:
                if _status(exc) == 404:
                    continue
                raise
            if (secret.data or {}).get(KUBECONFIG_KEY):
                return bytes(secret.data[KUBECONFIG_KEY], "ascii")
        return None

    def _established(self, ctx: PeeringContext) -> bool:
        tenant = self._provider_tenant(ctx)
        params = ((tenant or {}).get("status") or {}).get("authParams") or {}
        issued = params.get("signedCRT") or params.get("token")  # certificate or token provider
        return bool(issued) and self._kubeconfig(ctx) is not None

    def run(self, ctx: PeeringContext) -> None:
        """Nonce → signed nonce → Tenant → credentials → Identity → kubeconfig Secret."""
        if self._established(ctx):
            ctx.report("already authenticated")
            return
        ctx.report("creating the nonce on the provider")
        nonce = _forge(
            "is the authentication module running on the provider?",
            lambda: forge.create_nonce(ctx.provider, ctx.consumer_id, ctx.remaining()),
        )
        provider_ns = forge.ensure_tenant_namespace(ctx.provider, ctx.consumer_id)
        ctx.report("signing the nonce on the consumer")
        tenant = _forge(
            "is the authentication module running on the consumer?",
            lambda: forge.tenant_for_provider(
                ctx.consumer,
                ctx.consumer_namespace,
                ctx.provider_id,
                consumer_id=ctx.consumer_id,
                nonce=nonce,
                remote_tenant_namespace=provider_ns,
                proxy_url=ctx.shared.get(SHARED_PROXY_URL),
                timeout=ctx.remaining(),
            ),
        )
        ctx.report("applying the Tenant on the provider")
        apply_object(ctx.provider, "tenants", tenant)

        def issued() -> tuple[dict[str, Any] | None, str]:
            found = get_object(ctx.provider, "tenants", provider_ns, ctx.consumer_id)
            status = (found or {}).get("status") or {}
            params = status.get("authParams") or {}
            issued = params.get("signedCRT") or params.get("token")
            done = issued and status.get("tenantNamespace")
            return (found if done else None), _tenant_detail(found)

        ctx.wait("the provider to issue the consumer's credentials", issued)
        identity = _forge(
            "the provider's Tenant",
            lambda: forge.identity_for_consumer(
                ctx.provider,
                ctx.provider_namespace,
                ctx.consumer_id,
                provider_id=ctx.provider_id,
                remote_tenant_namespace=forge.ensure_tenant_namespace(
                    ctx.consumer, ctx.provider_id
                ),
            ),
        )
        ctx.report("applying the Identity on the consumer")
        apply_object(ctx.consumer, "identities", identity)
        ctx.wait(
            "the consumer's kubeconfig Secret for the provider",
            lambda: (
                self._kubeconfig(ctx),
                "the consumer's Identity controller has not written it",
            ),
        )

    def undo(self, ctx: PeeringContext) -> None:
        """Delete the consumer's ControlPlane Identity and the provider's Tenant, until gone."""
        identity = f"{CONTROL_PLANE_IDENTITY_PREFIX}{ctx.provider_id}"
        consumer_namespaces = tenant_namespaces(ctx.consumer, ctx.provider_id)
        for namespace in consumer_namespaces:
            delete_object(ctx.consumer, "identities", namespace, identity)
            _delete_secret(ctx.consumer, namespace, SIGNED_NONCE_SECRET)
        provider_namespaces = tenant_namespaces(ctx.provider, ctx.consumer_id)
        for namespace in provider_namespaces:
            delete_object(ctx.provider, "tenants", namespace, ctx.consumer_id)
            _delete_secret(ctx.provider, namespace, NONCE_SECRET)

        def identities_left() -> list[str]:
            return [
                ns
                for ns in consumer_namespaces
                if get_object(ctx.consumer, "identities", ns, identity) is not None
            ]

        ctx.wait(
            "the consumer's Identity and kubeconfig Secret to be deleted",
            lambda: (
                not identities_left() and self._kubeconfig(ctx) is None,
                "Identity or kubeconfig Secret still present",
            ),
        )
        ctx.wait(
            "the provider's Tenant to be deleted (its finalizer revokes the credentials)",
            lambda: (
                self._provider_tenant(ctx) is None,
                "the provider's Tenant controller has not released it",
            ),
        )
        # The consumer's replicator stops with its kubeconfig Secret, before it could remove
        # the copy of the Identity's Renew: remove what it replicated here ourselves.
        replicated = f"{REPLICATION_STATUS_LABEL}=true,{REPLICATION_ORIGIN_LABEL}={ctx.consumer_id}"

        def renews_left() -> list[dict[str, Any]]:
            return [
                renew
                for renew in list_objects(ctx.provider, "renews", replicated)
                if renew["metadata"]["namespace"] in provider_namespaces
            ]

        for renew in renews_left():
            meta = renew["metadata"]
            delete_object(ctx.provider, "renews", meta["namespace"], meta["name"])
        ctx.wait(
            "the consumer's Renews replicated to the provider to be deleted",
            lambda: (
                not (left := renews_left()),
                f"still there: {', '.join(r['metadata']['name'] for r in left)}",
            ),
        )


def _slice_detail(found: dict[str, Any] | None) -> str:
    """What a ResourceSlice still lacks to be accepted."""
    if found is None:
        return "the ResourceSlice does not exist"
    conditions = {c.get("type"): c for c in (found.get("status") or {}).get("conditions") or []}
    missing: list[str] = []
    for kind in SLICE_CONDITIONS:
        condition = conditions.get(kind)
        if condition is None:
            missing.append(f"{kind}: no decision from the provider yet")
        elif condition.get("status") != RESOURCE_SLICE_ACCEPTED:
            reason = condition.get("reason") or condition.get("status")
            message = condition.get("message") or ""
            missing.append(f"{kind} {condition.get('status')}, {reason}: {message}".rstrip(": "))
    return "; ".join(missing)


def slice_accepted(found: dict[str, Any] | None) -> bool:
    """Whether both of a ResourceSlice's conditions are Accepted."""
    conditions = {
        c.get("type"): c for c in ((found or {}).get("status") or {}).get("conditions") or []
    }
    return all(
        (conditions.get(kind) or {}).get("status") == RESOURCE_SLICE_ACCEPTED
        for kind in SLICE_CONDITIONS
    )


def resource_slice(
    name: str,
    namespace: str,
    provider_id: str,
    *,
    slice_class: str = "",
    resources: dict[str, str] | None = None,
    create_virtual_node: bool = True,
) -> dict[str, Any]:
    """A ResourceSlice asking ``provider_id`` for ``resources`` (upstream §3.4 step 1)."""
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "labels": {
            REPLICATION_REQUESTED_LABEL: "true",
            REPLICATION_DESTINATION_LABEL: provider_id,
            REMOTE_CLUSTER_ID_LABEL: provider_id,
        },
    }
    if create_virtual_node:
        metadata["annotations"] = {CREATE_VIRTUAL_NODE_ANNOTATION: "true"}
    spec: dict[str, Any] = {"providerClusterID": provider_id}
    if slice_class:
        spec["class"] = slice_class
    if resources:
        spec["resources"] = dict(resources)
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "ResourceSlice", "metadata": metadata,
            "spec": spec}  # fmt: skip


def request_slice(api_client: Any, body: dict[str, Any]) -> None:
    """Create the ResourceSlice, or bring an existing one's labels/annotation/resources in line.

    :raises PeeringError: It exists with another class (the class is immutable).
    """
    meta = body["metadata"]
    existing = get_object(api_client, "resourceslices", meta["namespace"], meta["name"])
    if existing is None:
        apply_object(api_client, "resourceslices", body)
        return
    wanted = body["spec"].get("class") or ""
    current = (existing.get("spec") or {}).get("class") or ""
    if wanted != current:
        raise PeeringError(
            f"ResourceSlice {meta['namespace']}/{meta['name']} exists with class "
            f"{current or '(default)'!r}, not {wanted or '(default)'!r}: delete it first"
        )
    annotations: dict[str, Any] = {
        CREATE_VIRTUAL_NODE_ANNOTATION: (meta.get("annotations") or {}).get(
            CREATE_VIRTUAL_NODE_ANNOTATION
        )
    }
    patch: dict[str, Any] = {"metadata": {"labels": meta["labels"], "annotations": annotations}}
    if body["spec"].get("resources"):
        patch["spec"] = {"resources": body["spec"]["resources"]}
    _custom(api_client).patch_namespaced_custom_object(
        GROUP, VERSION, meta["namespace"], "resourceslices", meta["name"], patch
    )


def wait_slice_accepted(ctx: PeeringContext, namespace: str, name: str) -> dict[str, Any]:
    """Wait until the provider accepts the slice (Authentication and Resources)."""

    def probe() -> tuple[dict[str, Any] | None, str]:
        found = get_object(ctx.consumer, "resourceslices", namespace, name)
        return (found if slice_accepted(found) else None), _slice_detail(found)

    result: dict[str, Any] = ctx.wait(f"ResourceSlice {namespace}/{name} to be accepted", probe)
    return result


class ResourceSliceRequest:
    """A ResourceSlice named after the provider, until accepted (upstream §3.4)."""

    name = "resource-slice"
    phase = PeeringPhase.RESOURCES

    def validate(self, ctx: PeeringContext) -> None:
        """The consumer has the ResourceSlice CRD."""
        if ctx.options.create_resource_slice:
            _missing_crd(ctx.consumer, "resourceslices", "consumer")

    def run(self, ctx: PeeringContext) -> None:
        """Create (or align) the slice, then wait for both conditions to be Accepted."""
        if not ctx.options.create_resource_slice:
            ctx.report("no ResourceSlice asked for")
            return
        namespace = forge.ensure_tenant_namespace(ctx.consumer, ctx.provider_id)
        body = resource_slice(
            ctx.provider_id,
            namespace,
            ctx.provider_id,
            slice_class=ctx.options.resource_slice_class,
            resources=ctx.options.resources,
            create_virtual_node=ctx.options.create_virtual_node,
        )
        ctx.report(f"requesting ResourceSlice {namespace}/{ctx.provider_id}")
        request_slice(ctx.consumer, body)
        wait_slice_accepted(ctx, namespace, ctx.provider_id)

    def undo(self, ctx: PeeringContext) -> None:
        """Delete the consumer's VirtualNodes and ResourceSlices for the provider, until gone."""
        provider = ctx.provider_id

        def virtual_nodes() -> list[dict[str, Any]]:
            return [
                node
                for node in list_objects(ctx.consumer, "virtualnodes", group=OFFLOADING_GROUP)
                if (node.get("spec") or {}).get("clusterID") == provider
            ]

        def slices() -> list[dict[str, Any]]:
            return list_objects(
                ctx.consumer, "resourceslices", f"{REPLICATION_DESTINATION_LABEL}={provider}"
            )

        for plural, group, found in (
            ("virtualnodes", OFFLOADING_GROUP, virtual_nodes()),
            ("resourceslices", GROUP, slices()),
        ):
            for obj in found:
                meta = obj["metadata"]
                delete_object(ctx.consumer, plural, meta["namespace"], meta["name"], group)

        def names(objects: list[dict[str, Any]]) -> str:
            return ", ".join(f"{o['kind']} {o['metadata']['name']}" for o in objects)

        ctx.wait(
            "the consumer's VirtualNodes and ResourceSlices to be deleted",
            lambda: (
                not (left := virtual_nodes() + slices()),
                f"still there: {names(left)} (their copies on the provider must go first)",
            ),
        )


def peering_steps() -> list[PeeringStep]:
    """The module's steps, for :func:`liqo_core.hookspecs.liqo_peering_steps`."""
    return [TenantNamespaces(), Authentication(), ResourceSliceRequest()]
