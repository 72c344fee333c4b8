"""The reflection framework (upstream ``reflection/manager`` and ``reflection/generic``).

A :class:`Reflector` holds one kind's rules. The framework gives each enabled kind a work
queue and a pool of ``--<kind>-reflection-workers`` workers, fed by the kind's local
informers (keys ``<local namespace>/<name>``). For every local namespace the NamespaceMap
of the peer maps with phase ``Accepted`` (``status.currentMapping``), it asks the kind for
a :class:`NamespacedReflection` between that namespace and its twin, runs the informers
that reflection needs (typically on the provider's twin namespace), and hands it the
keys of that namespace once they have synced. Keys of namespaces that are not reflected
go to the kind's :class:`FallbackReflection`, if it has one, once the framework knows the
mappings. Each handled key counts in ``liqo_virtual_kubelet_reflection_item_counter``
(or ``..._error_counter`` when it failed, then retried with back-off).

Adding a kind is one module with a :class:`Reflector` subclass and one line in
:data:`liqo_offloading.virtualkubelet.reflection.REFLECTORS`.
"""

from __future__ import annotations

import abc
import asyncio
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from prometheus_client.core import Metric

from liqo_core.api.consts import REMOTE_CLUSTER_ID_LABEL, REPLICATION_DESTINATION_LABEL
from liqo_core.kube import Controller, EventHandler, Informer, Informers, Kube, split_key
from liqo_offloading.virtualkubelet.events import EventRecorder
from liqo_offloading.virtualkubelet.options import VirtualKubeletOptions
from liqo_offloading.virtualkubelet.reflection.forge import ForgingOptions, Identity, JSONObject

log = logging.getLogger(__name__)

#: Seconds before a key for the fallback is looked at again while the mappings load.
NOT_READY_RETRY = 0.5
NAMESPACE_MAPS = "/apis/offloading.liqo.io/v1beta1/namespaces/{namespace}/namespacemaps"

NameFunc = Callable[[JSONObject], Iterable[str]]
"""The local object names a change of a (remote) object concerns."""


def by_name(obj: JSONObject) -> list[str]:
    """Name function: the object's own name."""
    return [str((obj.get("metadata") or {}).get("name"))]


@dataclass(frozen=True)
class NamespacePair:
    """A local namespace and its twin on the provider."""

    local: str
    remote: str


@dataclass
class ReflectionContext:
    """What every reflector is given.

    :param forging: The current offloading patch of the VirtualNode.
    :param networking_enabled: Whether the networking module serves this peering (pod
        IPs are then remapped).
    """

    local: Kube
    remote: Kube
    options: VirtualKubeletOptions
    identity: Identity
    local_informers: Informers
    events: EventRecorder
    forging: Callable[[], ForgingOptions] = ForgingOptions
    networking_enabled: Callable[[], bool] = lambda: False

    def remote_informer(self, path: str, *, label_selector: str | None = None) -> Informer:
        """A new informer on the provider (started and stopped with its namespace pair)."""
        return Informer(self.remote, path, label_selector=label_selector)


class NamespacedReflection(abc.ABC):
    """One kind's reflection between a local namespace and its twin."""

    def __init__(self, pair: NamespacePair) -> None:
        self.pair = pair

    def informers(self) -> Sequence[tuple[Informer, NameFunc]]:
        """Informers this pair needs (run while it lives) and the local names each change
        concerns; the pair handles keys only once they have synced."""
        return ()

    @abc.abstractmethod
    async def handle(self, name: str) -> float | None:
        """Converge local object ``name`` and its remote twin; may return seconds after
        which to look again."""

    @abc.abstractmethod
    def names(self) -> Iterable[str]:
        """Every local name to look at (on start and resync)."""


class FallbackReflection(abc.ABC):
    """Handles a kind's local objects in namespaces that are not reflected."""

    @abc.abstractmethod
    async def handle(self, namespace: str, name: str) -> float | None:
        """Handle local object ``namespace/name``."""


class Reflector(abc.ABC):
    """One reflected kind: its local informers, per-namespace reflection and fallback."""

    #: Name in logs and metrics (upstream's reflector name: ``Pod``).
    name: ClassVar[str]
    #: Resource of ``--<resource>-reflection-workers`` (``pod``).
    resource: ClassVar[str]

    def __init__(self, context: ReflectionContext) -> None:
        self.context = context

    def informers(self) -> Sequence[Informer]:
        """Local informers whose objects are work keys (``<namespace>/<name>``); take them
        from ``context.local_informers`` so that kinds share them."""
        return ()

    @abc.abstractmethod
    def namespaced(self, pair: NamespacePair) -> NamespacedReflection:
        """The reflection of ``pair`` (built when its mapping becomes Accepted)."""

    def fallback(self) -> FallbackReflection | None:
        """What handles objects of namespaces that are not reflected (none by default)."""
        return None


