"""The ``virtual-kubelet`` role: ``liqo virtual-kubelet``, one process per VirtualNode.

Run by the Deployment the VirtualNode controller forges (contract 1 of the offloading
brief). The shared scaffolding gives it probes, metrics (``--metrics-address`` when
``--metrics-enabled``, else the ``virtualKubelet.metricsPort`` setting), a clean stop on
SIGTERM and, with ``--vk-lease-enabled`` (the default), leader election among replicas on
Lease ``<tenant namespace>/<nodename>``. While it leads, it reads its VirtualNode and the
provider's kubeconfig Secret (waiting for them if they are not there yet), then keeps the
virtual Node (:mod:`.node`) and reflects pods (:mod:`.reflection`) until stopped.
Everything is rebuilt from the two API servers on start, so a restart converges without
duplicating anything.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import click

from liqo_core import Component, ComponentContext, StopRequest
from liqo_core.api.consts import REMOTE_CLUSTER_ID_LABEL
from liqo_core.kube import Informer, Informers, Kube, describe_error
from liqo_core.settings import ComponentSettings, LiqoSettings
from liqo_offloading.virtualkubelet import options as flags
from liqo_offloading.virtualkubelet.events import EventRecorder
from liqo_offloading.virtualkubelet.node import NodeController
from liqo_offloading.virtualkubelet.nodeforge import foreign_cluster_health
from liqo_offloading.virtualkubelet.reflection import REFLECTORS
from liqo_offloading.virtualkubelet.reflection.forge import ForgingOptions, Identity
from liqo_offloading.virtualkubelet.reflection.framework import (
    ReflectionContext,
    ReflectionManager,
    ReflectionMetrics,
)
from liqo_offloading.virtualkubelet.remote import RemoteCluster, RemoteConfigError

log = logging.getLogger(__name__)

VIRTUAL_NODES = "/apis/offloading.liqo.io/v1beta1/namespaces/{namespace}/virtualnodes"
SECRETS = "/api/v1/namespaces/{namespace}/secrets"
FOREIGN_CLUSTERS = "/apis/core.liqo.io/v1beta1/foreignclusters"


class VirtualKubelet(Component):
    """The virtual kubelet of one VirtualNode: its Node, Lease and pod reflection."""

    name = "virtual-kubelet"
    help = "Run the virtual kubelet of one VirtualNode: its Node, Lease and reflection."

    def __init__(self, context: ComponentContext) -> None:
        super().__init__(context)
        self.options = flags.parse(context.arguments, context.settings.cluster_id)
        self.metrics = ReflectionMetrics()
        context.metrics.register(self.metrics)
        self.node: NodeController | None = None
        self.manager: ReflectionManager | None = None
        self._waiting: str | None = "starting"

    @classmethod
    def process_settings(cls, settings: LiqoSettings) -> ComponentSettings:
        """The ``virtualKubelet`` section."""
        return settings.section(flags.VirtualKubeletSettings)

    @classmethod
    def parameters(cls) -> Sequence[click.Parameter]:
        """Upstream's virtual-kubelet flags."""
        return flags.parameters()

    def component_settings(self) -> ComponentSettings:
        """The section, with the metrics port and the election from the role's flags."""
        base = self.process_settings(self.context.settings)
        opts = self.options
        election = base.leader_election.model_copy(
            update={
                "enabled": base.leader_election.enabled and opts.lease_enabled,
                "lease_name": opts.node_name,
                "lease_duration": opts.lease_duration,
                "renew_deadline": opts.lease_renew_deadline,
                "retry_period": opts.lease_retry_period,
            }
        )
        update: dict[str, Any] = {"leader_election": election}
        if opts.metrics_port is not None:
            update["metrics_port"] = opts.metrics_port
        return base.model_copy(update=update)

    def lease_namespace(self) -> str:
        """Replicas elect their leader in the tenant namespace (upstream)."""
        return self.options.tenant_namespace

    def readiness(self) -> str | None:
        """Ready once the Node is registered (when created) and reflection runs."""
        if self._waiting:
            return self._waiting
        if self.node is not None and not self.node.registered.is_set():
            return f"node {self.options.node_name} not registered yet"
        return self.manager.readiness() if self.manager is not None else "reflection not started"

    async def run(self, stop: StopRequest) -> int:
        """Work until ``stop``."""
        for feature in self.options.unsupported():
            log.warning("--%s is not supported yet: ignored", feature)
        local = await Kube.from_target(self.context.target)
        informers = Informers(local)
        remote: RemoteCluster | None = None
        tasks: list[asyncio.Future[Any]] = []
        events: EventRecorder | None = None
        try:
            opts = self.options
            virtual_node = informers.get(
                VIRTUAL_NODES.format(namespace=opts.tenant_namespace),
                field_selector=f"metadata.name={opts.node_name}",
            )
            secret = informers.get(
                SECRETS.format(namespace=opts.tenant_namespace),
                field_selector=f"metadata.name={opts.kubeconfig_secret}",
            )
            foreign_cluster = informers.get(
                FOREIGN_CLUSTERS,
                label_selector=f"{REMOTE_CLUSTER_ID_LABEL}={opts.foreign_cluster_id}",
            )
            informers.start()
            remote = await self._connect(secret, stop)
            if remote is None or not await self._await_virtual_node(virtual_node, stop):
                return 0
            events = EventRecorder(local, "liqo-pod-reflection", opts.node_name)
            context = ReflectionContext(
                local=local,
                remote=remote.kube,
                options=opts,
                identity=Identity(opts.home_cluster_id, opts.foreign_cluster_id, opts.node_name),
                local_informers=informers,
                events=events,
                forging=lambda: ForgingOptions.from_virtual_node(
                    next(iter(virtual_node.items()), None)
                ),
                networking_enabled=lambda: (
                    foreign_cluster_health(next(iter(foreign_cluster.items()), None))[0] is True
                ),
            )
            self.manager = ReflectionManager(context, REFLECTORS, self.metrics)
            works = [self.manager.run(), self._follow_secret(secret, remote)]
            if opts.create_node:
                self.node = NodeController(
                    opts,
                    local,
                    informers=informers,
                    virtual_node=virtual_node,
                    foreign_cluster=foreign_cluster,
                    remote=remote,
                )
                works.append(self.node.run())
            informers.start()  # the informers the parts asked for
            self._waiting = None
            tasks = [asyncio.ensure_future(work) for work in works]
            stopping = asyncio.ensure_future(stop.wait())
            done, _ = await asyncio.wait({stopping, *tasks}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            failed = [task for task in tasks if task in done]
            for task in failed:
                error = task.exception()
                log.error(
                    "the virtual kubelet stopped: %s",
                    describe_error(error) if error else "a part ended",
                )
            return 1 if failed else 0
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await informers.stop()
            if events is not None:
                await events.flush()
            if remote is not None:
                await remote.close()
            await local.close()

    async def _connect(self, secret: Informer, stop: StopRequest) -> RemoteCluster | None:
        """The provider client, once the kubeconfig Secret exists and is usable."""
        opts = self.options
        while not stop.event.is_set():
            await self._until(secret.wait_synced(), stop)
            found = next(iter(secret.items()), None)
            if found is not None:
                try:
                    return await RemoteCluster.from_secret(
                        found, ping_timeout=opts.node_ping_timeout
                    )
                except RemoteConfigError as err:
                    self._waiting = str(err)
                    log.error("%s: waiting for a usable one", err)
            else:
                self._waiting = (
                    f"waiting for Secret {opts.tenant_namespace}/{opts.kubeconfig_secret}"
                )
                log.info("%s", self._waiting)
            await self._until(asyncio.sleep(2.0), stop)
        return None

    async def _await_virtual_node(self, virtual_node: Informer, stop: StopRequest) -> bool:
        """Whether the VirtualNode exists (waiting for it); False when stopped first."""
        opts = self.options
        await self._until(virtual_node.wait_synced(), stop)
        while not virtual_node.items():
            self._waiting = f"waiting for VirtualNode {opts.tenant_namespace}/{opts.node_name}"
            log.info("%s", self._waiting)
            if not await self._until(asyncio.sleep(2.0), stop):
                return False
        return not stop.event.is_set()

    async def _follow_secret(self, secret: Informer, remote: RemoteCluster) -> None:
        """Reconnect to the provider whenever its kubeconfig changes."""
        changed = asyncio.Event()
        secret.add_handler(lambda _kind, _obj: changed.set())
        while True:
            await changed.wait()
            changed.clear()
            found = next(iter(secret.items()), None)
            if found is None:
                continue
            try:
                await remote.refresh(found)
            except RemoteConfigError as err:
                log.error("%s: keeping the previous kubeconfig", err)

    @staticmethod
    async def _until(work: Any, stop: StopRequest) -> bool:
        """Await ``work`` unless ``stop`` comes first; whether it finished."""
        task = asyncio.ensure_future(work)
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            return False
        return True
