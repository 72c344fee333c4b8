"""Writes with Kubernetes semantics: the generic registry between handlers and the store.

Create, update, patch and delete go through the same steps as in kube-apiserver:
defaulting, mutating admission, metadata bookkeeping (name generation, uid,
resourceVersion, generation, managedFields), status-subresource rules, schema
validation of custom resources, validating admission, optimistic concurrency, finalizers
and graceful deletion. In-process controllers call it without an admission context.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from . import errors, meta
from .builtins import Strategy
from .conversion import SHARED_STORAGE, to_core_v1, to_events_v1
from .defaults import DEFAULTERS, ServiceAllocator
from .quota import QUOTA_KEY, check_pod, namespace_usage
from .registry import CustomVersion, TypeRegistry
from .selectors import SelectorError, validate_label_key, validate_label_value
from .store import Key, Store
from .types import JSON, AdmissionAttributes, APIError, ResourceType, UserInfo
from .validation import VALIDATORS, normalize_secret

SYSTEM_USER = UserInfo(name="system:apiserver", groups=("system:masters",))

_PATH_SEGMENT_NAMES = {
    ("rbac.authorization.k8s.io", "roles"),
    ("rbac.authorization.k8s.io", "rolebindings"),
    ("rbac.authorization.k8s.io", "clusterroles"),
    ("rbac.authorization.k8s.io", "clusterrolebindings"),
    ("certificates.k8s.io", "certificatesigningrequests"),
}
_DELETE_FINALIZERS = ("orphan", "foregroundDeletion")


class Admission(Protocol):
    """The admission chain (security's webhooks and built-in plugins)."""

    async def mutate(self, attrs: AdmissionAttributes, obj: JSON, old: JSON | None) -> JSON: ...

    async def validate(self, attrs: AdmissionAttributes, obj: JSON, old: JSON | None) -> None: ...


@dataclass(frozen=True)
class Context:
    """Who asks and how: None admission means an in-process controller (no admission)."""

    user: UserInfo = SYSTEM_USER
    admission: Admission | None = None
    field_manager: str = ""
    dry_run: bool = False
    field_validation: str = "Ignore"  # Ignore | Warn | Strict
    warnings: list[str] = field(default_factory=list)
    """Filled with ``Warning`` header texts (unknown fields under ``Warn``)."""


INTERNAL = Context(field_manager="kube-controller-manager")


@dataclass
class DeleteOptions:
    """The parts of ``DeleteOptions`` the emulator honours."""

    propagation: str | None = None  # Foreground | Background | Orphan
    grace_period: int | None = None
    uid: str | None = None
    resource_version: str | None = None

    @classmethod
    def from_body(cls, body: JSON | None, query: dict[str, str]) -> DeleteOptions:
        """Merge a DeleteOptions body with the equivalent query parameters."""
        body = body or {}
        pre = body.get("preconditions") or {}
        propagation = body.get("propagationPolicy") or query.get("propagationPolicy")
        orphan = body.get("orphanDependents")
        if orphan is None and "orphanDependents" in query:
            orphan = query["orphanDependents"] in ("1", "t", "T", "true", "TRUE", "True")
        if propagation is None and orphan is not None:
            propagation = "Orphan" if orphan else "Background"
        grace = body.get("gracePeriodSeconds")
        if grace is None and "gracePeriodSeconds" in query:
            grace = int(query["gracePeriodSeconds"])
        if propagation not in (None, "Foreground", "Background", "Orphan"):
            raise errors.bad_request(f"unsupported propagationPolicy {propagation!r}")
        return cls(propagation, grace, pre.get("uid"), pre.get("resourceVersion"))


def clone(obj: Any) -> Any:
    """Deep copy of a JSON value."""
    return orjson.loads(orjson.dumps(obj))


def _without(obj: JSON, *keys: str) -> JSON:
    return {k: v for k, v in obj.items() if k not in keys}


def _meta_sans_bookkeeping(obj: JSON) -> JSON:
    m = obj.get("metadata") or {}
    return _without(m, "resourceVersion", "generation")


Listener = Callable[[ResourceType, JSON], Awaitable[None]]


class Engine:
    """Create/update/patch/delete with Kubernetes semantics over one store."""

    def __init__(self, registry: TypeRegistry, store: Store) -> None:
        self.registry = registry
        self.store = store
        self.services = ServiceAllocator()

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
        out = dict(obj)
        out["apiVersion"] = rt.api_version
        return out

    def _storage_version(self, rt: ResourceType, obj: JSON) -> None:
        if (rt.group, rt.resource) == ("events.k8s.io", "events"):
            converted = to_core_v1(obj)
            obj.clear()
            obj.update(converted)
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

    def _attrs(
        self, ctx: Context, rt: ResourceType, op: str, ns: str, name: str, *, sub: str = ""
    ) -> AdmissionAttributes:
        return AdmissionAttributes(ctx.user, op, rt, sub, ns, name, ctx.dry_run)

    def _custom_version(self, rt: ResourceType) -> CustomVersion | None:
        info = self.registry.custom(rt.group, rt.resource)
        return info.versions.get(rt.version) if info else None

    def _schema(self, rt: ResourceType, obj: JSON, ctx: Context) -> tuple[JSON, list[str]]:
        """Prune and default a custom resource; returns it with the pruned field paths."""
        cv = self._custom_version(rt)
        if cv is None or cv.validator is None:
            return obj, []
        pruned = cv.validator.prune(clone(obj))
        dropped = _dropped_fields(obj, pruned, "")
        if dropped and ctx.field_validation == "Warn":
            ctx.warnings.extend(f'unknown field "{p}"' for p in dropped)
        if dropped and ctx.field_validation == "Strict":
            raise errors.bad_request(
                f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
                "strict decoding error: " + ", ".join(f'unknown field "{p}"' for p in dropped)
            )
        return cv.validator.apply_defaults(pruned), dropped

    def _check_namespace(self, rt: ResourceType, ns: str, name: str, creating: bool) -> None:
        if not rt.namespaced:
            return
        if not ns:
            raise errors.bad_request("the server could not find the requested resource")
        nsobj = self.store.get(("", "namespaces"), "", ns)
        if nsobj is None:
            raise errors.namespace_not_found(ns)
        if creating and nsobj["metadata"].get("deletionTimestamp"):
            err = errors.forbidden(
                rt,
                name,
                f"unable to create new content in namespace {ns} because it is being terminated",
            )
            assert err.details is not None
            err.details["causes"] = [
                {
                    "reason": "NamespaceTerminating",
                    "message": f"namespace {ns} is being terminated",
                    "field": "metadata.namespace",
                }
            ]
            raise err

    def _validate_meta(self, rt: ResourceType, obj: JSON, strategy: Strategy) -> None:
        m = obj["metadata"]
        name = m.get("name", "")
        causes: list[tuple[str, str, str]] = []
        if (rt.group, rt.resource) in _PATH_SEGMENT_NAMES:
            problems = meta.path_segment_problems(name)
        else:
            problems = meta.name_problems(name, strategy.name_is_label, strategy.name_is_dns1035)
        for p in problems:
            causes.append(
                (
                    "metadata.name",
                    "FieldValueInvalid",
                    f'metadata.name: Invalid value: "{name}": {p}',
                )
            )
        controllers = 0
        for ref in m.get("ownerReferences") or []:
            for key in ("apiVersion", "kind", "name", "uid"):
                if not ref.get(key):
                    fld = f"metadata.ownerReferences.{key}"
                    causes.append(
                        (
                            fld,
                            "FieldValueInvalid",
                            f'{fld}: Invalid value: "": {key} must not be empty',
                        )
                    )
            controllers += 1 if ref.get("controller") else 0
        if controllers > 1:
            causes.append(
                (
                    "metadata.ownerReferences",
                    "FieldValueInvalid",
                    "metadata.ownerReferences: Invalid value: []v1.OwnerReference{...}: Only one "
                    "reference can have Controller set to true",
                )
            )
        for k, v in (m.get("labels") or {}).items():
            try:
                validate_label_key(k)
                validate_label_value(str(v))
            except SelectorError as exc:
                causes.append(
                    (
                        "metadata.labels",
                        "FieldValueInvalid",
                        f'metadata.labels: Invalid value: "{v}": {exc}',
                    )
                )
        if causes:
            raise errors.invalid(rt, name, causes)

    def _validate_custom(self, rt: ResourceType, obj: JSON, old: JSON | None) -> None:
        cv = self._custom_version(rt)
        if cv is None or cv.validator is None:
            return
        problems = cv.validator.validate(obj, old)
        if problems:
            name = obj["metadata"].get("name", "")
            raise errors.invalid(
                rt,
                name,
                [
                    (str(p.path), str(getattr(p, "reason", "FieldValueInvalid")), str(p))
                    for p in problems
                ],
            )

    def _validate_builtin(
        self, rt: ResourceType, obj: JSON, old: JSON | None, subresource: str = ""
    ) -> None:
        check = VALIDATORS.get((rt.group, rt.resource))
        if check is not None and not subresource:
            found = check(obj, old)
            if found:
                raise errors.invalid(rt, obj["metadata"]["name"], found)
        if (rt.group, rt.resource) == ("apiextensions.k8s.io", "customresourcedefinitions"):
            from .crds import validate_crd

            causes = validate_crd(obj, old)
            if causes:
                raise errors.invalid(rt, obj["metadata"]["name"], causes)
        if (
            old is not None
            and old.get("immutable")
            and (rt.group, rt.resource)
            in (
                ("", "configmaps"),
                ("", "secrets"),
            )
        ):
            changed = [k for k in ("data", "binaryData", "immutable") if obj.get(k) != old.get(k)]
            if changed:
                fld = "immutable" if "immutable" in changed else "data"
                msg = "field is immutable when `immutable` is set"
                raise errors.invalid(
                    rt,
                    obj["metadata"]["name"],
                    [(fld, "FieldValueForbidden", f"{fld}: Forbidden: {msg}")],
                )

    def _prepare_status_on_create(self, rt: ResourceType, obj: JSON, strategy: Strategy) -> None:
        if "status" in rt.subresources and strategy.reset_status_on_create:
            custom = self.registry.custom(rt.group, rt.resource) is not None
            if custom:
                obj.pop("status", None)
            else:
                obj["status"] = {}

    # -- create ----------------------------------------------------------------------------

    async def create(self, rt: ResourceType, namespace: str, body: JSON, ctx: Context) -> JSON:
        """Create ``body`` (already decoded, owned by the engine) at ``rt``'s version."""
        obj = body
        if not isinstance(obj.get("metadata"), dict):
            obj["metadata"] = {}
        m = obj["metadata"]
        self._check_kind(rt, obj)
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
        self._check_namespace(rt, ns, m.get("name", ""), creating=True)
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
        self._prepare_status_on_create(rt, obj, strategy)
        # Defaults apply when decoding and again after mutating webhooks, as upstream.
        defaulter = DEFAULTERS.get((rt.group, rt.resource))
        obj, _ = self._schema(rt, obj, ctx)
        if defaulter is not None and m.get("name"):
            defaulter(obj)
        if ctx.admission is not None:
            attrs = self._attrs(ctx, rt, "CREATE", ns, m.get("name", ""))
            obj = await ctx.admission.mutate(attrs, obj, None)
            obj, _ = self._schema(rt, obj, ctx)
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
        self._validate_meta(rt, obj, strategy)
        self._validate_custom(rt, obj, None)
        self._validate_builtin(rt, obj, None)
        if ctx.admission is not None:
            attrs = self._attrs(ctx, rt, "CREATE", ns, m["name"])
            await ctx.admission.validate(attrs, obj, None)
        if (rt.group, rt.resource) == ("", "pods"):
            self._check_quota(rt, ns, obj)
        if self.store.get(self.key(rt), ns, m["name"]) is not None:
            raise errors.already_exists(rt, m["name"])
        if ctx.field_manager:
            _record_manager(None, obj, ctx.field_manager, "Update")
        self._storage_version(rt, obj)
        if ctx.dry_run:
            return self.at_version(rt, obj)
        if (rt.group, rt.resource) == ("", "services"):
            self.services.allocate(obj)
        stored = self.store.commit(self.key(rt), obj, None)
        return self.at_version(rt, stored)

    def _check_quota(self, rt: ResourceType, ns: str, pod: JSON) -> None:
        """The ResourceQuota admission plugin, for pods."""
        quotas = list(self.store.iter(QUOTA_KEY, ns))
        if not quotas:
            return
        try:
            used = namespace_usage(self.store.iter(("", "pods"), ns))
            problem = check_pod(pod, quotas, used)
        except ValueError as exc:
            raise errors.bad_request(str(exc)) from exc
        if problem:
            raise errors.forbidden(rt, pod["metadata"]["name"], problem)

    def _check_kind(self, rt: ResourceType, obj: JSON) -> None:
        api_version = obj.get("apiVersion") or rt.api_version
        kind = obj.get("kind") or rt.kind
        if kind != rt.kind or api_version != rt.api_version:
            group = rt.group
            if api_version.rpartition("/")[0] != group or kind != rt.kind:
                raise errors.bad_request(
                    f"the API version in the data ({api_version}) does not match the expected "
                    f"API version ({rt.api_version})"
                    if kind == rt.kind
                    else f'{kind} in version "{api_version.rpartition("/")[2]}" cannot be '
                    f'handled as a {rt.kind}: no kind "{kind}" is registered for version '
                    f'"{rt.api_version}"'
                )
        obj["apiVersion"] = rt.api_version
        obj["kind"] = rt.kind

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
        self._check_kind(rt, body)
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
            return await self.create(rt, ns, obj, _without_manager(ctx))
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
        use_ctx = _without_manager(ctx) if manager_recorded else ctx
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
        new = self._apply_subresource_rules(rt, live, new, subresource)
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
            nm["managedFields"] = _normalized_managed_fields(nm["managedFields"])
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
        new, _ = self._schema(rt, new, ctx)
        if ctx.admission is not None:
            attrs = self._attrs(ctx, rt, "UPDATE", ns, name, sub=subresource)
            new = await ctx.admission.mutate(attrs, new, live)
            new, _ = self._schema(rt, new, ctx)
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
        self._validate_meta(rt, new, strategy)
        self._validate_custom(rt, new, live)
        self._validate_builtin(rt, new, live, subresource)
        if ctx.admission is not None:
            attrs = self._attrs(ctx, rt, "UPDATE", ns, name, sub=subresource)
            await ctx.admission.validate(attrs, new, live)
        if ctx.field_manager:
            _record_manager(live, new, ctx.field_manager, op)
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
        if nm.get("deletionTimestamp") and not nm.get("finalizers") and not _ns_pending(rt, new):
            if _graceful_pending(rt, new):
                return self.at_version(rt, self.store.commit(key, new, current))
            stored = self.store.commit(key, new, current, deleted=True)
            self._released(rt, stored)
            return self.at_version(rt, stored)
        return self.at_version(rt, self.store.commit(key, new, current))

    def _apply_subresource_rules(
        self, rt: ResourceType, live: JSON, new: JSON, subresource: str
    ) -> JSON:
        has_status = "status" in rt.subresources
        custom = self.registry.custom(rt.group, rt.resource) is not None
        if subresource in ("status", "approval"):
            out = dict(live)
            out["metadata"] = dict(live["metadata"])
            if not custom:
                for k in ("labels", "annotations"):
                    if k in new["metadata"]:
                        out["metadata"][k] = new["metadata"][k]
                    else:
                        out["metadata"].pop(k, None)
            if "managedFields" in new["metadata"]:
                out["metadata"]["managedFields"] = new["metadata"]["managedFields"]
            out["metadata"]["resourceVersion"] = new["metadata"].get("resourceVersion")
            if subresource == "approval":
                status = dict(live.get("status") or {})
                status["conditions"] = (new.get("status") or {}).get("conditions") or []
                out["status"] = status
            elif "status" in new:
                out["status"] = new["status"]
            else:
                out.pop("status", None)
            return out
        if subresource == "binding":
            out = dict(live)
            out["spec"] = dict(live.get("spec") or {})
            out["spec"]["nodeName"] = (new.get("spec") or {}).get("nodeName")
            out["metadata"] = dict(live["metadata"])
            out["metadata"]["resourceVersion"] = new["metadata"].get("resourceVersion")
            return out
        if subresource == "finalize":
            out = dict(live)
            out["spec"] = dict(live.get("spec") or {})
            out["spec"]["finalizers"] = (new.get("spec") or {}).get("finalizers") or []
            out["metadata"] = dict(live["metadata"])
            out["metadata"]["resourceVersion"] = new["metadata"].get("resourceVersion")
            return out
        if subresource:
            raise errors.not_found_path()
        if has_status:
            new = dict(new)
            if "status" in live:
                new["status"] = live["status"]
            else:
                new.pop("status", None)
        if (rt.group, rt.resource) == ("", "services"):
            spec = new.get("spec")
            live_spec = live.get("spec") or {}
            if isinstance(spec, dict) and live_spec.get("clusterIP"):
                spec.setdefault("clusterIP", live_spec["clusterIP"])
                spec.setdefault("clusterIPs", live_spec.get("clusterIPs"))
        if (rt.group, rt.resource) == ("", "namespaces"):
            new = dict(new)
            new["spec"] = live.get("spec", {})
        return new

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
        ns = namespace if rt.namespaced else ""
        key = self.key(rt)
        live = self.store.get(key, ns, name)
        if live is None:
            raise errors.not_found(rt, name)
        lm = live["metadata"]
        if opts.uid and opts.uid != lm.get("uid"):
            raise errors.conflict(
                rt,
                name,
                f"Precondition failed: UID in precondition: {opts.uid}, UID in object meta: "
                f"{lm.get('uid')}",
            )
        if opts.resource_version and opts.resource_version != lm.get("resourceVersion"):
            raise errors.conflict(
                rt,
                name,
                f"Precondition failed: ResourceVersion in precondition: "
                f"{opts.resource_version}, ResourceVersion in object meta: "
                f"{lm.get('resourceVersion')}",
            )
        if ctx.admission is not None:
            attrs = self._attrs(ctx, rt, "DELETE", ns, name)
            await ctx.admission.validate(attrs, self.at_version(rt, live), None)
        if (rt.group, rt.resource) == ("", "namespaces"):
            return self._delete_namespace(rt, live, ctx), False
        if ctx.dry_run:
            return self.at_version(rt, live), False
        finalizers = list(lm.get("finalizers") or [])
        policy = opts.propagation
        if policy == "Foreground" and "foregroundDeletion" not in finalizers:
            finalizers = [f for f in finalizers if f != "orphan"] + ["foregroundDeletion"]
        elif policy == "Orphan" and "orphan" not in finalizers:
            finalizers = [f for f in finalizers if f != "foregroundDeletion"] + ["orphan"]
        elif policy == "Background":
            finalizers = [f for f in finalizers if f not in _DELETE_FINALIZERS]
        grace = self._grace_period(rt, live, opts)
        if grace is None and not finalizers:
            stored = self.store.commit(key, dict(live), live, deleted=True)
            self._released(rt, stored)
            return self.at_version(rt, stored), True
        new = dict(live)
        nm = new["metadata"] = dict(lm)
        nm["finalizers"] = finalizers
        if not finalizers:
            nm.pop("finalizers")
        if grace is not None:
            deadline = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=grace)
            current = nm.get("deletionTimestamp")
            stamp = deadline.strftime("%Y-%m-%dT%H:%M:%SZ")
            if not current or meta.parse_time(current) > deadline:
                nm["deletionTimestamp"] = stamp
                nm["deletionGracePeriodSeconds"] = grace
        elif not nm.get("deletionTimestamp"):
            nm["deletionTimestamp"] = meta.now()
            nm["deletionGracePeriodSeconds"] = 0
            if nm.get("generation"):
                nm["generation"] = int(nm["generation"]) + 1
        if new == live:
            return self.at_version(rt, live), False
        return self.at_version(rt, self.store.commit(key, new, live)), False

    def _grace_period(self, rt: ResourceType, live: JSON, opts: DeleteOptions) -> int | None:
        """Seconds of graceful deletion for a bound, running pod; None = no grace period."""
        if (rt.group, rt.resource) != ("", "pods"):
            return None
        spec = live.get("spec") or {}
        phase = (live.get("status") or {}).get("phase")
        if not spec.get("nodeName") or phase in ("Succeeded", "Failed"):
            return None
        grace = opts.grace_period
        if grace is None:
            grace = int(spec.get("terminationGracePeriodSeconds", 30))
        return grace if grace > 0 else None

    def _delete_namespace(self, rt: ResourceType, live: JSON, ctx: Context) -> JSON:
        lm = live["metadata"]
        if lm.get("deletionTimestamp"):
            raise errors.conflict(
                rt,
                lm["name"],
                "The system is ensuring all content is removed from this namespace.  Upon "
                "completion, this namespace will automatically be purged by the system.",
            )
        new = dict(live)
        new["metadata"] = dict(lm, deletionTimestamp=meta.now(), deletionGracePeriodSeconds=0)
        new["status"] = dict(live.get("status") or {}, phase="Terminating")
        if ctx.dry_run:
            return new
        return self.store.commit(self.key(rt), new, live)

    def _released(self, rt: ResourceType, obj: JSON) -> None:
        if (rt.group, rt.resource) == ("", "services"):
            self.services.release(obj)

    async def finalize_gone(self, rt: ResourceType, obj: JSON) -> None:
        """Delete for real an object whose deletion is complete (no finalizers, grace over)."""
        key = self.key(rt)
        m = obj["metadata"]
        live = self.store.get(key, m.get("namespace", ""), m["name"])
        if live is None or live["metadata"]["uid"] != m["uid"]:
            return
        stored = self.store.commit(key, dict(live), live, deleted=True)
        self._released(rt, stored)


