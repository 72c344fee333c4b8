"""The ``namespaceoffloading`` controller (consumer, upstream §5.6).

For each NamespaceOffloading ``<ns>/offloading`` (finalizer
``namespaceoffloading-controller.liqo.io/finalizer``):

- the twin namespace's name (:mod:`.naming`);
- the peers whose VirtualNodes ``spec.clusterSelector`` matches (:mod:`.selector`) get
  ``spec.desiredMapping[<ns>] = <twin>`` in their NamespaceMap (one per peer, made by the
  VirtualNode controller: a selected peer whose map does not exist yet is waited for), the
  other peers lose the entry;
- the namespace is labelled ``liqo.io/scheduling-enabled=true`` (the pod webhook's cue)
  unless the pod strategy is ``Local``;
- the status is derived from the maps (:mod:`.status`), whatever else failed.

Deletion: the label goes, the entries go from every map, the status turns Terminating;
once no map requires or reports the namespace (the providers deleted the twins), the
finalizer is removed. A NamespaceOffloading gone without its finalizer leaves no entry
behind: the next change of a map still naming the namespace removes it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from liqo_core import LiqoSettings
from liqo_core.api.consts import (
    REMOTE_CLUSTER_ID_LABEL,
    REPLICATION_DESTINATION_LABEL,
    SCHEDULING_ENABLED_LABEL,
)
from liqo_core.controllers import ControllerContext
from liqo_core.kube import (
    Controller,
    EventHandler,
    Informer,
    Informers,
    Kube,
    KubeError,
    object_key,
    split_key,
)
from liqo_offloading.namespaceoffloading import naming, rules, status
from liqo_offloading.namespaceoffloading.paths import (
    FINALIZER,
    LOCAL_MAPS,
    NAMESPACE_MAPS,
    NAMESPACE_OFFLOADINGS,
    NAMESPACES,
    NODES,
    VIRTUAL_NODE_SELECTOR,
    VIRTUAL_NODES,
    named,
    namespaced,
)
from liqo_offloading.namespaceoffloading.selector import (
    selected_clusters,
    selector_problems,
)
from liqo_offloading.namespaceoffloading.shared import Caches
from liqo_offloading.settings import offloading_settings
from liqo_offloading.virtualnode.kube import merge_diff, record_event

JSONObject = dict[str, Any]
log = logging.getLogger(__name__)

BY_CLUSTER = "namespaceoffloading/cluster-id"
#: Seconds before looking again for a selected peer's NamespaceMap, or at twins being
#: deleted (the informers' events usually come first).
WAIT = 10.0


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def _labels(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict(_meta(obj).get("labels") or {})


def map_cluster(nm: Mapping[str, Any]) -> list[str]:
    """Index function: the peer of a local NamespaceMap (``liqo.io/remote-cluster-id``,
    with the replication destination ``liqo.io/remoteID`` set)."""
    labels = _labels(nm)
    cluster = labels.get(REMOTE_CLUSTER_ID_LABEL)
    return [cluster] if cluster and labels.get(REPLICATION_DESTINATION_LABEL) else []


def mapped_namespaces(nm: Mapping[str, Any] | None) -> set[str]:
    """The local namespaces ``nm`` names, in its spec or its status."""
    if nm is None:
        return set()
    desired = ((nm.get("spec") or {}).get("desiredMapping")) or {}
    current = ((nm.get("status") or {}).get("currentMapping")) or {}
    return set(desired) | set(current)


def changed_namespaces(old: Mapping[str, Any], new: Mapping[str, Any]) -> set[str]:
    """The namespaces whose desired or current entry differs between two map versions."""
    found: set[str] = set()
    for part, key in (("spec", "desiredMapping"), ("status", "currentMapping")):
        before = ((old.get(part) or {}).get(key)) or {}
        after = ((new.get(part) or {}).get(key)) or {}
        found |= {ns for ns in set(before) | set(after) if before.get(ns) != after.get(ns)}
    if map_cluster(old) != map_cluster(new):
        found |= mapped_namespaces(old) | mapped_namespaces(new)
    return found


def selection_view(vn: Mapping[str, Any]) -> tuple[Any, ...]:
    """What of a VirtualNode the cluster selection depends on."""
    spec = vn.get("spec") or {}
    return (
        _meta(vn).get("name"),
        spec.get("clusterID"),
        spec.get("labels"),
        bool(spec.get("storageClasses")),
    )


def offloading_key(namespace: str) -> str:
    """The work-queue key of ``namespace``'s NamespaceOffloading."""
    return f"{namespace}/{rules.OFFLOADING_NAME}"


