"""The controller-manager: leader election, one kopf operator per enabled module, probes.

The ``core`` operator (:data:`CORE_OPERATOR`: the ForeignCluster controller) always runs,
even with every module disabled.

Each module's handlers live in the module's own kopf registry and run in an operator of
their own, with their own persistence settings (annotation prefix and finalizer
``<module>.kopf.liqo.io``), so two modules never clash on an object.

Every operator runs in a thread with its own event loop. ``kopf.operator()`` treats every
task created in its loop after it started as its own and cancels them all when it stops;
separate loops keep one module's shutdown (or crash) from cancelling another module's
tasks, the leader election or the probe servers. The runtime owns the process signals
(kopf installs no signal handlers outside the main thread).

Handlers find ``memo.identity`` (this replica), ``memo.module``, ``memo.settings`` and
``memo.kube_target``: the cluster the operator watches, for the module's own API clients
(``await liqo_core.kube.Kube.from_target(memo.kube_target)``), with the same credentials
the operator logs in with.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import threading
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

import kopf
from aiohttp import web

from liqo_core._runtime.health import HttpServer, metrics_app, probes_app, start_server
from liqo_core._runtime.leader import (
    ElectionConfig,
    KubernetesLeaseStore,
    LeaderElector,
    LeadershipLost,
)
from liqo_core._runtime.metrics import ControllerManagerMetrics
from liqo_core.errors import LiqoError, SettingsError
from liqo_core.identity import IdentityProvider
from liqo_core.kube import (
    Kube,
    KubeTarget,
    connection_info,
    describe_error,
    load_configuration,
)
from liqo_core.settings import RESERVED_MODULE_NAME, LiqoSettings

logger = logging.getLogger(__name__)

#: Name of the always-on operator hosting the core controllers (ForeignCluster).
CORE_OPERATOR = RESERVED_MODULE_NAME
#: How long the cluster may take to answer the start-up reachability check.
_REACHABILITY_TIMEOUT = 15.0
#: How long module operators get to stop once the lease is lost.
_LOST_LEASE_GRACE = 1.0


class ClusterUnreachableError(LiqoError):
    """The API server did not answer at start-up."""


class EndpointError(LiqoError):
    """A probe or metrics endpoint could not listen on its address."""


def kopf_prefix(module: str) -> str:
    """The annotation prefix (and finalizer domain) of ``module``'s operator.

    Plugin-manager names such as ``transport:wireguard`` become DNS labels
    (``transport-wireguard.kopf.liqo.io``).
    """
    label = re.sub(r"[^a-z0-9-]+", "-", module.lower()).strip("-") or "module"
    return f"{label}.kopf.liqo.io"


def operator_settings(module: str) -> kopf.OperatorSettings:
    """kopf settings for ``module``: its own annotations and finalizer, no self-kill."""
    prefix = kopf_prefix(module)
    settings = kopf.OperatorSettings()
    settings.persistence.finalizer = f"{prefix}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=prefix)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=prefix, key="last-handled-configuration"
    )
    settings.posting.level = logging.WARNING  # events for problems, not for every success
    settings.watching.server_timeout = 300  # re-establish watches regularly
    settings.process.ultimate_exiting_timeout = None  # the runtime owns the process
    return settings


def register_login(registry: kopf.OperatorRegistry, target: KubeTarget, namespace: str) -> None:
    """Make ``registry``'s operator log in to ``target`` (re-read on every re-login)."""

    @kopf.on.login(registry=registry, id="liqo-login")
    async def login(**_: object) -> kopf.ConnectionInfo:
        return connection_info(await load_configuration(target), default_namespace=namespace)


