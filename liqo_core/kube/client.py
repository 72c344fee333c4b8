"""Kubernetes client construction: kubeconfig (with context) or in-cluster configuration.

The lookup order is controller-runtime's: an explicit kubeconfig path, then ``$KUBECONFIG``,
then the in-cluster service account, then ``~/.kube/config``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kubernetes_asyncio import client, config
from kubernetes_asyncio.config.config_exception import ConfigException

if TYPE_CHECKING:
    import kopf

_IN_CLUSTER_ENV = "KUBERNETES_SERVICE_HOST"
_DEFAULT_KUBECONFIG = Path("~/.kube/config")


class KubeConfigError(Exception):
    """The cluster connection could not be configured (message is one line, fit for users)."""


@dataclass(frozen=True)
class KubeTarget:
    """Where to connect: a kubeconfig file and context, or (both unset) the default lookup."""

    kubeconfig: Path | None = None
    context: str | None = None

    def describe(self) -> str:
        """A short human description, for logs and error messages."""
        where = str(self.kubeconfig) if self.kubeconfig else "default configuration"
        return f"{where} (context {self.context})" if self.context else where


async def load_configuration(target: KubeTarget) -> client.Configuration:
    """Build a fresh client configuration for ``target`` (re-reads files and tokens)."""
    configuration = client.Configuration()
    path = _kubeconfig_path(target)
    try:
        if path is None:
            config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
            return configuration
        await config.load_kube_config(
            config_file=path,
            context=target.context,
            client_configuration=configuration,
            persist_config=False,
        )
    except ConfigException as exc:
        raise KubeConfigError(f"invalid cluster configuration: {_one_line(exc)}") from exc
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise KubeConfigError(f"cannot read {target.describe()}: {_one_line(exc)}") from exc
    return configuration


async def configuration_from_kubeconfig(kubeconfig: bytes | str) -> client.Configuration:
    """Build a client configuration from a kubeconfig document held in memory.

    :raises KubeConfigError: the document cannot be used; the message names the kind of
        problem only, never the content (kubeconfigs hold credentials).
    """
    import yaml

    configuration = client.Configuration()
    try:
        document = yaml.safe_load(kubeconfig)
        if not isinstance(document, dict):
            raise TypeError("not a kubeconfig document")
        await config.load_kube_config_from_dict(document, client_configuration=configuration)
    except Exception as exc:  # never quote the content
        raise KubeConfigError(f"the kubeconfig cannot be loaded ({type(exc).__name__})") from None
    return configuration


def connection_info(
    configuration: client.Configuration, default_namespace: str | None = None
) -> kopf.ConnectionInfo:
    """Translate a client configuration (server, CA, client certificate or token) for kopf."""
    import kopf  # only the operator needs it: tools and the sandbox stay lighter

    scheme: str | None = None
    token: str | None = None
    header = configuration.api_key.get("BearerToken") or configuration.api_key.get("authorization")
    if header:
        scheme, _, token = str(header).partition(" ")
        if not token:  # a bare token without its scheme
            scheme, token = "Bearer", scheme
    return kopf.ConnectionInfo(
        server=str(configuration.host),
        ca_path=configuration.ssl_ca_cert or None,
        insecure=not configuration.verify_ssl,
        username=configuration.username or None,
        password=configuration.password or None,
        scheme=scheme,
        token=token,
        certificate_path=configuration.cert_file or None,
        private_key_path=configuration.key_file or None,
        default_namespace=default_namespace,
    )


def _kubeconfig_path(target: KubeTarget) -> str | None:
    """The kubeconfig path(s) to load, or ``None`` for the in-cluster configuration."""
    path = str(target.kubeconfig) if target.kubeconfig else os.environ.get("KUBECONFIG")
    if not path:
        if os.environ.get(_IN_CLUSTER_ENV) and target.context is None:
            return None
        path = str(_DEFAULT_KUBECONFIG.expanduser())
    files = [p for p in path.split(os.pathsep) if p]
    if not any(Path(p).expanduser().is_file() for p in files):
        source = " ($KUBECONFIG)" if not target.kubeconfig and os.environ.get("KUBECONFIG") else ""
        if len(files) == 1:
            raise KubeConfigError(f"kubeconfig {files[0]} does not exist{source}")
        raise KubeConfigError(f"no kubeconfig: none of {', '.join(files)} exists{source}")
    return path


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
