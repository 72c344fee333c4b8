"""DELETE with Kubernetes semantics, and the end of a deletion.

Preconditions, validating admission, propagation policies (the ``orphan`` and
``foregroundDeletion`` finalizers the garbage collector honours), finalizers, graceful
deletion of bound pods and namespace termination. An object is gone once its last
finalizer is removed (see :func:`completes`) or, for a pod, when its grace period ends
(:func:`finalize_gone`, called by the collector).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import errors, meta
from .context import Context
from .defaults import ServiceAllocator
from .types import JSON, ResourceType

if TYPE_CHECKING:
    from .engine import Engine

_DELETE_FINALIZERS = ("orphan", "foregroundDeletion")


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


async def delete(
    engine: Engine,
    rt: ResourceType,
    namespace: str,
    name: str,
    *,
    opts: DeleteOptions,
    ctx: Context,
) -> tuple[JSON, bool]:
    """DELETE; returns the final (or now terminating) object and whether it is gone."""
    ns = namespace if rt.namespaced else ""
    key = engine.key(rt)
    live = engine.store.get(key, ns, name)
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
        attrs = ctx.attributes(rt, "DELETE", ns, name)
        await ctx.admission.validate(attrs, engine.at_version(rt, live), None)
    if (rt.group, rt.resource) == ("", "namespaces"):
        return _delete_namespace(engine, rt, live, ctx), False
    if ctx.dry_run:
        return engine.at_version(rt, live), False
    finalizers = list(lm.get("finalizers") or [])
    policy = opts.propagation
    if policy == "Foreground" and "foregroundDeletion" not in finalizers:
        finalizers = [f for f in finalizers if f != "orphan"] + ["foregroundDeletion"]
    elif policy == "Orphan" and "orphan" not in finalizers:
        finalizers = [f for f in finalizers if f != "foregroundDeletion"] + ["orphan"]
    elif policy == "Background":
        finalizers = [f for f in finalizers if f not in _DELETE_FINALIZERS]
    grace = _grace_period(rt, live, opts)
    if grace is None and not finalizers:
        stored = engine.store.commit(key, dict(live), live, deleted=True)
        release(engine.services, rt, stored)
        return engine.at_version(rt, stored), True
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
        return engine.at_version(rt, live), False
    return engine.at_version(rt, engine.store.commit(key, new, live)), False


def _grace_period(rt: ResourceType, live: JSON, opts: DeleteOptions) -> int | None:
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


def _delete_namespace(engine: Engine, rt: ResourceType, live: JSON, ctx: Context) -> JSON:
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
    return engine.store.commit(engine.key(rt), new, live)


def completes(rt: ResourceType, obj: JSON) -> bool:
    """Whether writing ``obj`` ends its deletion (no finalizers left, no grace period)."""
    m = obj["metadata"]
    return (
        bool(m.get("deletionTimestamp"))
        and not m.get("finalizers")
        and not _namespace_pending(rt, obj)
        and not _graceful_pending(rt, obj)
    )


def release(services: ServiceAllocator, rt: ResourceType, obj: JSON) -> None:
    """Free what a deleted object held (a service's cluster IPs)."""
    if (rt.group, rt.resource) == ("", "services"):
        services.release(obj)


async def finalize_gone(engine: Engine, rt: ResourceType, obj: JSON) -> None:
    """Delete for real an object whose deletion is complete (no finalizers, grace over)."""
    key = engine.key(rt)
    m = obj["metadata"]
    live = engine.store.get(key, m.get("namespace", ""), m["name"])
    if live is None or live["metadata"]["uid"] != m["uid"]:
        return
    stored = engine.store.commit(key, dict(live), live, deleted=True)
    release(engine.services, rt, stored)


def _namespace_pending(rt: ResourceType, obj: JSON) -> bool:
    return (rt.group, rt.resource) == ("", "namespaces") and bool(
        (obj.get("spec") or {}).get("finalizers")
    )


def _graceful_pending(rt: ResourceType, obj: JSON) -> bool:
    if (rt.group, rt.resource) != ("", "pods"):
        return False
    stamp = obj["metadata"].get("deletionTimestamp")
    return bool(stamp) and meta.parse_time(stamp) > dt.datetime.now(dt.UTC)
