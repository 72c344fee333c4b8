"""kube-controller-manager's cleanup loops: garbage collector, namespace lifecycle, pod GC.

- Garbage collector: dependents whose owners are all gone are deleted; references to gone
  owners are dropped when a live owner remains; owners deleted with ``Orphan`` get their
  dependents' references removed; owners deleted with ``Foreground`` wait until their
  ``blockOwnerDeletion`` dependents are gone.
- Namespace controller: a Terminating namespace has all its content deleted, then its
  ``kubernetes`` finalizer removed.
- Pod GC: a pod whose graceful deletion period has elapsed is removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging

from . import meta
from .engine import INTERNAL, DeleteOptions, Engine, clone
from .quota import QUOTA_KEY, namespace_usage, quota_status
from .store import Key, StoreEvent
from .types import JSON, APIError, ResourceType

log = logging.getLogger(__name__)

NS_KEY: Key = ("", "namespaces")
POD_KEY: Key = ("", "pods")


def _owner_uids(obj: JSON | None) -> set[str]:
    if obj is None:
        return set()
    return {r.get("uid", "") for r in obj["metadata"].get("ownerReferences") or []}


def _resolves(owner: JSON, ref: JSON, namespace: str) -> bool:
    """Whether ``ref`` (from a dependent in ``namespace``) names ``owner``: owners are
    looked up by name in the dependent's namespace (or cluster-wide), as upstream's GC."""
    om = owner["metadata"]
    owner_ns = om.get("namespace", "")
    return om.get("name") == ref.get("name") and (not owner_ns or owner_ns == namespace)


def _loc(key: Key, obj: JSON) -> tuple[Key, str, str]:
    m = obj["metadata"]
    return (key, m.get("namespace", ""), m["name"])


class Collector:
    """Garbage collector, namespace controller and pod GC over one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.store = engine.store
        self._dependents: dict[str, set[tuple[Key, str, str]]] = {}
        self._check: set[tuple[Key, str, str]] = set()
        self._owners: set[tuple[Key, str, str]] = set()
        self._namespaces: set[str] = set()
        self._terminating_pods: set[tuple[Key, str, str]] = set()
        self._quota_namespaces: set[str] = set()
        self._wake = asyncio.Event()
        self.store.add_listener(self._on_event)

    # -- event intake (synchronous, called on every commit) ---------------------------------

    def _on_event(self, key: Key, event: StoreEvent) -> None:
        obj, old = event.obj, event.old
        loc = _loc(key, obj)
        m = obj["metadata"]
        new_owners = set() if event.type == "DELETED" else _owner_uids(obj)
        for uid in _owner_uids(old) | _owner_uids(obj):
            deps = self._dependents.get(uid)
            if uid in new_owners:
                self._dependents.setdefault(uid, set()).add(loc)
            elif deps is not None:
                deps.discard(loc)
                if not deps:
                    del self._dependents[uid]
        if new_owners:
            self._check.add(loc)
        uid = m.get("uid", "")
        if event.type == "DELETED" or m.get("deletionTimestamp"):
            self._check.update(self._dependents.get(uid, ()))
            for owner_uid in _owner_uids(obj):
                owner = self.store.by_uid(owner_uid)
                if owner is not None:
                    self._owners.add(_loc(*owner))
        if event.type != "DELETED" and m.get("deletionTimestamp"):
            finalizers = m.get("finalizers") or []
            if "orphan" in finalizers or "foregroundDeletion" in finalizers:
                self._owners.add(loc)
        if key in (POD_KEY, QUOTA_KEY):
            self._quota_namespaces.add(m.get("namespace", ""))
        if key == POD_KEY:
            if event.type != "DELETED" and m.get("deletionTimestamp"):
                self._terminating_pods.add(loc)
            else:
                self._terminating_pods.discard(loc)
        ns = m.get("namespace", "")
        if key == NS_KEY and event.type != "DELETED" and m.get("deletionTimestamp"):
            self._namespaces.add(m["name"])
        elif ns and event.type == "DELETED":
            nsobj = self.store.get(NS_KEY, "", ns)
            if nsobj is not None and nsobj["metadata"].get("deletionTimestamp"):
                self._namespaces.add(ns)
        self._wake.set()

    # -- loop -------------------------------------------------------------------------------

    async def run(self) -> None:
        """Process queued work until cancelled; also sweeps elapsed graceful deletions."""
        loop = asyncio.get_running_loop()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=1.0)
            self._wake.clear()
            try:
                await self._round()
            except Exception:
                log.exception("garbage collector round failed; retrying")
                loop.call_later(0.2, self._wake.set)

    async def _round(self) -> None:
        checks, self._check = self._check, set()
        owners, self._owners = self._owners, set()
        namespaces, self._namespaces = self._namespaces, set()
        for loc in sorted(checks):
            await self._guard(self._check_dependent(*loc), lambda loc=loc: self._check.add(loc))
        for loc in sorted(owners):
            await self._guard(self._process_owner(*loc), lambda loc=loc: self._owners.add(loc))
        for ns in sorted(namespaces):
            await self._guard(self._process_namespace(ns), lambda ns=ns: self._namespaces.add(ns))
        await self._expire_pods()
        quota_namespaces, self._quota_namespaces = self._quota_namespaces, set()
        for ns in sorted(quota_namespaces):
            await self._guard(self._update_quotas(ns), lambda ns=ns: self._quota_namespaces.add(ns))

    async def _guard(self, work: object, retry: object) -> None:
        assert asyncio.iscoroutine(work)
        try:
            await work
        except APIError as exc:
            if exc.code != 404:
                log.debug("gc: %s; retrying", exc.message)
                retry()  # type: ignore[operator]
                asyncio.get_running_loop().call_later(0.2, self._wake.set)

    def _rt(self, key: Key) -> ResourceType | None:
        return self.engine.registry.storage(*key)

    async def _check_dependent(self, key: Key, ns: str, name: str) -> None:
        obj = self.store.get(key, ns, name)
        rt = self._rt(key)
        if obj is None or rt is None:
            return
        refs = obj["metadata"].get("ownerReferences") or []
        if not refs:
            return
        solid, dangling, waiting = [], [], []
        for ref in refs:
            found = self.store.by_uid(ref.get("uid", ""))
            if found is not None and not _resolves(found[1], ref, ns):
                found = None
            if found is None:
                if self._owner_unresolvable(ref):
                    continue
                dangling.append(ref)
                continue
            owner = found[1]
            om = owner["metadata"]
            if om.get("deletionTimestamp") and "foregroundDeletion" in (om.get("finalizers") or []):
                waiting.append(ref)
            else:
                solid.append(ref)
        if solid:
            gone = {r.get("uid") for r in dangling + waiting}
            if not gone:
                return
            new = clone(obj)
            new["metadata"]["ownerReferences"] = [r for r in refs if r.get("uid") not in gone]
            await self.engine.update(rt, ns, name, new, INTERNAL)
            return
        if not dangling and not waiting:
            return
        if obj["metadata"].get("deletionTimestamp"):
            return
        finalizers = obj["metadata"].get("finalizers") or []
        if waiting and self._dependents.get(obj["metadata"]["uid"]):
            policy = "Foreground"
        elif "orphan" in finalizers:
            policy = "Orphan"
        elif "foregroundDeletion" in finalizers:
            policy = "Foreground"
        else:
            policy = "Background"
        await self.engine.delete(rt, ns, name, DeleteOptions(propagation=policy), INTERNAL)

    def _owner_unresolvable(self, ref: JSON) -> bool:
        """A reference to a kind the server does not serve is left alone (as Kubernetes)."""
        return self.engine.registry.by_kind(ref.get("apiVersion", ""), ref.get("kind", "")) is None

    async def _process_owner(self, key: Key, ns: str, name: str) -> None:
        owner = self.store.get(key, ns, name)
        rt = self._rt(key)
        if owner is None or rt is None or not owner["metadata"].get("deletionTimestamp"):
            return
        om = owner["metadata"]
        uid = om["uid"]
        finalizers = list(om.get("finalizers") or [])
        deps = [self.store.get(*loc) for loc in sorted(self._dependents.get(uid, ()))]
        live_deps = [d for d in deps if d is not None]
        if "orphan" in finalizers:
            for dep in live_deps:
                dkey = self._key_of(dep)
                drt = self._rt(dkey) if dkey else None
                if drt is None:
                    continue
                new = clone(dep)
                new["metadata"]["ownerReferences"] = [
                    r for r in dep["metadata"].get("ownerReferences") or [] if r.get("uid") != uid
                ]
                if not new["metadata"]["ownerReferences"]:
                    del new["metadata"]["ownerReferences"]
                dm = dep["metadata"]
                await self.engine.update(drt, dm.get("namespace", ""), dm["name"], new, INTERNAL)
            await self._drop_finalizer(rt, owner, "orphan")
            return
        if "foregroundDeletion" in finalizers:
            blocking = []
            for dep in live_deps:
                for ref in dep["metadata"].get("ownerReferences") or []:
                    if ref.get("uid") == uid and ref.get("blockOwnerDeletion"):
                        blocking.append(dep)
            for dep in live_deps:
                self._check.add(_loc(self._key_of(dep) or key, dep))
            if not blocking:
                await self._drop_finalizer(rt, owner, "foregroundDeletion")

    def _key_of(self, obj: JSON) -> Key | None:
        found = self.store.by_uid(obj["metadata"].get("uid", ""))
        return found[0] if found else None

    async def _drop_finalizer(self, rt: ResourceType, obj: JSON, finalizer: str) -> None:
        new = clone(obj)
        m = new["metadata"]
        m["finalizers"] = [f for f in m.get("finalizers") or [] if f != finalizer]
        if not m["finalizers"]:
            del m["finalizers"]
        await self.engine.update(rt, m.get("namespace", ""), m["name"], new, INTERNAL)

    async def _process_namespace(self, ns: str) -> None:
        nsobj = self.store.get(NS_KEY, "", ns)
        ns_rt = self._rt(NS_KEY)
        if nsobj is None or ns_rt is None or not nsobj["metadata"].get("deletionTimestamp"):
            return
        counts: dict[str, int] = {}
        finalizers: dict[str, int] = {}
        for key in self.store.namespaces_in_use(ns):
            rt = self._rt(key)
            if rt is None:
                continue
            for obj in list(self.store.iter(key, ns)):
                label = f"{rt.resource}.{rt.group}"
                counts[label] = counts.get(label, 0) + 1
                for f in obj["metadata"].get("finalizers") or []:
                    finalizers[f] = finalizers.get(f, 0) + 1
                if obj["metadata"].get("deletionTimestamp"):
                    continue
                opts = DeleteOptions(propagation="Background")
                await self.engine.delete(rt, ns, obj["metadata"]["name"], opts, INTERNAL)
        await self._namespace_conditions(ns_rt, nsobj, counts, finalizers)
        if counts:
            return
        nsobj = self.store.get(NS_KEY, "", ns) or nsobj
        if nsobj["spec"].get("finalizers"):
            new = clone(nsobj)
            new["spec"]["finalizers"] = []
            await self.engine.update(ns_rt, "", ns, new, INTERNAL, subresource="finalize")

    async def _namespace_conditions(
        self, ns_rt: ResourceType, nsobj: JSON, counts: dict[str, int], finalizers: dict[str, int]
    ) -> None:
        """Report what keeps a Terminating namespace, with upstream's condition types."""
        content = ", ".join(f"{r} has {n} resource instances" for r, n in sorted(counts.items()))
        held = ", ".join(f"{f} in {n} resource instances" for f, n in sorted(finalizers.items()))
        wanted = [
            (
                "NamespaceDeletionDiscoveryFailure",
                "False",
                "ResourcesDiscovered",
                "All resources successfully discovered",
            ),
            (
                "NamespaceDeletionGroupVersionParsingFailure",
                "False",
                "ParsedGroupVersions",
                "All legacy kube types successfully parsed",
            ),
            (
                "NamespaceDeletionContentFailure",
                "False",
                "ContentDeleted",
                "All content successfully deleted, may be waiting on finalization",
            ),
            (
                "NamespaceContentRemaining",
                "True" if counts else "False",
                "SomeResourcesRemain" if counts else "ContentRemoved",
                f"Some resources are remaining: {content}"
                if counts
                else "All content successfully removed",
            ),
            (
                "NamespaceFinalizersRemaining",
                "True" if finalizers else "False",
                "SomeFinalizersRemain" if finalizers else "ContentHasNoFinalizers",
                f"Some content in the namespace has finalizers remaining: {held}"
                if finalizers
                else "All content-preserving finalizers finished",
            ),
        ]
        old = {c.get("type"): c for c in (nsobj.get("status") or {}).get("conditions") or []}
        conditions = []
        changed = False
        for ctype, status, reason, message in wanted:
            prev = old.get(ctype)
            same = prev is not None and (
                prev.get("status"),
                prev.get("reason"),
                prev.get("message"),
            ) == (status, reason, message)
            changed = changed or not same
            conditions.append(
                prev
                if same and prev is not None
                else {
                    "type": ctype,
                    "status": status,
                    "lastTransitionTime": meta.now(),
                    "reason": reason,
                    "message": message,
                }
            )
        if not changed:
            return
        new = clone(nsobj)
        new.setdefault("status", {})["conditions"] = conditions
        await self.engine.update(
            ns_rt, "", nsobj["metadata"]["name"], new, INTERNAL, subresource="status"
        )

    async def _update_quotas(self, ns: str) -> None:
        """The quota controller: ``status.hard`` and ``status.used`` of each quota."""
        quotas = list(self.store.iter(QUOTA_KEY, ns))
        rt = self._rt(QUOTA_KEY)
        if not quotas or rt is None:
            return
        try:
            used = namespace_usage(self.store.iter(POD_KEY, ns))
        except ValueError:
            return
        for quota in quotas:
            status = quota_status(quota, used)
            if quota.get("status") == status:
                continue
            new = clone(quota)
            new["status"] = status
            name = quota["metadata"]["name"]
            await self.engine.update(rt, ns, name, new, INTERNAL, subresource="status")

    async def _expire_pods(self) -> None:
        rt = self._rt(POD_KEY)
        if rt is None:
            return
        now = dt.datetime.now(dt.UTC)
        for loc in list(self._terminating_pods):
            pod = self.store.get(*loc)
            if pod is None:
                self._terminating_pods.discard(loc)
                continue
            m = pod["metadata"]
            stamp = m.get("deletionTimestamp")
            if stamp and not m.get("finalizers") and meta.parse_time(stamp) <= now:
                await self.engine.finalize_gone(rt, pod)
