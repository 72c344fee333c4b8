"""The ``namespacemap`` controller (provider): twin namespaces for replicated NamespaceMaps.

For every NamespaceMap a consumer replicated here (finalizer
``namespacemap-controller.liqo.io/finalizer``), each ``spec.desiredMapping`` entry gets
its twin namespace (annotations ``liqo.io/managed-by-namespace-map``,
``liqo.io/original-name``, label ``liqo.io/remote-cluster-id=<origin>``) holding a
RoleBinding, named after the map's tenant namespace, of Group ``<origin>`` to
ClusterRole ``liqo-virtual-kubelet-remote``. ``status.currentMapping`` reports each entry:
``Accepted``; ``CreationLoopBackOff`` while a namespace of that name exists that the map
does not manage (a Warning event, retried with back-off and whenever that namespace
changes); ``Terminating`` while the twin of a removed entry is being deleted.

Everything is read back from the cluster: the twins a map manages are the namespaces
annotated with its key, so twins of removed entries, twins deleted by hand and twins of a
map that vanished without its finalizer (deleted) are all found again after a restart.
When a map is deleted, its twins are deleted and the finalizer goes once they are gone.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Iterable
from typing import Final
from urllib.parse import quote

from liqo_core.api.consts import NAMESPACE_MAP_FINALIZER
from liqo_core.api.offloading_namespace import GROUP, VERSION
from liqo_core.controllers import ControllerContext
from liqo_core.kube import Controller, Informer, Kube, KubeError, describe_error, split_key
from liqo_offloading.namespacemap import rules
from liqo_offloading.namespacemap.events import EventRecorder
from liqo_offloading.namespacemap.rules import JSONObject, map_key, meta_of
from liqo_offloading.settings import offloading_settings

log = logging.getLogger(__name__)

NAMESPACE_MAPS: Final = f"/apis/{GROUP}/{VERSION}/namespacemaps"
NAMESPACES: Final = "/api/v1/namespaces"
ROLE_BINDINGS: Final = "/apis/rbac.authorization.k8s.io/v1/rolebindings"
API_VERSION: Final = f"{GROUP}/{VERSION}"
#: Index of namespaces (and RoleBindings) by the map managing them.
BY_MAP: Final = "namespacemap/managed-by"
#: Index of maps by the remote namespaces they want.
BY_REMOTE: Final = "namespacemap/remote-namespace"
REASON_BLOCKED: Final = "CreationLoopBackOff"


class Blocked(Exception):
    """Some twins cannot be created now (the reconcile is retried with back-off)."""


def _map_path(key: str) -> str:
    namespace, name = split_key(key)
    return (
        f"/apis/{GROUP}/{VERSION}/namespaces/{quote(namespace or '')}/namespacemaps/{quote(name)}"
    )


def _bindings_path(namespace: str, name: str | None = None) -> str:
    path = f"/apis/rbac.authorization.k8s.io/v1/namespaces/{quote(namespace)}/rolebindings"
    return f"{path}/{quote(name)}" if name is not None else path


def _managed_index(obj: JSONObject) -> list[str]:
    key = rules.managed_by(obj)
    return [key] if key else []


def _remote_index(nm: JSONObject) -> list[str]:
    remotes = set(rules.desired_mapping(nm).values())
    remotes.update(e["remoteNamespace"] for e in rules.current_mapping(nm).values())
    return sorted(r for r in remotes if r)


class NamespaceMapController:
    """The reconciler, over the shared informers of its operator."""

    def __init__(self, context: ControllerContext) -> None:
        self.kube: Kube = context.kube
        self.workers = offloading_settings(context.settings).workers
        self.events = EventRecorder(context.kube)
        get = context.informers.get
        self.maps: Informer = get(NAMESPACE_MAPS, label_selector=rules.REPLICATED_SELECTOR)
        self.namespaces: Informer = get(NAMESPACES)
        self.bindings: Informer = get(ROLE_BINDINGS, label_selector=rules.BINDING_SELECTOR)
        self.maps.add_index(BY_REMOTE, _remote_index)
        self.namespaces.add_index(BY_MAP, _managed_index)
        self.bindings.add_index(BY_MAP, _managed_index)

    def controller(self) -> Controller:
        """The toolkit controller, watching everything the reconcile reads."""
        controller = Controller("namespacemap", self.reconcile, workers=self.workers)
        controller.watch(self.maps)
        controller.watch(self.namespaces, self._keys_of_namespace)
        controller.watch(self.bindings, _managed_index)
        return controller

    def _keys_of_namespace(self, namespace: JSONObject) -> list[str]:
        """The map managing ``namespace`` and the maps that want its name."""
        keys = set(_managed_index(namespace))
        keys.update(self.maps.cache.index_keys(BY_REMOTE, meta_of(namespace)["name"]))
        return sorted(keys)

    # --- the reconcile ------------------------------------------------------------------

    async def reconcile(self, key: str) -> float | None:
        """Converge NamespaceMap ``key`` (``<namespace>/<name>``)."""
        nm = self.maps.cache.get(key)
        if nm is None:
            await self._orphans(key)
            return None
        meta = meta_of(nm)
        finalizers = list(meta.get("finalizers") or [])
        deleting = bool(meta.get("deletionTimestamp"))
        if deleting and NAMESPACE_MAP_FINALIZER not in finalizers:
            return None  # not ours to clean up (or done already)
        if not deleting and not rules.origin_of(nm):
            log.warning("NamespaceMap %s: no origin cluster (label liqo.io/originID): skipped", key)
            return None
        if not deleting and NAMESPACE_MAP_FINALIZER not in finalizers:
            nm = await self._set_finalizers(nm, [*finalizers, NAMESPACE_MAP_FINALIZER])
        managed = self._managed(key)
        desired = rules.desired_mapping(nm).values()
        plan = rules.plan(nm, self._namespaces(desired), managed, deleting=deleting)
        errors = await self._execute(nm, plan, managed)
        nm = await self._write_status(nm, plan.status)
        if errors:
            raise errors[0]
        if deleting:
            if plan.settled:
                await self._set_finalizers(
                    nm, [f for f in finalizers if f != NAMESPACE_MAP_FINALIZER]
                )
                log.info("NamespaceMap %s: twins deleted, finalizer removed", key)
            return None
        if plan.blocked:
            for local, _, why in plan.blocked:
                message = f"Cannot create the twin of local namespace {local!r}: {why}"
                await self.events.warning(
                    nm, REASON_BLOCKED, message, kind="NamespaceMap", api_version=API_VERSION
                )
            raise Blocked("; ".join(why for _, _, why in plan.blocked))
        return None

    async def _execute(
        self, nm: JSONObject, plan: rules.Plan, managed: dict[str, JSONObject]
    ) -> list[Exception]:
        """Create, keep and delete twins as planned; a twin that cannot be created turns
        its entry ``CreationLoopBackOff``. Returns the other failures (raised once the
        status is written)."""
        errors: list[Exception] = []
        for local, remote in plan.create:
            try:
                why = await self._create(nm, local, remote)
            except Exception as err:
                why = f"namespace {remote!r} cannot be created: {describe_error(err)}"
            if why is not None:
                plan.blocked.append((local, remote, why))
                plan.status[local] = rules.entry(remote, rules.CREATION_LOOP_BACK_OFF)
        for local, remote in plan.keep:
            await _collect(errors, self._ensure_twin(nm, local, remote))
        for name in plan.delete:
            await _collect(errors, self._delete_twin(managed[name]))
        return errors

    def _managed(self, key: str) -> dict[str, JSONObject]:
        return {meta_of(ns)["name"]: ns for ns in self.namespaces.cache.by_index(BY_MAP, key)}

    def _namespaces(self, names: Iterable[str]) -> dict[str, JSONObject]:
        cache = self.namespaces.cache
        return {name: cache[name] for name in names if name in cache}

    async def _orphans(self, key: str) -> None:
        """Delete the twins of a map that is gone (e.g. its finalizer was forced off)."""
        twins = self._managed(key)
        if not twins or await self.kube.get(_map_path(key)) is not None:
            return
        for namespace in twins.values():
            if not meta_of(namespace).get("deletionTimestamp"):
                log.info(
                    "deleting namespace %s: its NamespaceMap %s is gone",
                    meta_of(namespace)["name"],
                    key,
                )
                await self._delete_twin(namespace)

    # --- twins --------------------------------------------------------------------------

    async def _create(self, nm: JSONObject, local: str, remote: str) -> str | None:
        """Create twin ``remote`` of ``local``; why it cannot be created now, if so."""
        key = map_key(nm)
        body = rules.twin_namespace(remote, local, key, rules.origin_of(nm))
        try:
            created = await self.kube.create(NAMESPACES, body)
        except KubeError as err:
            if err.status in (400, 403, 422):
                return f"namespace {remote!r} cannot be created: {err.message}"
            raise
        if created is None:  # it appeared meanwhile: whose is it?
            existing = await self.kube.get(f"{NAMESPACES}/{quote(remote)}")
            state = rules.twin_state(existing, key)
            if state is rules.Twin.FOREIGN:
                return rules.foreign(remote, key)
            if state is rules.Twin.ABSENT:
                raise KubeError(409, "Conflict", f"namespace {remote!r} is being replaced")
            created = existing
        else:
            log.info("NamespaceMap %s: created namespace %s for %s", key, remote, local)
        if created is not None and not meta_of(created).get("deletionTimestamp"):
            await self._ensure_binding(nm, remote)
        return None

    async def _ensure_twin(self, nm: JSONObject, local: str, remote: str) -> None:
        """Keep an existing twin's labels, annotations and RoleBinding."""
        namespace = self.namespaces.cache[remote]
        desired = rules.twin_namespace(remote, local, map_key(nm), rules.origin_of(nm))
        patch = rules.twin_metadata_patch(namespace, desired)
        if patch:
            await self.kube.merge_patch(f"{NAMESPACES}/{quote(remote)}", patch)
        await self._ensure_binding(nm, remote)

    async def _ensure_binding(self, nm: JSONObject, namespace: str) -> None:
        desired = rules.role_binding(namespace, nm)
        name = desired["metadata"]["name"]
        existing = self.bindings.cache.get(f"{namespace}/{name}")
        if existing is None:
            if await self.kube.create(_bindings_path(namespace), desired) is not None:
                return
            existing = await self.kube.get(_bindings_path(namespace, name))
            if existing is None:
                raise KubeError(
                    409, "Conflict", f"RoleBinding {namespace}/{name} is being replaced"
                )
        if not rules.same_role(existing, desired):  # the roleRef is immutable
            uid = meta_of(existing).get("uid")
            await self.kube.delete(_bindings_path(namespace, name), {"preconditions": {"uid": uid}})
            await self.kube.create(_bindings_path(namespace), desired)
            return
        patch = rules.role_binding_patch(existing, desired)
        if patch:
            await self.kube.merge_patch(_bindings_path(namespace, name), patch)

    async def _delete_twin(self, namespace: JSONObject) -> None:
        meta = meta_of(namespace)
        options = {"preconditions": {"uid": meta.get("uid")}}
        if await self.kube.delete(f"{NAMESPACES}/{quote(meta['name'])}", options):
            log.info(
                "deleting namespace %s (managed by %s)", meta["name"], rules.managed_by(namespace)
            )

    # --- the map itself -----------------------------------------------------------------

    async def _set_finalizers(self, nm: JSONObject, finalizers: list[str]) -> JSONObject:
        """Write the finalizers if the map is unchanged since read (a 409 is retried)."""
        meta = meta_of(nm)
        body = {
            "metadata": {
                "finalizers": finalizers or None,
                "resourceVersion": meta["resourceVersion"],
            }
        }
        return await self.kube.merge_patch(_map_path(map_key(nm)), body)

    async def _write_status(self, nm: JSONObject, wanted: dict[str, dict[str, str]]) -> JSONObject:
        """Write ``status.currentMapping`` if it changes; returns the map as stored."""
        patch = rules.status_patch(nm, wanted)
        if not patch:
            return nm
        return await self.kube.merge_patch(f"{_map_path(map_key(nm))}/status", patch)


async def _collect(errors: list[Exception], work: Awaitable[None]) -> None:
    """Await ``work``, noting its failure in ``errors`` (raised once the status is written)."""
    try:
        await work
    except Exception as err:
        errors.append(err)


def build(context: ControllerContext) -> list[Controller]:
    """The hosted ``namespacemap`` controller."""
    return [NamespaceMapController(context).controller()]


__all__ = ["Blocked", "NamespaceMapController", "build"]
