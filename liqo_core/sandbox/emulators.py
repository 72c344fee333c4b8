"""Starting and stopping the API emulator of each sandbox cluster.

A thin adapter over :class:`liqo_core.sandbox.apiserver.EmulatedCluster` that copes with
a synchronous or asynchronous ``start``/``stop`` and puts the admin kubeconfig at
``<dir>/<cluster>/kubeconfig``.
"""

from __future__ import annotations

import asyncio
import inspect
import shutil
from pathlib import Path
from typing import Any

from liqo_core.sandbox.state import ClusterInfo


async def _maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


def _place_kubeconfig(source: Path, target: Path) -> None:
    if source.resolve() != target.resolve():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)


class Emulator:
    """One emulated API server for one sandbox cluster."""

    def __init__(
        self, info: ClusterInfo, state_dir: Path, webhook_netns: str | None = None
    ) -> None:
        from liqo_core.sandbox.apiserver import EmulatedCluster

        self.info = info
        self.state_dir = state_dir
        state_dir.mkdir(parents=True, exist_ok=True)
        self.cluster: Any = EmulatedCluster(
            info.name, state_dir, service_cidr=info.service_cidr, webhook_netns=webhook_netns
        )

    async def start(self) -> None:
        """Start the server and record its URL, kubeconfig and pid in ``info``."""
        start = self.cluster.start
        if inspect.iscoroutinefunction(start):
            await start()
        else:
            await asyncio.to_thread(start)
        await asyncio.to_thread(
            _place_kubeconfig, Path(str(self.cluster.kubeconfig)), Path(self.info.kubeconfig)
        )
        self.info.server = str(getattr(self.cluster, "server_url", ""))
        self.info.emulator_pid = await asyncio.to_thread(lambda: self.pid)

    @property
    def pid(self) -> int | None:
        """The emulator process's pid (from ``apiserver.pid`` in its state directory)."""
        try:
            return int((self.state_dir / "apiserver.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    async def stop(self) -> None:
        """Stop the server."""
        stop = self.cluster.stop
        if inspect.iscoroutinefunction(stop):
            await stop()
        else:
            await asyncio.to_thread(stop)
