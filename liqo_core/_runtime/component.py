"""Component roles and the process scaffolding every role shares.

``liqo <role>`` runs one :class:`Component`, found by name in entry-point group
``liqo.roles`` (the controller-manager is one; the offloading module ships
``virtual-kubelet``, the network module ``gateway`` and ``fabric``). Whatever the role,
:class:`ComponentHost` gives it the same process: the cluster's reachability checked at
start, ``/healthz`` and ``/readyz`` probes, Prometheus ``/metrics``, optional Lease leader
election (client-go semantics), and a clean stop on SIGTERM. The role only says what to
run while it leads (:meth:`Component.run`) and when it is ready.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import os
import platform
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Info

from liqo_core._runtime.health import HttpServer, metrics_app, probes_app, start_server
from liqo_core._runtime.leader import (
    ElectionConfig,
    KubernetesLeaseStore,
    LeaderElector,
    LeadershipLost,
)
from liqo_core.errors import LiqoError, SettingsError
from liqo_core.kube import Kube, KubeTarget, describe_error
from liqo_core.version import liqo_version

if TYPE_CHECKING:
    import click

    from liqo_core._runtime.plugins import LiqoRuntime
    from liqo_core.settings import ComponentSettings, LiqoSettings

logger = logging.getLogger(__name__)

#: Entry-point group of component roles (name: the role, as in ``liqo <role>``).
ROLES_GROUP = "liqo.roles"
#: How long the cluster may take to answer the start-up reachability check.
_REACHABILITY_TIMEOUT = 15.0
#: How long a role gets to stop once the lease is lost (another replica may lead).
LOST_LEASE_GRACE = 1.0


class ClusterUnreachableError(LiqoError):
    """The API server did not answer at start-up."""


class EndpointError(LiqoError):
    """A probe or metrics endpoint could not listen on its address."""


@dataclass(frozen=True)
class ComponentContext:
    """What the scaffolding hands a role.

    :param settings: The validated settings of this process.
    :param runtime: The loaded plugins (modules and transport) ``settings`` enable.
    :param target: The cluster the process works on (kubeconfig, context, in-cluster).
    :param identity: This replica's identity (``$POD_NAME`` in a pod).
    :param metrics: The process's Prometheus registry, served on ``/metrics``.
    :param arguments: The values of the role's own flags (:meth:`Component.parameters`).
    """

    settings: LiqoSettings
    runtime: LiqoRuntime
    target: KubeTarget
    identity: str
    metrics: CollectorRegistry
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass
class StopRequest:
    """Told to a running role: set when it must stop, with the time it has to do so.

    :param event: Set when the role must stop.
    :param grace: Seconds it has once ``event`` is set (short when leadership was lost:
        another replica may lead already).
    :param leadership_lost: Whether the stop comes from a lost lease.
    """

    event: asyncio.Event = field(default_factory=asyncio.Event)
    grace: float = 20.0
    leadership_lost: bool = False

    async def wait(self) -> None:
        """Return once the role must stop."""
        await self.event.wait()


class Component(abc.ABC):
    """A process role, run by ``liqo <name>`` with the shared scaffolding.

    Declare the class in entry-point group ``liqo.roles`` under :attr:`name`. The host
    constructs it with a :class:`ComponentContext` once settings and plugins are loaded,
    then calls :meth:`run` while this replica leads (always, without leader election).
    """

    #: The role's name (``controller-manager``): the ``liqo`` subcommand.
    name: ClassVar[str]
    #: One line for ``liqo --help``.
    help: ClassVar[str] = ""

    def __init__(self, context: ComponentContext) -> None:
        self.context = context

    @classmethod
    @abc.abstractmethod
    def process_settings(cls, settings: LiqoSettings) -> ComponentSettings:
        """The settings group holding this role's ports and leader election (the
        controller-manager's is ``settings.controller_manager``; a plugin's role returns
        its own section, a :class:`~liqo_core.settings.ComponentSettings` subclass)."""

    @classmethod
    def settings_key(cls) -> str:
        """The settings-file key of :meth:`process_settings`, for flags and messages."""
        return "".join(
            part if i == 0 else part.capitalize() for i, part in enumerate(cls.name.split("-"))
        )

    @classmethod
    def parameters(cls) -> Sequence[click.Parameter]:
        """Extra command-line flags of the role (their values reach
        ``context.arguments``); none by default."""
        return ()

    def component_settings(self) -> ComponentSettings:
        """This replica's process settings: :meth:`process_settings` of the loaded
        settings, unless the role's own flags change them (ports, election timings)."""
        return self.process_settings(self.context.settings)

    def lease_namespace(self) -> str:
        """Namespace of the leader-election Lease: the Liqo namespace, unless the role
        keeps it elsewhere."""
        return self.context.settings.namespace

    def readiness(self) -> str | None:
        """``None`` once the leading replica works, else a one-line reason."""
        return None

    @abc.abstractmethod
    async def run(self, stop: StopRequest) -> int:
        """Do the role's work until ``stop`` is set; return the exit code (0: stopped as
        asked; non-zero: a part of the role failed)."""