class ReflectionMetrics:
    """Upstream's counters, under their exact names (prometheus_client would add
    ``_total`` to a counter: they are exposed untyped), labelled ``namespace``,
    ``reflector_resource``, ``cluster_id`` and ``node_name``."""

    LABELS = ("namespace", "reflector_resource", "cluster_id", "node_name")
    ITEMS = "liqo_virtual_kubelet_reflection_item_counter"
    ERRORS = "liqo_virtual_kubelet_reflection_error_counter"

    def __init__(self) -> None:
        self.items: dict[tuple[str, ...], float] = {}
        self.errors: dict[tuple[str, ...], float] = {}

    def count(self, labels: tuple[str, ...], *, failed: bool) -> None:
        """One more item handled (or failed) with these label values."""
        target = self.errors if failed else self.items
        target[labels] = target.get(labels, 0.0) + 1

    def collect(self) -> Iterator[Metric]:
        """The samples (prometheus_client collector protocol)."""
        for name, values, doc in (
            (self.ITEMS, self.items, "The counter of the reflected resources."),
            (self.ERRORS, self.errors, "The counter of the transient reflection errors."),
        ):
            metric = Metric(name, doc, "unknown")
            for labels, value in list(values.items()):
                metric.add_sample(name, dict(zip(self.LABELS, labels, strict=True)), value)
            yield metric

    def describe(self) -> list[Metric]:
        """No descriptions: collected on each scrape."""
        return []


def accepted_mappings(namespace_maps: Sequence[JSONObject]) -> dict[str, str] | None:
    """Local namespace → twin, for the mappings in phase ``Accepted`` of the peer's
    NamespaceMap; ``None`` when there is more than one map (upstream refuses to choose)."""
    if len(namespace_maps) > 1:
        return None
    mappings: dict[str, str] = {}
    for namespace_map in namespace_maps:
        current = (namespace_map.get("status") or {}).get("currentMapping") or {}
        for local, state in current.items():
            if (state or {}).get("phase") == "Accepted" and state.get("remoteNamespace"):
                mappings[local] = str(state["remoteNamespace"])
    return mappings


@dataclass
class _Pair:
    reflection: NamespacedReflection
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    synced: bool = False


class _KindRunner:
    """The queue, workers and namespace pairs of one kind."""

    def __init__(self, manager: ReflectionManager, reflector: Reflector, workers: int) -> None:
        self.manager = manager
        self.reflector = reflector
        self.fallback = reflector.fallback()
        self.controller = Controller(
            f"{reflector.name} reflection", self._reconcile, workers=workers
        )
        for informer in reflector.informers():
            self.controller.watch(informer)
        self.pairs: dict[str, _Pair] = {}

    def enqueue(self, namespace: str, names: Iterable[str]) -> None:
        for name in names:
            self.controller.queue.add(f"{namespace}/{name}")

    def start_pair(self, pair: NamespacePair) -> None:
        reflection = self.reflector.namespaced(pair)
        state = _Pair(reflection)
        informers = []
        for informer, names in reflection.informers():
            informers.append(informer)

            informer.add_event_handler(self._handler(pair.local, names))
        loop = asyncio.get_running_loop()
        state.tasks = [
            loop.create_task(i.run(), name=f"informer {i.describe()}") for i in informers
        ]
        state.tasks.append(loop.create_task(self._synced(pair, state, informers)))
        self.pairs[pair.local] = state
        log.info(
            "started %s reflection between local namespace %s and remote namespace %s",
            self.reflector.name,
            pair.local,
            pair.remote,
        )

    def _handler(self, local: str, names: NameFunc) -> EventHandler:
        def enqueue(obj: JSONObject) -> None:
            self.enqueue(local, names(obj))

        return EventHandler(
            on_add=enqueue, on_update=lambda _old, new: enqueue(new), on_delete=enqueue
        )

    async def _synced(self, pair: NamespacePair, state: _Pair, informers: list[Informer]) -> None:
        await asyncio.gather(*(informer.wait_synced() for informer in informers))
        state.synced = True
        self.enqueue(pair.local, state.reflection.names())

    async def stop_pair(self, local: str) -> None:
        state = self.pairs.pop(local, None)
        if state is None:
            return
        for task in state.tasks:
            task.cancel()
        await asyncio.gather(*state.tasks, return_exceptions=True)
        log.info("stopped %s reflection of local namespace %s", self.reflector.name, local)
        self.resync(only=local)

    def resync(self, only: str | None = None) -> None:
        """Queue every key this kind knows (of namespace ``only``, when given)."""
        for informer in self.reflector.informers():
            keys = informer.cache.index_keys("namespace", only) if only else list(informer.cache)
            for key in keys:
                self.controller.queue.add(key)
        for local, state in list(self.pairs.items()):
            if state.synced and only in (None, local):
                self.enqueue(local, state.reflection.names())

    async def _reconcile(self, key: str) -> float | None:
        namespace, name = split_key(key)
        namespace = namespace or ""
        state = self.pairs.get(namespace)
        if state is None and self.fallback is None:
            return None
        if state is not None and not state.synced:
            return None  # the pair queues all its names once its informers have synced
        if state is None and not self.manager.ready:
            return NOT_READY_RETRY
        labels = (
            namespace,
            self.reflector.name,
            self.manager.context.identity.foreign_cluster_id,
            self.manager.context.identity.node_name,
        )
        try:
            if state is not None:
                outcome = await state.reflection.handle(name)
            else:
                assert self.fallback is not None
                outcome = await self.fallback.handle(namespace, name)
        except Exception:
            self.manager.metrics.count(labels, failed=True)
            raise
        self.manager.metrics.count(labels, failed=False)
        return outcome

    async def stop(self) -> None:
        for local in list(self.pairs):
            state = self.pairs.pop(local)
            for task in state.tasks:
                task.cancel()
            await asyncio.gather(*state.tasks, return_exceptions=True)