class ModuleOperator:
    """One module's kopf operator, running in a thread of its own."""

    def __init__(
        self,
        name: str,
        registry: kopf.OperatorRegistry,
        settings: kopf.OperatorSettings,
        memo: kopf.Memo,
    ) -> None:
        self.name = name
        self.ready = threading.Event()
        self._registry = registry
        self._settings = settings
        self._memo = memo
        self._stop = threading.Event()
        self._done: asyncio.Future[None] | None = None

    @property
    def done(self) -> asyncio.Future[None]:
        """Resolves when the operator has stopped (with its error, if it failed)."""
        if self._done is None:
            raise RuntimeError(f"operator {self.name} was not started")
        return self._done

    def start(self) -> None:
        """Start the operator thread; must be called from the runtime's event loop."""
        loop = asyncio.get_running_loop()
        self._done = done = loop.create_future()

        def finish(error: BaseException | None) -> None:
            if done.done():
                return
            if error is None:
                done.set_result(None)
            else:
                done.set_exception(error)

        def main() -> None:
            error: BaseException | None = None
            try:
                asyncio.run(self._operate())
            except BaseException as exc:  # reported to the runtime's loop
                error = exc
            with contextlib.suppress(RuntimeError):  # the runtime's loop is closed already
                loop.call_soon_threadsafe(finish, error)

        threading.Thread(target=main, name=f"kopf-{self.name}", daemon=True).start()

    async def _operate(self) -> None:
        try:
            await self._run_kopf()
        finally:
            # kopf waits for a threading.Event stop flag in an executor thread; set it so
            # that the loop can shut its executor down when kopf exits on its own.
            self._stop.set()

    async def _run_kopf(self) -> None:
        await kopf.operator(
            registry=self._registry,
            settings=self._settings,
            memo=self._memo,
            standalone=True,
            clusterwide=True,
            ready_flag=self.ready,
            stop_flag=self._stop,
        )

    async def stop(self, grace: float) -> None:
        """Ask the operator to stop and wait up to ``grace`` seconds for it."""
        self._stop.set()
        self.ready.clear()
        try:
            async with asyncio.timeout(grace):
                await asyncio.shield(self.done)
        except TimeoutError:
            logger.warning("module %s did not stop within %.0f s", self.name, grace)
        except Exception as exc:
            logger.warning("module %s stopped with an error: %s", self.name, describe_error(exc))


@dataclass(frozen=True)
class ManagerOptions:
    """Process options that are not settings: where to connect, who we are, where to listen."""

    target: KubeTarget
    identity: str
    bind_address: str = "0.0.0.0"
    stop_timeout: float = 20.0
    #: Issues consumers' credentials (``memo.identity_provider``); None without the
    #: authentication module.
    identity_provider: IdentityProvider | None = None


