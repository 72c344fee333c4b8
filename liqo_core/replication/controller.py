"""The replicator's kopf handlers: a watch on ControlPlane kubeconfig Secrets.

The controller-manager adds them to its always-on ``core`` operator with the kinds the
enabled modules declare (:func:`~liqo_core.hookspecs.liqo_replicated_resources`), when
there is at least one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import kopf

from liqo_core.api import consts
from liqo_core.replication import ReplicatedResource
from liqo_core.replication.manager import ReplicationManager
from liqo_core.settings import LiqoSettings

logger = logging.getLogger(__name__)

#: kopf handler id (upstream's controller name).
HANDLER_ID = "crdreplicator"


def register(
    registry: kopf.OperatorRegistry,
    settings: LiqoSettings,
    resources: Sequence[ReplicatedResource],
) -> None:
    """Add the replicator's handlers to ``registry``, replicating ``resources``.

    Nothing is added without resources, or when this cluster has no cluster id (the
    copies carry it as ``liqo.io/originID``): the latter is logged.
    """
    if not resources:
        return
    if not settings.cluster_id:
        logger.warning("CRD replication disabled: this cluster has no clusterID")
        return
    manager = ReplicationManager(settings.cluster_id, resources)

    @kopf.on.event(
        "v1",
        "secrets",
        labels={
            consts.IDENTITY_TYPE_LABEL: "ControlPlane",
            consts.REMOTE_CLUSTER_ID_LABEL: kopf.PRESENT,
        },
        annotations={consts.REMOTE_TENANT_NAMESPACE_ANNOTATION: kopf.PRESENT},
        registry=registry,
        id=HANDLER_ID,
    )
    async def controlplane_secret(
        event: kopf.RawEvent, body: kopf.Body, memo: kopf.Memo, **_: Any
    ) -> None:
        await manager.on_event(event.get("type"), body, memo.kube_target)

    @kopf.on.cleanup(registry=registry, id=f"{HANDLER_ID}-cleanup")
    async def stop_reflectors(**_: Any) -> None:
        await manager.stop_all()  # the runtime closes the shared clients afterwards


__all__ = ["HANDLER_ID", "register"]