class ReflectionManager:
    """Runs every enabled kind and follows the peer's NamespaceMap (upstream's reflection
    manager and namespace-map handler)."""

    def __init__(
        self,
        context: ReflectionContext,
        reflectors: Sequence[type[Reflector]],
        metrics: ReflectionMetrics | None = None,
    ) -> None:
        self.context = context
        self.metrics = metrics or ReflectionMetrics()
        options, peer = context.options, context.identity.foreign_cluster_id
        self.namespace_maps = context.local_informers.get(
            NAMESPACE_MAPS.format(namespace=options.tenant_namespace),
            label_selector=f"{REMOTE_CLUSTER_ID_LABEL}={peer},{REPLICATION_DESTINATION_LABEL}={peer}",
        )
        self._changed = asyncio.Event()
        self.namespace_maps.add_handler(lambda _kind, _obj: self._changed.set())
        self.runners = []
        for reflector in reflectors:
            workers = options.workers(reflector.resource)
            if workers <= 0:
                log.info("%s reflection disabled (0 workers)", reflector.name)
                continue
            self.runners.append(_KindRunner(self, reflector(context), workers))
        self.mappings: dict[str, str] = {}
        #: Set once the mappings are known: the fallbacks may act.
        self.ready = False

    def readiness(self) -> str | None:
        """``None`` once the NamespaceMap is known and the reflectors work."""
        return None if self.ready else "reflection not started yet"

    async def run(self) -> None:
        """Reflect until cancelled (the local informers are the caller's to start)."""
        await self.namespace_maps.wait_synced()
        await self._sync_pairs()
        self.ready = True
        tasks = [asyncio.ensure_future(runner.controller.run()) for runner in self.runners]
        tasks += [asyncio.ensure_future(self._follow_mappings())]
        tasks += [asyncio.ensure_future(self._resync())]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for runner in self.runners:
                await runner.stop()

    async def _follow_mappings(self) -> None:
        while True:
            await self._changed.wait()
            self._changed.clear()
            await self._sync_pairs()

    async def _sync_pairs(self) -> None:
        desired = accepted_mappings(self.namespace_maps.items())
        if desired is None:
            log.error("more than one NamespaceMap for this peer: keeping the current mappings")
            return
        for local, remote in list(self.mappings.items()):
            if desired.get(local) != remote:
                del self.mappings[local]
                for runner in self.runners:
                    await runner.stop_pair(local)
        for local, remote in desired.items():
            if local not in self.mappings:
                self.mappings[local] = remote
                for runner in self.runners:
                    runner.start_pair(NamespacePair(local, remote))

    async def _resync(self) -> None:
        period = self.context.options.resync_period
        if period <= 0:
            return
        while True:
            await asyncio.sleep(period)
            for runner in self.runners:
                runner.resync()