class ControllerManager:
    """Runs the enabled modules' operators while this replica holds the leader Lease."""

    def __init__(
        self,
        settings: LiqoSettings,
        registries: Mapping[str, kopf.OperatorRegistry],
        options: ManagerOptions,
    ) -> None:
        self.settings = settings
        self.options = options
        self._registries = dict(registries)
        self.metrics = ControllerManagerMetrics(self._registries)
        self.operators: list[ModuleOperator] = []
        self.leading = False
        self.health: HttpServer | None = None
        self.metrics_server: HttpServer | None = None
        self._election = self._election_config()
        for registry in self._registries.values():
            register_login(registry, options.target, settings.namespace)

    def liveness(self) -> str | None:
        """``None`` while the process works (the probe's answer proves the loop runs)."""
        return None

    def readiness(self) -> str | None:
        """``None`` when ready: a standby always is; a leader once every operator started."""
        if not self.leading:
            return None
        waiting = [op.name for op in self.operators if not op.ready.is_set()]
        return f"modules not ready: {', '.join(waiting)}" if waiting else None

    async def run(self, stop: asyncio.Event) -> int:
        """Run until ``stop`` is set (exit code 0) or leadership or a module is lost (1)."""
        kube = await Kube.from_target(self.options.target)
        try:
            await self._check_reachable(kube)
            await self._start_endpoints()
            try:
                return await self._elect_and_lead(kube, stop)
            finally:
                await self._stop_endpoints()
        finally:
            await kube.close()

    async def _check_reachable(self, kube: Kube) -> None:
        try:
            async with asyncio.timeout(_REACHABILITY_TIMEOUT):
                await kube.request("GET", "/version")
        except Exception as exc:
            raise ClusterUnreachableError(
                f"cannot reach the cluster at {kube.api.configuration.host}: {describe_error(exc)}"
            ) from exc

    async def _start_endpoints(self) -> None:
        host = self.options.bind_address
        manager = self.settings.controller_manager
        self.health = await _listen(
            probes_app(self.liveness, self.readiness), host, manager.health_port
        )
        self.metrics_server = await _listen(
            metrics_app(self.metrics.registry), host, manager.metrics_port
        )
        logger.info(
            "serving probes on %s:%d and metrics on %s:%d",
            host,
            self.health.port,
            host,
            self.metrics_server.port,
        )

    async def _stop_endpoints(self) -> None:
        for server in (self.health, self.metrics_server):
            if server is not None:
                await server.stop()

    def _election_config(self) -> ElectionConfig | None:
        election = self.settings.controller_manager.leader_election
        if not election.enabled:
            return None
        try:
            return ElectionConfig(
                identity=self.options.identity,
                lease_duration=election.lease_duration,
                renew_deadline=election.renew_deadline,
                retry_period=election.retry_period,
            )
        except ValueError as exc:
            raise SettingsError(f"invalid setting controllerManager.leaderElection: {exc}") from exc

    def _elector(self, kube: Kube) -> LeaderElector | None:
        if self._election is None:
            return None
        lease = self.settings.controller_manager.leader_election.lease_name
        return LeaderElector(
            KubernetesLeaseStore(kube, self.settings.namespace, lease), self._election
        )

    async def _elect_and_lead(self, kube: Kube, stop: asyncio.Event) -> int:
        elector = self._elector(kube)
        if elector is not None:
            lease = self.settings.controller_manager.leader_election.lease_name
            logger.info("waiting for lease %s/%s", self.settings.namespace, lease)
            if not await _until_first(elector.acquire(), stop):
                return 0
        self.metrics.leader.set(1)
        self.metrics.leader_acquisitions.inc()
        try:
            return await self._lead(elector, stop)
        finally:
            self.metrics.leader.set(0)

    async def _lead(self, elector: LeaderElector | None, stop: asyncio.Event) -> int:
        self.operators = [
            ModuleOperator(
                name,
                registry,
                operator_settings(name),
                kopf.Memo(
                    identity=self.options.identity,
                    module=name,
                    settings=self.settings,
                    kube_target=self.options.target,
                    identity_provider=self.options.identity_provider,
                ),
            )
            for name, registry in self._registries.items()
        ]
        for operator in self.operators:
            operator.start()
            self.metrics.module_ready.labels(module=operator.name).set_function(
                operator.ready.is_set
            )
        self.leading = True
        logger.info("leading with modules: %s", ", ".join(self._registries) or "(none)")

        stopping = asyncio.ensure_future(stop.wait())
        holding = asyncio.ensure_future(elector.hold()) if elector is not None else None
        watched: set[asyncio.Future[Any]] = {stopping, *(op.done for op in self.operators)}
        if holding is not None:
            watched.add(holding)
        try:
            await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
            code, lost = self._exit_reason(stopping, holding)
            self.leading = False
            # Without the lease another replica may lead already: do not linger.
            grace = _LOST_LEASE_GRACE if lost else self.options.stop_timeout
            await asyncio.gather(*(op.stop(grace) for op in self.operators))
        finally:
            stopping.cancel()
            if holding is not None:
                holding.cancel()
                with contextlib.suppress(asyncio.CancelledError, LeadershipLost):
                    await holding
        if elector is not None and not lost:
            await elector.release()
        return code

    def _exit_reason(
        self, stopping: asyncio.Future[Any], holding: asyncio.Future[None] | None
    ) -> tuple[int, bool]:
        """Exit code and whether leadership was lost, once one watched future is done."""
        if holding is not None and holding.done():
            logger.error("leader election lost: %s", describe_error(holding.exception()))
            return 1, True
        for operator in self.operators:
            if operator.done.done():
                error = operator.done.exception()
                reason = describe_error(error) if error else "it exited"
                logger.error("module %s stopped unexpectedly: %s", operator.name, reason)
                return 1, False
        logger.info("stop requested, stopping modules")
        return 0, False


async def _listen(app: web.Application, host: str, port: int) -> HttpServer:
    try:
        return await start_server(app, host, port)
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else describe_error(exc)
        raise EndpointError(f"cannot listen on {host}:{port}: {reason}") from exc


async def _until_first(work: Coroutine[Any, Any, None], stop: asyncio.Event) -> bool:
    """Run ``work`` until it finishes (``True``) or ``stop`` is set first (``False``)."""
    working = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({working, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (working, stopping):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await working
    return working.done() and not working.cancelled() and not stop.is_set()
