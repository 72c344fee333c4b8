"""Pod reflection (upstream ``reflection/workload/podns.go``): a local pod bound to the
virtual node becomes a ShadowPod of the same name in the twin namespace; the provider's
ShadowPod controller runs it as a Pod, whose status flows back to the local pod.

For one pod, whatever happened before (a restart rebuilds it from the three objects):

- local pod gone: delete its ShadowPod;
- local pod terminating: delete the ShadowPod (UID precondition, the pod's grace period),
  reflect the remote status meanwhile, and once both remote objects are gone delete the
  local pod with grace 0 (as a kubelet confirms a termination);
- local pod previously aborted (``OffloadingAborted``), or completed and in sync: leave it;
- otherwise label it ``liqo.io/shadowPod=true``, create the ShadowPod if missing (also
  after its deletion on the provider, unless the pod terminated), keep its labels and
  annotations in sync (never its spec), and copy the remote pod's status back (restart
  counts raised by each re-creation of the remote pod; pod IP remapped, verbatim without
  networking, empty with ``--disable-ip-reflection``; host IP ``--node-ip``).

Provider objects without this node's reflection labels are never modified. Caches: local
pods bound to this node (shared with the fallback), and per twin namespace only the Pods
and ShadowPods of this node (label-selected); plus a few counters per pod.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import quote

from liqo_core.api.consts import CREATOR_USER_LABEL, REMOTE_UNAVAILABLE_LABEL, SHADOW_POD_LABEL
from liqo_core.kube import Informer, KubeError, describe_error
from liqo_offloading.virtualkubelet.events import now
from liqo_offloading.virtualkubelet.reflection.fallback import PodFallback
from liqo_offloading.virtualkubelet.reflection.forge import (
    JSONObject,
    annotations_of,
    labels_of,
    meta_of,
    metadata_patch,
)
from liqo_offloading.virtualkubelet.reflection.framework import (
    FallbackReflection,
    NameFunc,
    NamespacedReflection,
    NamespacePair,
    Reflector,
    by_name,
)
from liqo_offloading.virtualkubelet.reflection.podforge import (
    OFFLOADING_ABORTED,
    REMOTE_POD_TERMINATED,
    TERMINAL_PHASES,
    infer_additional_restarts,
    local_pod_status,
    not_ready,
    rejected_pod_status,
    remap_address,
    remote_shadow_pod,
    shadow_metadata,
)

log = logging.getLogger(__name__)

SHADOW_PODS = "/apis/offloading.liqo.io/v1beta1/namespaces/{namespace}/shadowpods"
PODS = "/api/v1/namespaces/{namespace}/pods"
#: Labels the provider puts on ShadowPods itself (its webhook stamps the creator).
PROVIDER_LABELS = (CREATOR_USER_LABEL,)


def local_pods_informer(reflector: Reflector) -> Informer:
    """The shared informer of the local pods bound to this virtual node."""
    node = reflector.context.identity.node_name
    return reflector.context.local_informers.get(
        "/api/v1/pods", field_selector=f"spec.nodeName={node}"
    )


@dataclass
class PodInfo:
    """What the reflection remembers of one pod between two passes."""

    #: A ShadowPod was created: do not create another until the informer shows it.
    prevent_creation_until_seen: bool = False
    #: Remote pod re-creations already counted into the local restart counts.
    restarts: int = 0
    #: UID of the remote pod last reflected.
    remote_uid: str = ""


class PodReflector(Reflector):
    """Pods: reflected as ShadowPods; refused outside offloaded namespaces."""

    name = "Pod"
    resource = "pod"

    def informers(self) -> Sequence[Informer]:
        return [local_pods_informer(self)]

    def namespaced(self, pair: NamespacePair) -> NamespacedReflection:
        return NamespacedPods(self, pair)

    def fallback(self) -> FallbackReflection | None:
        return PodFallback(self.context, local_pods_informer(self))


def _path(template: str, namespace: str, name: str = "") -> str:
    base = template.format(namespace=quote(namespace, safe=""))
    return f"{base}/{quote(name, safe='')}" if name else base


class NamespacedPods(NamespacedReflection):
    """Pods of one local namespace and their ShadowPods in its twin."""

    def __init__(self, reflector: PodReflector, pair: NamespacePair) -> None:
        super().__init__(pair)
        context = self.context = reflector.context
        self.local_pods = local_pods_informer(reflector)
        selector = context.identity.node_selector()
        self.remote_pods = context.remote_informer(
            _path(PODS, pair.remote), label_selector=selector
        )
        self.shadows = context.remote_informer(
            _path(SHADOW_PODS, pair.remote), label_selector=selector
        )
        self.infos: dict[str, PodInfo] = {}

    def informers(self) -> Sequence[tuple[Informer, NameFunc]]:
        return [(self.remote_pods, by_name), (self.shadows, by_name)]

    def names(self) -> Iterable[str]:
        local = self.pair.local
        names = {n.rpartition("/")[2] for n in self.local_pods.cache.index_keys("namespace", local)}
        names.update(key.rpartition("/")[2] for key in self.shadows.cache)
        return sorted(names)

    # --- The rules --------------------------------------------------------------------------

    async def handle(self, name: str) -> float | None:
        local = self.local_pods.cache.get(f"{self.pair.local}/{name}")
        remote = self.remote_pods.cache.get(f"{self.pair.remote}/{name}")
        shadow = self.shadows.cache.get(f"{self.pair.remote}/{name}")

        if local is None:
            self.infos.pop(name, None)
            if shadow is not None and not meta_of(shadow).get("deletionTimestamp"):
                log.info("deleting ShadowPod %s/%s: its local pod is gone", self.pair.remote, name)
                await self._delete_shadow(shadow)
            return None

        meta = meta_of(local)
        if meta.get("deletionTimestamp"):
            await self._terminating(local, remote, shadow)
            return None

        status = local.get("status") or {}
        phase = status.get("phase")
        if phase == "Failed" and status.get("reason") == OFFLOADING_ABORTED:
            if shadow is not None and not meta_of(shadow).get("deletionTimestamp"):
                await self._delete_shadow(shadow)
            return None
        in_sync = remote is None or (remote.get("status") or {}).get("phase") == phase
        if phase in TERMINAL_PHASES and in_sync:
            return None

        await self._mark_offloaded(local)
        info = self.infos.setdefault(name, PodInfo())
        if shadow is None:
            if info.prevent_creation_until_seen:
                return None
            await self._create_shadow(local, info)
            return None
        info.prevent_creation_until_seen = False
        if REMOTE_UNAVAILABLE_LABEL not in labels_of(local):
            await self._sync_shadow_metadata(local, shadow)
        await self._reflect_status(local, remote, shadow, info)
        return None

    async def _terminating(
        self, local: JSONObject, remote: JSONObject | None, shadow: JSONObject | None
    ) -> None:
        name = meta_of(local)["name"]
        if remote is None and shadow is None:
            log.info(
                "deleting terminating pod %s/%s: its remote pod is gone", self.pair.local, name
            )
            uid = meta_of(local).get("uid")
            options = {"gracePeriodSeconds": 0, "preconditions": {"uid": uid}}
            try:
                await self.context.local.delete(_path(PODS, self.pair.local, name), options)
            except KubeError as err:
                self.context.events.warning(
                    local, "FailedDeletion", f"Cannot delete the local pod: {describe_error(err)}"
                )
                raise
            self.infos.pop(name, None)
            return
        if shadow is not None and not meta_of(shadow).get("deletionTimestamp"):
            grace = meta_of(local).get("deletionGracePeriodSeconds")
            log.info("deleting ShadowPod %s/%s: its local pod terminates", self.pair.remote, name)
            await self._delete_shadow(shadow, grace)
            return
        await self._reflect_status(local, remote, shadow, self.infos.setdefault(name, PodInfo()))

    # --- Writes -----------------------------------------------------------------------------

    async def _delete_shadow(self, shadow: JSONObject, grace: int | None = None) -> None:
        meta = meta_of(shadow)
        options: JSONObject = {"preconditions": {"uid": meta.get("uid")}}
        if grace is not None:
            options["gracePeriodSeconds"] = int(grace)
        await self.context.remote.delete(
            _path(SHADOW_PODS, self.pair.remote, meta["name"]), options
        )

    async def _mark_offloaded(self, local: JSONObject) -> None:
        if labels_of(local).get(SHADOW_POD_LABEL) == "true":
            return
        patch = {"metadata": {"labels": {SHADOW_POD_LABEL: "true"}}}
        try:
            await self.context.local.merge_patch(
                _path(PODS, self.pair.local, meta_of(local)["name"]), patch
            )
        except KubeError as err:
            if err.status != 404:
                self.context.events.warning(
                    local, "FailedReflection", f"Cannot label the local pod: {describe_error(err)}"
                )
                raise

    async def _create_shadow(self, local: JSONObject, info: PodInfo) -> None:
        context, name = self.context, meta_of(local)["name"]
        body = remote_shadow_pod(local, self.pair.remote, context.forging(), context.identity)
        try:
            await context.remote.request("POST", _path(SHADOW_PODS, self.pair.remote), body)
        except KubeError as err:
            if err.status == 409:
                await self._conflict(local, name, info)
                return
            context.events.warning(local, "FailedReflection", self._failure(err))
            raise
        info.prevent_creation_until_seen = True
        log.info("created ShadowPod %s/%s", self.pair.remote, name)
        context.events.normal(
            local,
            "SuccessfulReflection",
            f"Reflected to cluster {context.identity.foreign_cluster_id!r} as a ShadowPod",
        )

    async def _conflict(self, local: JSONObject, name: str, info: PodInfo) -> None:
        """A ShadowPod of that name exists: ours (the informer will show it), or another's
        (never touched: reported)."""
        existing = await self.context.remote.get(_path(SHADOW_PODS, self.pair.remote, name))
        if existing is not None and not self.context.identity.is_reflected(existing):
            log.warning("ShadowPod %s/%s exists and is not ours: skipping", self.pair.remote, name)
            self.context.events.warning(
                local,
                "FailedReflection",
                f"Cannot reflect to cluster {self.context.identity.foreign_cluster_id!r}: "
                "a ShadowPod of that name exists and was not created by Liqo",
            )
            return
        info.prevent_creation_until_seen = existing is not None

    def _failure(self, err: Exception) -> str:
        cluster = self.context.identity.foreign_cluster_id
        return f"Cannot reflect to cluster {cluster!r}: {describe_error(err)}"

    async def _sync_shadow_metadata(self, local: JSONObject, shadow: JSONObject) -> None:
        labels, annotations = shadow_metadata(local, self.context.forging(), self.context.identity)
        patch: JSONObject = {}
        label_patch = metadata_patch(labels_of(shadow), labels, keep=PROVIDER_LABELS)
        annotation_patch = metadata_patch(annotations_of(shadow), annotations)
        if label_patch:
            patch["labels"] = label_patch
        if annotation_patch:
            patch["annotations"] = annotation_patch
        if not patch:
            return
        name = meta_of(shadow)["name"]
        try:
            await self.context.remote.merge_patch(
                _path(SHADOW_PODS, self.pair.remote, name), {"metadata": patch}
            )
        except KubeError as err:
            if err.status == 404:
                return
            self.context.events.warning(local, "FailedReflection", self._failure(err))
            raise

    async def _reflect_status(
        self,
        local: JSONObject,
        remote: JSONObject | None,
        shadow: JSONObject | None,
        info: PodInfo,
    ) -> None:
        if remote is None:
            phase = ((shadow or {}).get("status") or {}).get("phase")
            if phase in TERMINAL_PHASES:  # completed, but its status was missed
                status = rejected_pod_status(
                    local.get("status") or {}, phase, REMOTE_POD_TERMINATED, now()
                )
                await self._write_status(local, status)
            return
        uid = str(meta_of(remote).get("uid") or "")
        if info.remote_uid != uid:
            if info.remote_uid:
                info.restarts += 1
            else:
                info.restarts = infer_additional_restarts(
                    local.get("status") or {}, remote.get("status") or {}
                )
            info.remote_uid = uid
        options = self.context.options
        status = local_pod_status(
            remote.get("status") or {},
            translate=self._translate,
            restarts=info.restarts,
            node_ip=options.node_ip,
            hide_ip=options.disable_ip_reflection,
        )
        if REMOTE_UNAVAILABLE_LABEL in labels_of(local):
            status = not_ready(status, now())
        await self._write_status(local, status)

    def _translate(self, address: str) -> str:
        if not self.context.networking_enabled():
            return address
        return remap_address(address, self.context.options.remote_cidrs)

    async def _write_status(self, local: JSONObject, status: JSONObject) -> None:
        if (local.get("status") or {}) == status:
            return
        name = meta_of(local)["name"]
        body = {**local, "apiVersion": "v1", "kind": "Pod", "status": status}
        try:
            await self.context.local.request(
                "PUT", _path(PODS, self.pair.local, name) + "/status", body
            )
        except KubeError as err:
            if err.status == 404:
                return
            if err.status != 409:
                self.context.events.warning(
                    local,
                    "FailedReflection",
                    f"Cannot reflect the status back: {describe_error(err)}",
                )
            raise
