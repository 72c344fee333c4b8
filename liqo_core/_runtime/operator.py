"""kopf operators of the controller-manager: one per enabled module, each in a thread.

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
(``async with liqo_core.kube.kube_client(memo.kube_target) as kube``), with the same
credentials the operator logs in with; the cached clients of an operator's loop are
closed when it stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading

import kopf

from liqo_core.kube import (
    KubeTarget,
    close_clients,
    connection_info,
    describe_error,
    load_configuration,
)
from liqo_core.settings import RESERVED_MODULE_NAME

logger = logging.getLogger(__name__)

#: Name of the always-on operator hosting the core controllers (ForeignCluster, CRD
#: replication).
CORE_OPERATOR = RESERVED_MODULE_NAME


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
            # The handlers' cached API clients belong to this loop: close them with it.
            await close_clients()

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
