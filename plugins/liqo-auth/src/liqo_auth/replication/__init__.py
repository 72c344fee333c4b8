"""CRD replicator: NamespaceMap, ResourceSlice and Renew between peers (upstream ``crdreplicator``).

Per Secret labelled ``liqo.io/identity-type=ControlPlane`` and
``liqo.io/remote-cluster-id=<peer>``, annotated ``liqo.io/remote-tenant-namespace``, with a
kubeconfig in key ``kubeconfig``, a reflector copies the local objects labelled
``liqo.io/replication=true`` and ``liqo.io/remoteID=<peer>`` into the peer's tenant
namespace (spec local -> remote, status remote -> local). See :mod:`.manager` and
:mod:`.reflector`; the pure rules are in :mod:`.logic`.

Limits: a Secret that stops matching the labels keeps its reflector until it is deleted
or the process restarts; objects are matched to their copies by name, so two local
objects of one kind with the same name for the same peer (in different namespaces)
collide, as they would in the peer's single tenant namespace.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf

from liqo_auth.replication.manager import ReplicationManager
from liqo_core import LiqoSettings
from liqo_core.api import consts

logger = logging.getLogger(__name__)

__all__ = ["ReplicationManager", "register"]


def register(registry: kopf.OperatorRegistry, settings: LiqoSettings) -> None:
    """Add the replicator's handlers to the authentication module's registry."""
    if not settings.cluster_id:
        logger.warning("CRD replication disabled: this cluster has no clusterID")
        return
    manager = ReplicationManager(settings.cluster_id)

    @kopf.on.event(
        "v1",
        "secrets",
        labels={
            consts.IDENTITY_TYPE_LABEL: "ControlPlane",
            consts.REMOTE_CLUSTER_ID_LABEL: kopf.PRESENT,
        },
        annotations={consts.REMOTE_TENANT_NAMESPACE_ANNOTATION: kopf.PRESENT},
        registry=registry,
        id="crdreplicator",
    )
    async def controlplane_secret(
        event: kopf.RawEvent, body: kopf.Body, memo: kopf.Memo, **_: Any
    ) -> None:
        await manager.on_event(event.get("type"), body, memo.kube_target)

    @kopf.on.cleanup(registry=registry, id="crdreplicator-cleanup")
    async def stop_reflectors(**_: Any) -> None:
        await manager.stop_all()