_RETRIES = 5


class _Raced(APIError):
    """The object changed between read and commit (admission awaited in between)."""


def _ns_pending(rt: ResourceType, obj: JSON) -> bool:
    return (rt.group, rt.resource) == ("", "namespaces") and bool(
        (obj.get("spec") or {}).get("finalizers")
    )


def _graceful_pending(rt: ResourceType, obj: JSON) -> bool:
    if (rt.group, rt.resource) != ("", "pods"):
        return False
    stamp = obj["metadata"].get("deletionTimestamp")
    return bool(stamp) and meta.parse_time(stamp) > dt.datetime.now(dt.UTC)


def _without_manager(ctx: Context) -> Context:
    return Context(ctx.user, ctx.admission, "", ctx.dry_run, ctx.field_validation, ctx.warnings)


def _record_manager(old: JSON | None, new: JSON, manager: str, operation: str) -> None:
    from .patch import update_managed_fields

    update_managed_fields(old, new, manager, operation)


def _normalized_managed_fields(entries: Any) -> Any:
    """Managed-field entries with times in the server's format (clients re-encode them)."""
    if not isinstance(entries, list):
        return entries
    out = []
    for entry in entries:
        fixed = entry
        if isinstance(entry, dict) and isinstance(entry.get("time"), str):
            try:
                stamp = meta.parse_time(entry["time"]).astimezone(dt.UTC)
            except ValueError:
                pass
            else:
                fixed = dict(entry, time=stamp.strftime("%Y-%m-%dT%H:%M:%SZ"))
        out.append(fixed)
    return out


def _dropped_fields(before: Any, after: Any, path: str) -> list[str]:
    if not isinstance(before, dict):
        if isinstance(before, list) and isinstance(after, list):
            out: list[str] = []
            for i, (b, a) in enumerate(zip(before, after, strict=False)):
                out.extend(_dropped_fields(b, a, f"{path}[{i}]"))
            return out
        return []
    if not isinstance(after, dict):
        return []
    out = []
    for k, v in before.items():
        sub = f"{path}.{k}" if path else k
        if k not in after:
            out.append(sub)
        else:
            out.extend(_dropped_fields(v, after[k], sub))
    return out
