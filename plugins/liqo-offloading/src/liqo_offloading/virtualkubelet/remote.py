"""The provider's API server (upstream's pod provider client), reached with the kubeconfig
of Secret ``<tenant namespace>/<--foreign-kubeconfig-secret-name>`` (key ``kubeconfig``).

:class:`RemoteCluster` keeps one :class:`~liqo_core.kube.Kube` for the whole process:
when the Secret changes (a renewed certificate), the client's connection is swapped in
place, so informers and reflectors keep their references and resume on the new
credentials. The kubeconfig is never logged.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
from collections.abc import Mapping
from typing import Any

from liqo_core.errors import LiqoError
from liqo_core.kube import Kube, KubeConfigError, KubeError, describe_error

log = logging.getLogger(__name__)

KUBECONFIG_KEY = "kubeconfig"


class RemoteConfigError(LiqoError):
    """The kubeconfig Secret is unusable (the message names the Secret, never its data)."""


def kubeconfig_of(secret: Mapping[str, Any]) -> bytes:
    """The kubeconfig held by ``secret``.

    :raises RemoteConfigError: the Secret has no (decodable) ``kubeconfig`` key.
    """
    meta = secret.get("metadata") or {}
    where = f"Secret {meta.get('namespace')}/{meta.get('name')}"
    encoded = (secret.get("data") or {}).get(KUBECONFIG_KEY)
    if not encoded:
        raise RemoteConfigError(f"{where} has no {KUBECONFIG_KEY!r} key")
    try:
        return base64.b64decode(encoded, validate=True)
    except ValueError:
        raise RemoteConfigError(f"{where}: key {KUBECONFIG_KEY!r} is not base64") from None


class RemoteCluster:
    """The provider's API server, for the lifetime of the process."""

    def __init__(self, kube: Kube, digest: str, ping_timeout: float) -> None:
        self.kube = kube
        self.digest = digest
        self.ping_timeout = ping_timeout

    @classmethod
    async def from_secret(
        cls, secret: Mapping[str, Any], *, ping_timeout: float = 1.0
    ) -> RemoteCluster:
        """A client for the kubeconfig of ``secret``.

        :raises RemoteConfigError: the kubeconfig is missing or unusable.
        """
        data = kubeconfig_of(secret)
        return cls(await _client(data, secret), hashlib.sha256(data).hexdigest(), ping_timeout)

    async def refresh(self, secret: Mapping[str, Any]) -> bool:
        """Use the kubeconfig of ``secret`` if it changed; ``True`` when it did.

        :raises RemoteConfigError: the new kubeconfig is unusable (the old one stays).
        """
        data = kubeconfig_of(secret)
        digest = hashlib.sha256(data).hexdigest()
        if digest == self.digest:
            return False
        fresh = await _client(data, secret)
        old, self.kube.api = self.kube.api, fresh.api
        self.kube.unauthorized = False
        self.digest = digest
        log.info("the provider's kubeconfig changed: reconnecting")
        await old.close()  # open watches break and resume on the new connection
        return True

    async def ping(self) -> str | None:
        """Check the provider's API server (``GET /livez``); ``None`` when it answers,
        else why not. Answers short of a server error prove it reachable, except a 401
        (the credentials no longer work)."""
        try:
            async with asyncio.timeout(self.ping_timeout):
                await self.kube.request("GET", "/livez")
        except KubeError as err:
            if err.status == 401 or err.status >= 500:
                return describe_error(err)
        except ValueError:
            pass  # a 2xx answer in plain text ("ok"), as /livez gives
        except Exception as err:
            return describe_error(err) if str(err) else f"no answer within {self.ping_timeout:g}s"
        return None

    async def close(self) -> None:
        """Release the connection."""
        await self.kube.close()


async def _client(data: bytes, secret: Mapping[str, Any]) -> Kube:
    meta = secret.get("metadata") or {}
    try:
        return await Kube.from_kubeconfig(data)
    except KubeConfigError as err:
        where = f"Secret {meta.get('namespace')}/{meta.get('name')}"
        raise RemoteConfigError(f"{where} holds an unusable kubeconfig: {err}") from None
