"""Deployment controller: Deployment -> ReplicaSet per pod template -> pods.

The ReplicaSet for the current template is named ``<deployment>-<pod-template-hash>``.
RollingUpdate: old ReplicaSets are scaled down as the new one's pods become available
(never below ``replicas`` available pods in total); Recreate: old ReplicaSets go to zero
before the new one is created.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from liqo_core.kube import Informer, Kube, KubeError, object_key
from liqo_core.sandbox.controllerruntime import (
    owned_by,
    owner_key,
    patch_status,
    run_when_synced,
    status_path,
    status_unchanged,
    work_queue,
)
from liqo_core.sandbox.ownership import owner_reference, set_condition, template_hash

JSON = dict[str, Any]
log = logging.getLogger(__name__)

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"


def new_replicaset(deployment: JSON, pod_hash: str, revision: int) -> JSON:
    """The ReplicaSet for the deployment's current template."""
    spec = deployment.get("spec", {})
    template = copy.deepcopy(spec.get("template") or {})
    meta = template.setdefault("metadata", {})
    meta.setdefault("labels", {})[HASH_LABEL] = pod_hash
    selector = copy.deepcopy(spec.get("selector") or {})
    selector.setdefault("matchLabels", {})[HASH_LABEL] = pod_hash
    name = deployment["metadata"]["name"]
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{name}-{pod_hash}",
            "namespace": deployment["metadata"]["namespace"],
            "labels": dict(meta["labels"]),
            "annotations": {REVISION: str(revision)},
            "ownerReferences": [owner_reference(deployment)],
        },
        "spec": {
            "replicas": int(spec.get("replicas", 1)),
            "minReadySeconds": int(spec.get("minReadySeconds", 0)),
            "selector": selector,
            "template": template,
        },
    }


def revision_of(rs: JSON) -> int:
    """The ReplicaSet's revision annotation (0 if absent)."""
    try:
        return int(rs["metadata"].get("annotations", {}).get(REVISION, "0"))
    except ValueError:
        return 0


class DeploymentController:
    """Creates, scales and reports on the ReplicaSets of each Deployment."""

    def __init__(self, kube: Kube, deployments: Informer, replicasets: Informer) -> None:
        self.kube = kube
        self.deployments = deployments
        self.replicasets = replicasets
        self.queue = work_queue()
        deployments.add_handler(lambda kind, d: self.queue.add(object_key(d)))
        replicasets.add_handler(self._on_replicaset)

    def _on_replicaset(self, kind: str, rs: JSON) -> None:
        key = owner_key(rs, "Deployment")
        if key is not None:
            self.queue.add(key)

    async def reconcile(self, key: str) -> None:
        """Converge one Deployment."""
        deployment = self.deployments.cache.get(key)
        if deployment is None or deployment["metadata"].get("deletionTimestamp"):
            return
        namespace = deployment["metadata"]["namespace"]
        spec = deployment.get("spec", {})
        desired = int(spec.get("replicas", 1))
        owned = owned_by(self.replicasets, deployment)
        pod_hash = template_hash(spec.get("template") or {})
        new_rs = next((rs for rs in owned if rs["metadata"]["name"].endswith(f"-{pod_hash}")), None)
        old = [rs for rs in owned if rs is not new_rs]
        collection = f"/apis/apps/v1/namespaces/{namespace}/replicasets"
        recreate = (spec.get("strategy") or {}).get("type") == "Recreate"
        paused = bool(spec.get("paused"))
        if not paused:
            if recreate and any(int(rs.get("spec", {}).get("replicas", 0)) for rs in old):
                for rs in old:
                    await self._scale(collection, rs, 0)
                return
            old_live = sum(int((rs.get("status") or {}).get("replicas", 0)) for rs in old)
            if new_rs is None and not (recreate and old_live):
                revision = max((revision_of(rs) for rs in owned), default=0) + 1
                body = new_replicaset(deployment, pod_hash, revision)
                try:
                    new_rs = await self.kube.request("POST", collection, body)
                except KubeError as err:
                    if err.status != 409:
                        raise
                    return
            if new_rs is not None:
                await self._scale(collection, new_rs, desired)
                available = int((new_rs.get("status") or {}).get("availableReplicas", 0))
                budget = max(desired - available, 0)
                for rs in sorted(old, key=revision_of, reverse=True):
                    current = int(rs.get("spec", {}).get("replicas", 0))
                    keep = min(current, budget)
                    budget -= keep
                    await self._scale(collection, rs, keep)
        await self._update_status(deployment, new_rs, old)

    async def _scale(self, collection: str, rs: JSON, replicas: int) -> None:
        if int(rs.get("spec", {}).get("replicas", 0)) == replicas:
            return
        await self.kube.merge_patch(
            f"{collection}/{rs['metadata']['name']}", {"spec": {"replicas": replicas}}
        )

    async def _update_status(self, deployment: JSON, new_rs: JSON | None, old: list[JSON]) -> None:
        spec = deployment.get("spec", {})
        desired = int(spec.get("replicas", 1))
        all_rs = [*old, *([new_rs] if new_rs else [])]

        def total(field: str, items: list[JSON]) -> int:
            return sum(int((rs.get("status") or {}).get(field, 0)) for rs in items)

        available = total("availableReplicas", all_rs)
        updated = total("replicas", [new_rs]) if new_rs else 0
        conditions = list((deployment.get("status") or {}).get("conditions") or [])
        if available >= desired:
            conditions = set_condition(
                conditions,
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
            )
        else:
            conditions = set_condition(
                conditions,
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
            )
        rs_name = new_rs["metadata"]["name"] if new_rs else deployment["metadata"]["name"]
        complete = (
            new_rs is not None
            and updated == desired
            and total("availableReplicas", [new_rs]) >= desired
            and total("replicas", old) == 0
        )
        if complete:
            reason, message = (
                "NewReplicaSetAvailable",
                f'ReplicaSet "{rs_name}" has successfully progressed.',
            )
        else:
            reason, message = "ReplicaSetUpdated", f'ReplicaSet "{rs_name}" is progressing.'
        conditions = set_condition(conditions, "Progressing", "True", reason, message)
        status: JSON = {
            "observedGeneration": deployment["metadata"].get("generation", 1),
            "replicas": total("replicas", all_rs),
            "updatedReplicas": updated,
            "readyReplicas": total("readyReplicas", all_rs),
            "availableReplicas": available,
            "unavailableReplicas": max(desired - available, 0),
            "conditions": conditions,
        }
        current = deployment.get("status") or {}
        counts = {k: v for k, v in status.items() if k != "conditions"}
        if status_unchanged(current, counts) and [
            (c.get("type"), c.get("status"), c.get("reason"))
            for c in current.get("conditions") or []
        ] == [(c["type"], c["status"], c["reason"]) for c in conditions]:
            return
        path = status_path("apis/apps/v1/deployments", deployment)
        await patch_status(self.kube, path, status)

    async def run(self) -> None:
        """Reconcile until cancelled."""
        await run_when_synced(
            self.queue, self.reconcile, "deployment", self.deployments, self.replicasets
        )