def now() -> str:
    """The current time as Kubernetes writes it."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class NamespaceOffloadingController:
    """The reconciler, over the shared informers of its operator."""

    def __init__(
        self, kube: Kube, informers: Informers, settings: LiqoSettings, caches: Caches
    ) -> None:
        self.kube = kube
        self.cluster_id = settings.cluster_id or ""
        self.workers = offloading_settings(settings).workers
        self.offloadings: Informer = informers.get(NAMESPACE_OFFLOADINGS)
        self.maps: Informer = informers.get(NAMESPACE_MAPS, label_selector=LOCAL_MAPS)
        self.virtual_nodes: Informer = informers.get(VIRTUAL_NODES)
        self.nodes: Informer = informers.get(NODES, label_selector=VIRTUAL_NODE_SELECTOR)
        self.namespaces: Informer = informers.get(NAMESPACES)
        self.maps.add_index(BY_CLUSTER, map_cluster)
        caches.namespaces, caches.offloadings = self.namespaces, self.offloadings

    # --- informers and keys -------------------------------------------------------------

    def _all(self) -> list[str]:
        return [key for key in self.offloadings.cache if split_key(key)[1] == rules.OFFLOADING_NAME]

    def controller(self) -> Controller:
        """The toolkit controller, watching everything the reconcile reads."""
        controller = Controller("namespaceoffloading", self.reconcile, workers=self.workers)
        queue = controller.queue

        def add(keys: Iterable[str]) -> None:
            for key in keys:
                queue.add(key)

        controller.watch(
            self.offloadings,
            lambda o: object_key(o) if _meta(o).get("name") == rules.OFFLOADING_NAME else None,
        )
        self.maps.add_event_handler(
            EventHandler(
                on_add=lambda nm: add({*self._all(), *map(offloading_key, mapped_namespaces(nm))}),
                on_update=lambda old, new: add(map(offloading_key, changed_namespaces(old, new))),
                on_delete=lambda nm: add(
                    {*self._all(), *map(offloading_key, mapped_namespaces(nm))}
                ),
            )
        )
        self.virtual_nodes.add_event_handler(
            EventHandler(
                on_add=lambda _: add(self._all()),
                on_update=lambda old, new: add(
                    self._all() if selection_view(old) != selection_view(new) else ()
                ),
                on_delete=lambda _: add(self._all()),
            )
        )
        self.nodes.add_event_handler(
            EventHandler(
                on_add=lambda _: add(self._all()),
                on_update=lambda old, new: add(self._all() if _labels(old) != _labels(new) else ()),
                on_delete=lambda _: add(self._all()),
            )
        )
        self.namespaces.add_event_handler(
            EventHandler(
                on_update=lambda old, new: add(
                    [offloading_key(_meta(new)["name"])]
                    if _labels(old).get(SCHEDULING_ENABLED_LABEL)
                    != _labels(new).get(SCHEDULING_ENABLED_LABEL)
                    else ()
                ),
            )
        )
        controller.needs(self.maps, self.virtual_nodes, self.nodes, self.namespaces)
        return controller

    # --- the reconcile --------------------------------------------------------------------

    async def reconcile(self, key: str) -> float | None:
        """Converge NamespaceOffloading ``key`` (``<namespace>/offloading``)."""
        namespace, name = split_key(key)
        if namespace is None or name != rules.OFFLOADING_NAME:
            return None
        nsoff = self.offloadings.cache.get(key)
        if nsoff is None:
            await self._forget(namespace)
            return None
        finalizers = list(_meta(nsoff).get("finalizers") or [])
        if _meta(nsoff).get("deletionTimestamp"):
            return await self._delete(nsoff) if FINALIZER in finalizers else None
        if FINALIZER not in finalizers:
            nsoff = await self._set_finalizers(nsoff, [*finalizers, FINALIZER])
        maps = self._maps()
        again: float | None = None
        try:
            again = await self._converge(nsoff, maps)
        finally:
            await self._write_status(nsoff, maps, deleting=False)
        return again

    def _maps(self) -> dict[str, JSONObject]:
        """The local NamespaceMap of each peer (the first by key, should there be more)."""
        found: dict[str, JSONObject] = {}
        for cluster in self.maps.cache.index_values(BY_CLUSTER):
            maps = self.maps.cache.by_index(BY_CLUSTER, cluster)
            if maps:
                found[cluster] = maps[0]
        return found

    def _remote_name(self, nsoff: Mapping[str, Any]) -> str:
        return naming.remote_namespace_name(
            str(_meta(nsoff)["namespace"]), rules.spec_of(nsoff), self.cluster_id
        )

    async def _converge(self, nsoff: JSONObject, maps: dict[str, JSONObject]) -> float | None:
        namespace = str(_meta(nsoff)["namespace"])
        spec = rules.spec_of(nsoff)
        await self._ensure_label(namespace, rules.pod_strategy(spec) != rules.LOCAL)
        problems = selector_problems(spec.get("clusterSelector"))
        if problems:
            await self._warn_once(nsoff, "InvalidClusterSelector", "; ".join(problems))
            return None
        if naming.mapping_strategy(spec) == naming.DEFAULT_NAME and not self.cluster_id:
            await self._warn_once(
                nsoff, "ClusterIDUnknown", "the local cluster ID is not configured: "
                "the DefaultName of the remote namespace cannot be computed",
            )  # fmt: skip
            return None
        remote = self._remote_name(nsoff)
        nodes = {str(_meta(n)["name"]): n for n in self.nodes.cache.values()}
        selected, _ = selected_clusters(
            spec.get("clusterSelector"), self.virtual_nodes.cache.values(), nodes
        )
        for cluster, nm in list(maps.items()):
            wanted = remote if cluster in selected else None
            maps[cluster] = await self._set_mapping(nm, namespace, wanted)
        missing = sorted(selected - set(maps))
        if missing:
            log.info(
                "NamespaceOffloading %s: waiting for the NamespaceMap of %s",
                object_key(nsoff), ", ".join(missing),
            )  # fmt: skip
            return WAIT
        return None

    async def _set_mapping(self, nm: JSONObject, namespace: str, remote: str | None) -> JSONObject:
        """``desiredMapping[namespace] = remote`` in ``nm`` (None: no entry); returns the
        map as it is now."""
        desired = ((nm.get("spec") or {}).get("desiredMapping")) or {}
        if desired.get(namespace) == remote:
            return nm
        path = namespaced(NAMESPACE_MAPS, _meta(nm)["namespace"], _meta(nm)["name"])
        try:
            updated = await self.kube.merge_patch(
                path, {"spec": {"desiredMapping": {namespace: remote}}}
            )
        except KubeError as err:
            if err.status == 404:
                return nm
            raise
        verb = f"→ {remote}" if remote is not None else "removed"
        log.info("NamespaceMap %s: %s %s", object_key(nm), namespace, verb)
        return updated

    async def _ensure_label(self, namespace: str, wanted: bool) -> None:
        obj = self.namespaces.cache.get(namespace)
        if obj is None:
            return
        has = _labels(obj).get(SCHEDULING_ENABLED_LABEL) == "true"
        if has == wanted:
            return
        value = "true" if wanted else None
        try:
            await self.kube.merge_patch(
                named(NAMESPACES, namespace),
                {"metadata": {"labels": {SCHEDULING_ENABLED_LABEL: value}}},
            )
        except KubeError as err:
            if err.status != 404:
                raise
            return
        log.info(
            "namespace %s: label %s %s", namespace, SCHEDULING_ENABLED_LABEL,
            "added" if wanted else "removed",
        )  # fmt: skip

    # --- status and events ----------------------------------------------------------------

    async def _write_status(
        self, nsoff: JSONObject, maps: Mapping[str, JSONObject], *, deleting: bool
    ) -> dict[str, status.PeerMapping]:
        namespace = str(_meta(nsoff)["namespace"])
        peers = {cluster: status.peer_mapping(nm, namespace) for cluster, nm in maps.items()}
        current = dict(nsoff.get("status") or {})
        desired = status.offloading_status(
            current,
            peers,
            remote_name=self._remote_name(nsoff),
            generation=_meta(nsoff).get("generation"),
            deleting=deleting,
            now=now(),
        )
        patch = merge_diff(current, desired)
        if patch:
            path = namespaced(NAMESPACE_OFFLOADINGS, namespace, rules.OFFLOADING_NAME)
            try:
                await self.kube.merge_patch(f"{path}/status", {"status": patch})
            except KubeError as err:
                if err.status != 404:
                    raise
        return peers

    async def _warn_once(self, nsoff: JSONObject, reason: str, message: str) -> None:
        """A warning Event, once per generation of the NamespaceOffloading."""
        meta = _meta(nsoff)
        log.warning("NamespaceOffloading %s: %s", object_key(nsoff), message)
        if (nsoff.get("status") or {}).get("observedGeneration") != meta.get("generation"):
            await record_event(
                self.kube, nsoff, "NamespaceOffloading", reason, message, warning=True
            )

    # --- finalizer, deletion ----------------------------------------------------------------

    async def _set_finalizers(self, nsoff: JSONObject, finalizers: list[str]) -> JSONObject:
        meta = _meta(nsoff)
        path = namespaced(NAMESPACE_OFFLOADINGS, meta["namespace"], meta["name"])
        body = {
            "metadata": {
                "finalizers": finalizers or None,
                "resourceVersion": meta["resourceVersion"],
            }
        }
        return await self.kube.merge_patch(path, body)

    async def _delete(self, nsoff: JSONObject) -> float | None:
        namespace = str(_meta(nsoff)["namespace"])
        await self._ensure_label(namespace, False)
        maps = self._maps()
        for cluster, nm in list(maps.items()):
            maps[cluster] = await self._set_mapping(nm, namespace, None)
        peers = await self._write_status(nsoff, maps, deleting=True)
        if not status.unmapped(peers):
            remaining = sorted(c for c, p in peers.items() if p.required or p.phase)
            log.info(
                "NamespaceOffloading %s: waiting for the twins on %s to be deleted",
                object_key(nsoff), ", ".join(remaining),
            )  # fmt: skip
            return WAIT
        finalizers = [f for f in _meta(nsoff).get("finalizers") or [] if f != FINALIZER]
        try:
            await self._set_finalizers(nsoff, finalizers)
        except KubeError as err:
            if err.status != 404:
                raise
        log.info("NamespaceOffloading %s: offloading removed", object_key(nsoff))
        return None

    async def _forget(self, namespace: str) -> None:
        """No NamespaceOffloading in ``namespace``: no map may keep asking for its twin."""
        for nm in self.maps.cache.values():
            desired = ((nm.get("spec") or {}).get("desiredMapping")) or {}
            if namespace in desired and map_cluster(nm):
                await self._set_mapping(nm, namespace, None)


def build(context: ControllerContext, caches: Caches) -> list[Controller]:
    """The ``namespaceoffloading`` controller of the module's operator."""
    reconciler = NamespaceOffloadingController(
        context.kube, context.informers, context.settings, caches
    )
    return [reconciler.controller()]
