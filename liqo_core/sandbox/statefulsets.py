"""StatefulSet controller: pods ``<set>-<ordinal>`` with stable names, in order.

As Kubernetes' StatefulSet controller does:

- pod ``<set>-<i>`` exists for every ordinal ``0 <= i < spec.replicas``, labelled
  ``statefulset.kubernetes.io/pod-name``, ``apps.kubernetes.io/pod-index`` and
  ``controller-revision-hash`` (``<set>-<template hash>``), with ``hostname`` the pod name
  and ``subdomain`` the set's ``serviceName``;
- ``OrderedReady`` (the default) creates ordinal ``i`` only once every lower ordinal is
  Running and Ready, and removes pods above ``replicas`` one at a time from the highest,
  each only while the others are ready; ``Parallel`` creates and removes them all at once;
- a failed or succeeded pod is deleted and created again;
- ``RollingUpdate`` (the default) replaces pods of an old template from the highest
  ordinal down, one at a time once all are ready (down to ``partition``); ``OnDelete``
  leaves them until they are deleted;
- status: ``replicas``, ``readyReplicas``, ``currentReplicas``, ``updatedReplicas``,
  ``availableReplicas``, ``currentRevision``, ``updateRevision``, ``observedGeneration``.
"""

from __future__ import annotations

import logging
from typing import Any

from liqo_core.kube import Informer, Kube, KubeError, object_key
from liqo_core.sandbox.controllerruntime import (
    create_pod,
    owned_by,
    owner_key,
    patch_status,
    pods_path,
    run_when_synced,
    status_path,
    status_unchanged,
    work_queue,
)
from liqo_core.sandbox.ownership import pod_ready, template_hash

JSON = dict[str, Any]
log = logging.getLogger(__name__)

REVISION_LABEL = "controller-revision-hash"
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"


def ordinal(set_name: str, pod: JSON) -> int | None:
    """The ordinal of a pod named ``<set>-<i>``, else ``None``."""
    name = str(pod["metadata"]["name"])
    prefix, _, suffix = name.rpartition("-")
    if prefix != set_name or not suffix.isdigit():
        return None
    return int(suffix)


def update_revision(sts: JSON) -> str:
    """``<set>-<hash of the pod template>``: the revision new pods are created at."""
    template = (sts.get("spec") or {}).get("template") or {}
    return f"{sts['metadata']['name']}-{template_hash(template)}"


def _running_and_ready(pod: JSON) -> bool:
    return (
        not pod["metadata"].get("deletionTimestamp")
        and (pod.get("status") or {}).get("phase") == "Running"
        and pod_ready(pod)
    )


def _finished(pod: JSON) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def _revision(pod: JSON) -> str:
    return str((pod["metadata"].get("labels") or {}).get(REVISION_LABEL, ""))


