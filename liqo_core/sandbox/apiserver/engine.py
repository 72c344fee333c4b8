"""Writes with Kubernetes semantics: the generic registry between handlers and the store.

Create, update, patch and delete go through the same steps as in kube-apiserver:
defaulting, mutating admission, metadata bookkeeping (name generation, uid,
resourceVersion, generation, managedFields), status-subresource rules, schema
validation of custom resources, validating admission, optimistic concurrency, finalizers
and graceful deletion. In-process controllers call it without an admission context.

The steps live next door: ``context.py`` (who writes), ``write_checks.py`` (kind,
namespace, pruning, validation, quota), ``subresources.py`` (what a subresource write may
change), ``deletion.py`` (DELETE and the end of a deletion) and ``patch/`` (managedFields).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from . import deletion, errors, meta
from .canonical import canonical_status
from .context import INTERNAL, Admission, Context, clone
from .conversion import SHARED_STORAGE, hpa_to_v1, hpa_to_v2, to_core_v1, to_events_v1
from .defaults import DEFAULTERS, ServiceAllocator
from .deletion import DeleteOptions
from .patch import normalized_managed_fields, update_managed_fields
from .registry import CustomVersion, TypeRegistry
from .store import Key, Store
from .subresources import apply_subresource_rules, reset_status_on_create
from .types import JSON, APIError, ResourceType
from .validation import normalize_secret
from .write_checks import (
    check_kind,
    check_namespace,
    check_quota,
    prune_and_default,
    validate,
)

__all__ = [
    "INTERNAL",
    "Admission",
    "Context",
    "DeleteOptions",
    "Engine",
    "clone",
]


def _without(obj: JSON, *keys: str) -> JSON:
    return {k: v for k, v in obj.items() if k not in keys}


def _meta_sans_bookkeeping(obj: JSON) -> JSON:
    m = obj.get("metadata") or {}
    return _without(m, "resourceVersion", "generation")


class Engine:
    """Create/update/patch/delete with Kubernetes semantics over one store."""

    def __init__(
        self, registry: TypeRegistry, store: Store, service_cidr: str = "10.96.0.0/12"
    ) -> None:
        self.registry = registry
        self.store = store
        self.services = ServiceAllocator(service_cidr)

    # -- helpers ---------------------------------------------------------------------------

    def key(self, rt: ResourceType) -> Key:
        """Store key of a resource type."""
        return SHARED_STORAGE.get((rt.group, rt.resource), (rt.group, rt.resource))

    def converts(self, rt: ResourceType) -> bool:
        """Whether objects read for ``rt`` may need converting from their stored form."""
        storage = self.registry.storage(*self.key(rt))
        return storage is None or storage.api_version != rt.api_version

    def at_version(self, rt: ResourceType, obj: JSON) -> JSON:
        """``obj`` as served at ``rt``'s version (conversion strategy None)."""
        if obj.get("apiVersion") == rt.api_version:
            return obj
        if (rt.group, rt.resource) == ("events.k8s.io", "events"):
            return to_events_v1(obj)
        if (rt.group, rt.resource) == ("autoscaling", "horizontalpodautoscalers"):
            served = hpa_to_v1(obj) if rt.version == "v1" else hpa_to_v2(obj)
            canonical_status(rt, served)
            return served
        out = dict(obj)
        out["apiVersion"] = rt.api_version
        return out

    def _storage_version(self, rt: ResourceType, obj: JSON) -> None:
        if (rt.group, rt.resource) == ("events.k8s.io", "events"):
            converted = to_core_v1(obj)
            obj.clear()
            obj.update(converted)
            return
        if (rt.group, rt.resource) == ("autoscaling", "horizontalpodautoscalers"):
            if rt.version == "v1":
                converted = hpa_to_v2(obj)
                obj.clear()
                obj.update(converted)
                canonical_status(self.registry.storage(rt.group, rt.resource) or rt, obj)
            obj["kind"] = rt.kind
            return
        storage = self.registry.storage(rt.group, rt.resource) or rt
        obj["apiVersion"] = storage.api_version
        obj["kind"] = rt.kind

    def get(self, rt: ResourceType, namespace: str, name: str) -> JSON:
        """The live object at ``rt``'s version, or 404."""
        obj = self.store.get(self.key(rt), namespace if rt.namespaced else "", name)
        if obj is None:
            raise errors.not_found(rt, name)
        return self.at_version(rt, obj)

    def _custom_version(self, rt: ResourceType) -> CustomVersion | None:
        info = self.registry.custom(rt.group, rt.resource)
        return info.versions.get(rt.version) if info else None

    # -- create ----------------------------------------------------------------------------

    async def create(self, rt: ResourceType, namespace: str, body: JSON, ctx: Context) -> JSON:
        """Create ``body`` (already decoded, owned by the engine) at ``rt``'s version."""
        obj = body
        if not isinstance(obj.get("metadata"), dict):
            obj["metadata"] = {}
        m = obj["metadata"]
        check_kind(rt, obj)
        if rt.namespaced:
            body_ns = m.get("namespace")
            if body_ns and namespace and body_ns != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent "
                    "on the request"
                )
            m["namespace"] = namespace or body_ns or ""
        else:
            m.pop("namespace", None)
        ns = m.get("namespace", "")
        if not m.get("name") and not m.get("generateName"):
            raise errors.invalid(
                rt,
                "",
                [
                    (
                        "metadata.name",
                        "FieldValueRequired",
                        "metadata.name: Required value: name or generateName is required",
                    )
                ],
            )
        check_namespace(self.store, rt, ns, m.get("name", ""), creating=True)
        info = self.registry.custom(rt.group, rt.resource)
        if info is not None:
            crd = self.store.get(
                ("apiextensions.k8s.io", "customresourcedefinitions"), "", info.crd_name
            )
            if crd is not None and crd["metadata"].get("deletionTimestamp"):
                raise errors.method_not_allowed(
                    "create not allowed while custom resource definition is terminating"
                )
        strategy = self.registry.strategy(rt)
        reset_status_on_create(rt, obj, strategy, custom=info is not None)
        # Defaults apply when decoding and again after mutating webhooks, as upstream.
        defaulter = DEFAULTERS.get((rt.group, rt.resource))
        obj, _ = prune_and_default(self._custom_version(rt), rt, obj, ctx)
        if defaulter is not None and m.get("name"):
            defaulter(obj)
        if ctx.admission is not None:
            attrs = ctx.attributes(rt, "CREATE", ns, m.get("name", ""))
            obj = await ctx.admission.mutate(attrs, obj, None)
            obj, _ = prune_and_default(self._custom_version(rt), rt, obj, ctx)
        m = obj["metadata"] = dict(obj["metadata"])
        if not m.get("name"):
            m["name"] = meta.generate_name(m["generateName"])
        if defaulter is not None:
            defaulter(obj)
        if (rt.group, rt.resource) == ("", "secrets"):
            normalize_secret(obj)
        for k in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"):
            m.pop(k, None)
        m["uid"] = str(uuid.uuid4())
        m["creationTimestamp"] = meta.now()
        if strategy.generation:
            m["generation"] = 1
        else:
            m.pop("generation", None)
        if (rt.group, rt.resource) == ("certificates.k8s.io", "certificatesigningrequests"):
            spec = obj.setdefault("spec", {})
            spec["username"] = ctx.user.name
            spec["groups"] = list(ctx.user.groups)
            if ctx.user.uid:
                spec["uid"] = ctx.user.uid
            if ctx.user.extra:
                spec["extra"] = {k: list(v) for k, v in ctx.user.extra.items()}
        if info is None:
            canonical_status(rt, obj)
        validate(rt, obj, None, strategy, self._custom_version(rt))
        if ctx.admission is not None:
            attrs = ctx.attributes(rt, "CREATE", ns, m["name"])
            await ctx.admission.validate(attrs, obj, None)
        if (rt.group, rt.resource) == ("", "pods"):
            check_quota(self.store, rt, ns, obj)
        if self.store.get(self.key(rt), ns, m["name"]) is not None:
            raise errors.already_exists(rt, m["name"])
        if ctx.field_manager:
            update_managed_fields(None, obj, ctx.field_manager, "Update")
        self._storage_version(rt, obj)
        if ctx.dry_run:
            return self.at_version(rt, obj)
        if (rt.group, rt.resource) == ("", "services"):
            self.services.allocate(obj)
        stored = self.store.commit(self.key(rt), obj, None)
        return self.at_version(rt, stored)

    # -- update ----------------------------------------------------------------------------

    async def update(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        body: JSON,
        ctx: Context,
        *,
        subresource: str = "",
    ) -> JSON:
        """PUT: replace the object (or one of its subresources)."""
        ns = namespace if rt.namespaced else ""
        live = self.store.get(self.key(rt), ns, name)
        if live is None:
            raise errors.not_found(rt, name)
        if not isinstance(body.get("metadata"), dict):
            body["metadata"] = {}
        bm = body["metadata"]
        if bm.get("name") and bm["name"] != name:
            raise errors.bad_request(
                f"the name of the object ({bm['name']}) does not match the name on the URL ({name})"
            )
        if rt.namespaced and bm.get("namespace") and bm["namespace"] != ns:
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on "
                "the request"
            )
        rv = bm.get("resourceVersion")
        check_kind(rt, body)
        for attempt in range(_RETRIES):
            if rv and rv != live["metadata"]["resourceVersion"]:
                raise errors.stale(rt, name)
            try:
                return await self._write(
                    rt, self.at_version(rt, live), clone(body), ctx, subresource=subresource
                )
            except _Raced:
                # Another write landed during admission: an unconditional update is
                # applied to the newer object, as the API server's GuaranteedUpdate does.
                fresh = self.store.get(self.key(rt), ns, name)
                if rv or fresh is None or attempt == _RETRIES - 1:
                    raise
                live = fresh
        raise AssertionError("unreachable")

    async def patch(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        apply: Callable[[JSON | None], JSON],
        ctx: Context,
        *,
        subresource: str = "",
        create_if_missing: bool = False,
        manager_recorded: bool = False,
    ) -> JSON:
        """PATCH: ``apply`` turns a copy of the live object (None if absent) into the new one.

        A patch that raced with another write is re-applied to the newer object (a patch
        naming a resourceVersion then fails with 409, as upstream).
        """
        for attempt in range(_RETRIES):
            try:
                return await self._patch_once(
                    rt,
                    namespace,
                    name,
                    apply,
                    ctx,
                    subresource=subresource,
                    create_if_missing=create_if_missing,
                    manager_recorded=manager_recorded,
                )
            except _Raced:
                if attempt == _RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    async def _patch_once(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        apply: Callable[[JSON | None], JSON],
        ctx: Context,
        *,
        subresource: str,
        create_if_missing: bool,
        manager_recorded: bool,
    ) -> JSON:
        ns = namespace if rt.namespaced else ""
        live = self.store.get(self.key(rt), ns, name)
        if live is None:
            if not create_if_missing or subresource:
                raise errors.not_found(rt, name)
            obj = apply(None)
            obj.setdefault("metadata", {})["name"] = name
            if rt.namespaced:
                obj["metadata"]["namespace"] = ns
            return await self.create(rt, ns, obj, ctx.without_manager())
        live_v = self.at_version(rt, live)
        new = apply(clone(live_v))
        if not isinstance(new.get("metadata"), dict):
            raise errors.bad_request("metadata must be an object")
        nm = new["metadata"]
        if nm.get("name", name) != name:
            raise errors.bad_request(
                f"the name of the object ({nm.get('name')}) does not match the name on the "
                f"URL ({name})"
            )
        rv = nm.get("resourceVersion")
        if rv and rv != live["metadata"]["resourceVersion"]:
            raise errors.stale(rt, name)
        if not nm.get("resourceVersion"):
            nm["resourceVersion"] = live["metadata"]["resourceVersion"]
        new["apiVersion"], new["kind"] = rt.api_version, rt.kind
        use_ctx = ctx.without_manager() if manager_recorded else ctx
        return await self._write(rt, live_v, new, use_ctx, subresource=subresource)

    async def _write(
        self,
        rt: ResourceType,
        live: JSON,
        new: JSON,
        ctx: Context,
        *,
        subresource: str,
        op: str = "Update",
    ) -> JSON:
        lm = live["metadata"]
        name, ns = lm["name"], lm.get("namespace", "")
        strategy = self.registry.strategy(rt)
        custom = self.registry.custom(rt.group, rt.resource) is not None
        new = apply_subresource_rules(rt, live, new, subresource, custom)
        if (rt.group, rt.resource) == ("", "secrets") and not subresource:
            normalize_secret(new)
        nm = new["metadata"] = dict(new["metadata"])
        for k in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
            if k in lm:
                nm[k] = lm[k]
            else:
                nm.pop(k, None)
        nm["name"] = name
        if rt.namespaced:
            nm["namespace"] = ns
        else:
            nm.pop("namespace", None)
        if "managedFields" not in nm and "managedFields" in lm:
            nm["managedFields"] = lm["managedFields"]
        elif nm.get("managedFields"):
            nm["managedFields"] = normalized_managed_fields(nm["managedFields"])
        if lm.get("deletionTimestamp"):
            added = set(nm.get("finalizers") or []) - set(lm.get("finalizers") or [])
            if added:
                fld = "metadata.finalizers"
                raise errors.invalid(
                    rt,
                    name,
                    [
                        (
                            fld,
                            "FieldValueForbidden",
                            f"{fld}: Forbidden: no new finalizers can be added if the object "
                            "is being deleted, found new finalizers "
                            + str(sorted(added)).replace("'", '"'),
                        )
                    ],
                )
        new, _ = prune_and_default(self._custom_version(rt), rt, new, ctx)
        if ctx.admission is not None:
            attrs = ctx.attributes(rt, "UPDATE", ns, name, sub=subresource)
            new = await ctx.admission.mutate(attrs, new, live)
            new, _ = prune_and_default(self._custom_version(rt), rt, new, ctx)
        nm = new["metadata"]
        custom = self.registry.custom(rt.group, rt.resource) is not None
        if strategy.generation:
            status_is_spec = custom and "status" not in rt.subresources
            ignored = ("metadata",) if status_is_spec else ("metadata", "status")
            gen = int(lm.get("generation") or 1)
            if _without(new, *ignored) != _without(live, *ignored):
                gen += 1
            nm["generation"] = gen
        else:
            nm.pop("generation", None)
        if not custom:
            canonical_status(rt, new)
        validate(rt, new, live, strategy, self._custom_version(rt), subresource=subresource)
        if ctx.admission is not None:
            attrs = ctx.attributes(rt, "UPDATE", ns, name, sub=subresource)
            await ctx.admission.validate(attrs, new, live)
        if ctx.field_manager:
            update_managed_fields(live, new, ctx.field_manager, op)
        if _without(new, "metadata") == _without(live, "metadata") and _meta_sans_bookkeeping(
            new
        ) == _meta_sans_bookkeeping(live):
            return live
        self._storage_version(rt, new)
        if ctx.dry_run:
            return self.at_version(rt, new)
        key = self.key(rt)
        current = self.store.get(key, ns, name)
        if current is None or current["metadata"]["resourceVersion"] != lm["resourceVersion"]:
            stale = errors.stale(rt, name)
            raise _Raced(stale.code, stale.reason, stale.message, stale.details)
        if deletion.completes(rt, new):
            stored = self.store.commit(key, new, current, deleted=True)
            deletion.release(self.services, rt, stored)
            return self.at_version(rt, stored)
        return self.at_version(rt, self.store.commit(key, new, current))

    # -- delete ----------------------------------------------------------------------------

    async def delete(
        self,
        rt: ResourceType,
        namespace: str,
        name: str,
        opts: DeleteOptions,
        ctx: Context,
    ) -> tuple[JSON, bool]:
        """DELETE; returns the final (or now terminating) object and whether it is gone."""
        return await deletion.delete(self, rt, namespace, name, opts=opts, ctx=ctx)

    async def finalize_gone(self, rt: ResourceType, obj: JSON) -> None:
        """Delete for real an object whose deletion is complete (no finalizers, grace over)."""
        await deletion.finalize_gone(self, rt, obj)


_RETRIES = 5


class _Raced(APIError):
    """The object changed between read and commit (admission awaited in between)."""