@dataclass(frozen=True)
class HostOptions:
    """Process options that are not settings: where to connect, who we are, where to listen."""

    target: KubeTarget
    identity: str
    bind_address: str = "0.0.0.0"
    stop_timeout: float = 20.0


class ProcessMetrics:
    """Metrics every role exposes: leadership and build, named ``liqo_<role>_*``."""

    def __init__(self, role: str, registry: CollectorRegistry) -> None:
        prefix = "liqo_" + role.replace("-", "_")
        self.leader = Gauge(
            f"{prefix}_leader",
            "1 when this replica is the elected leader, 0 while standing by.",
            registry=registry,
        )
        self.leader_acquisitions = Counter(
            f"{prefix}_leader_acquisitions",
            "How many times this replica became the leader.",
            registry=registry,
        )
        Info(f"{prefix}_build", f"Versions this {role} runs.", registry=registry).info(
            {
                "version": liqo_version(),
                "python_version": platform.python_version(),
            }
        )


class ComponentHost:
    """Runs one role with probes, metrics and (optionally) leader election."""

    def __init__(self, role: Component, options: HostOptions) -> None:
        self.role = role
        self.options = options
        self.settings = role.context.settings
        self.process = role.component_settings()
        self.metrics = ProcessMetrics(role.name, role.context.metrics)
        self.leading = False
        self.health: HttpServer | None = None
        self.metrics_server: HttpServer | None = None
        self._election = self._election_config()

    def liveness(self) -> str | None:
        """``None`` while the process works (the probe's answer proves the loop runs)."""
        return None

    def readiness(self) -> str | None:
        """``None`` when ready: a standby always is; a leader when its role says so."""
        return self.role.readiness() if self.leading else None

    async def run(self, stop: asyncio.Event) -> int:
        """Run until ``stop`` is set (0), leadership is lost (1) or the role ends (its code)."""
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
        self.health = await _listen(
            probes_app(self.liveness, self.readiness), host, self.process.health_port
        )
        self.metrics_server = await _listen(
            metrics_app(self.role.context.metrics), host, self.process.metrics_port
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
        election = self.process.leader_election
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
            key = self.role.settings_key()
            raise SettingsError(f"invalid setting {key}.leaderElection: {exc}") from exc

    def _elector(self, kube: Kube) -> LeaderElector | None:
        if self._election is None:
            return None
        lease = self.process.leader_election.lease_name
        return LeaderElector(
            KubernetesLeaseStore(kube, self.role.lease_namespace(), lease), self._election
        )

    async def _elect_and_lead(self, kube: Kube, stop: asyncio.Event) -> int:
        elector = self._elector(kube)
        if elector is not None:
            lease = self.process.leader_election.lease_name
            logger.info("waiting for lease %s/%s", self.role.lease_namespace(), lease)
            if not await _until_first(elector.acquire(), stop):
                return 0
        self.metrics.leader.set(1)
        self.metrics.leader_acquisitions.inc()
        try:
            return await self._lead(elector, stop)
        finally:
            self.metrics.leader.set(0)

    async def _lead(self, elector: LeaderElector | None, stop: asyncio.Event) -> int:
        request = StopRequest(grace=self.options.stop_timeout)
        working = asyncio.ensure_future(self.role.run(request))
        self.leading = True
        stopping = asyncio.ensure_future(stop.wait())
        holding = asyncio.ensure_future(elector.hold()) if elector is not None else None
        watched: set[asyncio.Future[Any]] = {stopping, working}
        if holding is not None:
            watched.add(holding)
        lost = False
        try:
            await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
            if working.done():
                code = self._role_result(working)
            else:
                lost = holding is not None and holding.done()
                if lost and holding is not None:
                    logger.error("leader election lost: %s", describe_error(holding.exception()))
                    request.grace, request.leadership_lost = LOST_LEASE_GRACE, True
                else:
                    logger.info("stop requested, stopping %s", self.role.name)
                request.event.set()
                # The role stops its parts within the grace; a little more for the rest.
                done, _ = await asyncio.wait({working}, timeout=request.grace + 5.0)
                code = self._role_result(working) if done else 1
                if lost:
                    code = 1
            self.leading = False
        finally:
            for future in (stopping, working, holding):
                if future is not None and not future.done():
                    future.cancel()
            if holding is not None:
                with contextlib.suppress(asyncio.CancelledError, LeadershipLost):
                    await holding
        if elector is not None and not lost:
            await elector.release()
        return code

    def _role_result(self, working: asyncio.Future[int]) -> int:
        if working.cancelled():
            return 1
        error = working.exception()
        if error is not None:
            logger.error("%s failed: %s", self.role.name, describe_error(error))
            return 1
        return int(working.result())


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
