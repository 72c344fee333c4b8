"""Registers the authentication module's start-up work and controllers on its registry."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf

from liqo_auth import identity, nonce, renew, tenant, webhooks
from liqo_auth.keys import ensure_keys
from liqo_auth.kube import operator_api
from liqo_auth.reconcile import with_retries
from liqo_auth.resourceslice import identity_creator, local, quota, remote
from liqo_auth.settings import auth_settings
from liqo_core import LiqoSettings
from liqo_core.identity import IdentityProvider
from liqo_core.kube import KubeTarget

logger = logging.getLogger(__name__)

#: The module whose presence starts the cross-module ``quotacreator``.
OFFLOADING_MODULE = "offloading"


def register(
    registry: kopf.OperatorRegistry, settings: LiqoSettings, provider: IdentityProvider
) -> None:
    """Cluster identity at start-up, then the nonce, tenant and identity controllers;
    ``provider`` issues consumers' credentials (``memo.identity_provider``)."""

    background: set[asyncio.Task[None]] = set()

    async def ensure_cluster_identity(target: KubeTarget) -> None:
        async def work() -> None:
            async with operator_api(target) as api:
                await ensure_keys(
                    api,
                    settings.namespace,
                    rsa_compatible=auth_settings(settings).tls_compatibility_mode,
                )

        while not await with_retries(logger, "this cluster's key pair", work):
            pass  # keep trying: nothing can be signed without it

    @kopf.on.startup(registry=registry, id="authentication-provider")
    def identity_provider(memo: kopf.Memo, **_: Any) -> None:
        memo.identity_provider = provider

    @kopf.on.startup(registry=registry, id="authentication-keys")
    async def cluster_identity(memo: kopf.Memo, **_: Any) -> None:
        # Retried until it succeeds: in the background, so start-up is not blocked.
        task = asyncio.create_task(
            ensure_cluster_identity(memo.kube_target), name="authentication-keys"
        )
        background.add(task)
        task.add_done_callback(background.discard)

    @kopf.on.cleanup(registry=registry, id="authentication-keys-cleanup")
    async def stop_background(**_: Any) -> None:
        for task in list(background):
            task.cancel()

    nonce.register(registry, settings)
    # Before ``tenant``: on a Tenant event, slices are denied before a drain unbinds the consumer.
    remote.register(registry, settings)
    tenant.register(registry, settings)
    identity.register(registry, settings)
    renew.register(registry, settings)
    local.register(registry, settings)
    if OFFLOADING_MODULE in settings.modules:
        # Upstream's quotacreator is an authentication+offloading controller: Quotas are
        # what the offloading module's ShadowPod admission enforces.
        quota.register(registry, settings)
    identity_creator.register(registry, settings)
    webhooks.register(registry, settings)
