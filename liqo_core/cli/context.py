"""State shared by every ``liqoctl`` command: global flags, settings, runtime, cluster."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from liqo_core._runtime.plugins import LiqoRuntime, load_runtime
from liqo_core.errors import LiqoError
from liqo_core.settings import LiqoSettings, load_settings

if TYPE_CHECKING:
    from kubernetes.client import ApiClient


class CommandError(LiqoError):
    """A command cannot do what was asked; the message says what to fix."""


class ClusterAccessError(LiqoError):
    """No usable kubeconfig, or the cluster cannot be reached."""


@dataclass
class CliState:
    """Global options of one ``liqoctl`` run, and what is built from them on demand.

    :param kubeconfig: ``--kubeconfig``; else ``$KUBECONFIG``, else ``~/.kube/config``.
    :param context: ``--context``: kubeconfig context to use instead of the current one.
    :param config_file: ``--config``: Liqo settings file.
    :param namespace: ``--namespace``: namespace Liqo is installed in (overrides settings).
    :param verbose: ``--verbose``: debug logs and tracebacks.
    """

    kubeconfig: str | None = None
    context: str | None = None
    config_file: Path | None = None
    namespace: str | None = None
    verbose: bool = False
    _settings: LiqoSettings | None = field(default=None, repr=False)
    _runtime: LiqoRuntime | None = field(default=None, repr=False)
    _runtime_error: LiqoError | None = field(default=None, repr=False)

    def settings(self) -> LiqoSettings:
        """Settings from ``--config`` / ``$LIQO_CONFIG_FILE`` / environment / flags."""
        if self._settings is None:
            overrides: dict[str, Any] = {}
            if self.namespace is not None:
                overrides["namespace"] = self.namespace
            self._settings = load_settings(self.config_file, **overrides)
        return self._settings

    def runtime(self) -> LiqoRuntime:
        """The enabled plugins, loaded once per run (raises the load error every time)."""
        if self._runtime_error is not None:
            raise self._runtime_error
        if self._runtime is None:
            try:
                self._runtime = load_runtime(self.settings())
            except LiqoError as err:
                self._runtime_error = err
                raise
        return self._runtime

    @property
    def runtime_error(self) -> LiqoError | None:
        """Why the runtime could not be loaded, if it was tried and failed."""
        return self._runtime_error

    def kubeconfig_path(self) -> str | None:
        """The kubeconfig file(s) to use (``:``-separated like ``$KUBECONFIG``), if any."""
        if self.kubeconfig:
            return self.kubeconfig
        env = os.environ.get("KUBECONFIG")
        if env:
            return env
        default = Path.home() / ".kube" / "config"
        return str(default) if default.is_file() else None

    def api_client(self) -> ApiClient:
        """A Kubernetes client for the selected kubeconfig and context."""
        from kubernetes.config import ConfigException, new_client_from_config

        path = self.kubeconfig_path()
        if path is None:
            raise ClusterAccessError(
                "no kubeconfig: pass --kubeconfig, set KUBECONFIG, or create ~/.kube/config"
            )
        try:
            client: ApiClient = new_client_from_config(  # type: ignore[no-untyped-call]
                config_file=path, context=self.context
            )
        except (ConfigException, OSError, ValueError) as err:
            detail = " ".join(str(err).split())
            raise ClusterAccessError(f"cannot use kubeconfig {path}: {detail}") from err
        return client

    def close(self) -> None:
        """Release the runtime, if it was loaded."""
        if self._runtime is not None:
            self._runtime.close()
            self._runtime = None


def get_state(ctx: typer.Context) -> CliState:
    """Return the :class:`CliState` of the running ``liqoctl`` invocation."""
    state = ctx.find_object(CliState)
    if state is None:
        raise RuntimeError("liqoctl commands run only under liqo_core.cli.app")
    return state