class StatefulSetController:
    """Creates, replaces and deletes the ordered pods of each StatefulSet."""

    def __init__(self, kube: Kube, statefulsets: Informer, pods: Informer) -> None:
        self.kube = kube
        self.statefulsets = statefulsets
        self.pods = pods
        self.queue = work_queue()
        statefulsets.add_handler(lambda kind, sts: self.queue.add(object_key(sts)))
        pods.add_handler(self._on_pod)

    def _on_pod(self, kind: str, pod: JSON) -> None:
        key = owner_key(pod, "StatefulSet")
        if key is not None:
            self.queue.add(key)

    async def reconcile(self, key: str) -> None:
        """Converge one StatefulSet: at most one ordered step per call when OrderedReady."""
        sts = self.statefulsets.cache.get(key)
        if sts is None or sts["metadata"].get("deletionTimestamp"):
            return
        spec = sts.get("spec") or {}
        name = sts["metadata"]["name"]
        replicas = int(spec.get("replicas", 1))
        parallel = spec.get("podManagementPolicy") == "Parallel"
        revision = update_revision(sts)
        by_ordinal: dict[int, JSON] = {}
        for pod in owned_by(self.pods, sts):
            index = ordinal(name, pod)
            if index is not None:
                by_ordinal[index] = pod
        await self._converge(sts, by_ordinal, replicas, parallel, revision)
        await self._update_status(sts, list(by_ordinal.values()), revision)

    async def _converge(
        self, sts: JSON, pods: dict[int, JSON], replicas: int, parallel: bool, revision: str
    ) -> None:
        namespace = sts["metadata"]["namespace"]
        # Replicas: create missing ordinals (in order), recreate finished ones.
        for index in range(replicas):
            pod = pods.get(index)
            if pod is not None and _finished(pod) and not pod["metadata"].get("deletionTimestamp"):
                await self._delete(namespace, pod)
                return
            if pod is None:
                pods[index] = await self._create(sts, index, revision)
                if not parallel:
                    return
                continue
            if not parallel and not _running_and_ready(pod):
                return
        # Scale down: condemned ordinals, highest first.
        condemned = sorted((i for i in pods if i >= replicas), reverse=True)
        if condemned:
            if parallel:
                for index in condemned:
                    if not pods[index]["metadata"].get("deletionTimestamp"):
                        await self._delete(namespace, pods[index])
                return
            if not all(_running_and_ready(pods[i]) for i in pods if i < replicas):
                return
            victim = pods[condemned[0]]
            if not victim["metadata"].get("deletionTimestamp"):
                await self._delete(namespace, victim)
            return
        await self._roll(sts, pods, replicas, revision)

    async def _roll(self, sts: JSON, pods: dict[int, JSON], replicas: int, revision: str) -> None:
        strategy = (sts.get("spec") or {}).get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") != "RollingUpdate":
            return
        partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
        if not all(_running_and_ready(pods[i]) for i in range(replicas) if i in pods):
            return
        for index in range(replicas - 1, partition - 1, -1):
            pod = pods.get(index)
            if pod is not None and _revision(pod) != revision:
                await self._delete(sts["metadata"]["namespace"], pod)
                return

    async def _create(self, sts: JSON, index: int, revision: str) -> JSON:
        name = f"{sts['metadata']['name']}-{index}"
        service = (sts.get("spec") or {}).get("serviceName")

        def named(pod: JSON) -> JSON:
            pod["metadata"].pop("generateName", None)
            pod["metadata"]["name"] = name
            pod["spec"]["hostname"] = name
            if service:
                pod["spec"]["subdomain"] = service
            return pod

        labels = {REVISION_LABEL: revision, POD_NAME_LABEL: name, POD_INDEX_LABEL: str(index)}
        template = (sts.get("spec") or {}).get("template") or {}
        try:
            return await create_pod(self.kube, template, sts, labels, customise=named)
        except KubeError as err:
            if err.status != 409:
                raise
            # Created by an earlier pass the cache has not seen yet.
            path = f"{pods_path(sts['metadata']['namespace'])}/{name}"
            existing: JSON = await self.kube.request("GET", path)
            return existing

    async def _delete(self, namespace: str, pod: JSON) -> None:
        try:
            await self.kube.delete(f"{pods_path(namespace)}/{pod['metadata']['name']}")
        except KubeError as err:
            if err.status != 404:
                raise

    async def _update_status(self, sts: JSON, pods: list[JSON], revision: str) -> None:
        live = [pod for pod in pods if not _finished(pod)]
        ready = sum(1 for pod in live if _running_and_ready(pod))
        updated = sum(1 for pod in live if _revision(pod) == revision)
        replicas = int((sts.get("spec") or {}).get("replicas", 1))
        previous = (sts.get("status") or {}).get("currentRevision") or revision
        current_revision = revision if updated == len(live) == replicas else previous
        status: JSON = {
            "observedGeneration": sts["metadata"].get("generation", 1),
            "replicas": len(live),
            "readyReplicas": ready,
            "currentReplicas": sum(1 for pod in live if _revision(pod) == current_revision),
            "updatedReplicas": updated,
            "availableReplicas": ready,
            "currentRevision": current_revision,
            "updateRevision": revision,
            "collisionCount": 0,
        }
        if not status_unchanged(sts.get("status"), status):
            await patch_status(self.kube, status_path("apis/apps/v1/statefulsets", sts), status)

    async def run(self) -> None:
        """Reconcile until cancelled."""
        await run_when_synced(
            self.queue, self.reconcile, "statefulset", self.statefulsets, self.pods
        )
