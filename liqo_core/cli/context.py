"""State shared by every ``liqoctl`` command: global flags, settings, runtime, cluster."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from liqo_core.errors import LiqoError

if TYPE_CHECKING:  # imported on first use: ``liqoctl --help`` and ``version`` stay fast
    from kubernetes.client import ApiClient

    from liqo_core._runtime.plugins import LiqoRuntime
    from liqo_core.settings import LiqoSettings


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
            from liqo_core.settings import load_settings

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
            from liqo_core._runtime.plugins import load_runtime

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

    def kubeconfig_flag(self) -> str:
        """Where the kubeconfig comes from, for error messages (what the user should fix)."""
        if self.kubeconfig:
            return "--kubeconfig"
        return "$KUBECONFIG" if os.environ.get("KUBECONFIG") else "--kubeconfig"

    def api_client(self) -> ApiClient:
        """A Kubernetes client for the selected kubeconfig and context."""
        path = self.kubeconfig_path()
        if path is None:
            raise ClusterAccessError(
                "no kubeconfig: pass --kubeconfig, set KUBECONFIG, or create ~/.kube/config"
            )
        return new_api_client(path, self.context, self.kubeconfig_flag())

    def close(self) -> None:
        """Release the runtime, if it was loaded."""
        if self._runtime is not None:
            self._runtime.close()
            self._runtime = None


def new_api_client(path: str, context: str | None, flag: str) -> ApiClient:
    """A ``kubernetes`` client for kubeconfig ``path`` (``:``-separated like $KUBECONFIG).

    Connecting is not retried: an unreachable server is one error, which
    :func:`unreachable` turns into one line, instead of three urllib3 warnings first.

    :param flag: Where ``path`` came from (``--kubeconfig``, ``$KUBECONFIG``,
        ``--remote-kubeconfig``), named in errors.
    :raises ClusterAccessError: No file of ``path`` exists (naming them), or the
        kubeconfig or context cannot be used.
    """
    from kubernetes.client import ApiClient, Configuration
    from kubernetes.config import ConfigException, load_kube_config
    from urllib3 import Retry

    files = [part for part in path.split(os.pathsep) if part]
    if not any(Path(part).expanduser().is_file() for part in files):
        if len(files) == 1:
            raise ClusterAccessError(f"kubeconfig {files[0]} does not exist: check {flag}")
        listed = ", ".join(files) or repr(path)
        raise ClusterAccessError(f"no kubeconfig: none of {listed} exists: check {flag}")
    configuration = Configuration()  # type: ignore[no-untyped-call]
    try:
        load_kube_config(  # type: ignore[no-untyped-call]
            config_file=path,
            context=context,
            client_configuration=configuration,
            persist_config=False,
        )
    except (ConfigException, OSError, ValueError) as err:
        detail = " ".join(str(err).split())
        raise ClusterAccessError(f"cannot use kubeconfig {path}: {detail}") from err
    # A server that refuses or does not accept the connection fails at once (no retry
    # warnings); a pooled connection the server dropped meanwhile is still retried.
    configuration.retries = Retry(total=3, connect=0)
    client: ApiClient = ApiClient(configuration)  # type: ignore[no-untyped-call]
    return client


_ERRNO = re.compile(r"\[Errno -?\d+\] ")
_SSL_DETAIL = re.compile(r"\[SSL: [A-Z_]+\] | \(_ssl\.c:\d+\)")


def connection_cause(err: BaseException) -> str:
    """Why a request did not get an answer, in a few words (``connection refused``)."""
    from urllib3.exceptions import (
        ConnectTimeoutError,
        MaxRetryError,
        NameResolutionError,
        NewConnectionError,
        ProtocolError,
        ReadTimeoutError,
        SSLError,
    )

    reason: BaseException = err
    while isinstance(reason, MaxRetryError) and reason.reason is not None:
        reason = reason.reason
    text = " ".join(str(reason).split())
    if isinstance(reason, NameResolutionError):
        return "host name not found"
    if isinstance(reason, NewConnectionError):
        detail = text.rsplit("Failed to establish a new connection: ", 1)[-1]
        detail = _ERRNO.sub("", detail).strip()
        return detail[:1].lower() + detail[1:] if detail else "cannot connect"
    if isinstance(reason, ConnectTimeoutError):
        return "connection timed out"
    if isinstance(reason, ReadTimeoutError):
        return "no answer in time"
    if isinstance(reason, SSLError):
        return f"TLS error: {_SSL_DETAIL.sub('', text).strip()}"
    if isinstance(reason, ProtocolError):
        return "connection closed by the server"
    return text or type(reason).__name__


def server_of(api_client: Any) -> str:
    """The API server URL ``api_client`` talks to."""
    return str(getattr(getattr(api_client, "configuration", None), "host", "") or "the cluster")


def unreachable(err: BaseException, server: str, flag: str) -> ClusterAccessError:
    """``cannot reach <server> (<cause>): check <flag>``, for a request that got no answer."""
    return ClusterAccessError(f"cannot reach {server} ({connection_cause(err)}): check {flag}")


def get_state(ctx: typer.Context) -> CliState:
    """Return the :class:`CliState` of the running ``liqoctl`` invocation."""
    state = ctx.find_object(CliState)
    if state is None:
        raise RuntimeError("liqoctl commands run only under liqo_core.cli.app")
    return state
