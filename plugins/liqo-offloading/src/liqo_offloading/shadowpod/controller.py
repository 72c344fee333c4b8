"""The ``shadowpod`` controller (provider): a real Pod for every ShadowPod.

Each ShadowPod gets a Pod of its name in its namespace (:mod:`.forge`), controlled by it,
created again whenever it disappears — the offloaded workload survives while the consumer
is unreachable — unless the ShadowPod is being deleted or has completed (phase Succeeded
or Failed). Deleting the ShadowPod deletes the Pod through the garbage collector (with
the Pod's own grace period, the one the ShadowPod's spec sets). The Pod's labels and
annotations follow the ShadowPod's (server-side apply, as upstream); its spec never
changes after creation. ``status.phase`` of the ShadowPod mirrors the Pod's.

A ``kubernetes.default`` host alias (the consumer's API server) is pointed at that
address as remapped here by the peer's network Configuration, when there is one.
Events on the ShadowPod: ``CreatedPod``, ``FailedCreatePod``, ``FailedUpdatePod``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import quote

from liqo_core.api.consts import REFLECTION_ORIGIN_LABEL, REMOTE_CLUSTER_ID_LABEL
from liqo_core.controllers import ControllerContext
from liqo_core.kube import Controller, Informer, Kube, KubeError, describe_error
from liqo_offloading.namespacemap.events import EventRecorder
from liqo_offloading.settings import offloading_settings
from liqo_offloading.shadowpod import forge
from liqo_offloading.shadowpod.forge import JSONObject, meta_of

log = logging.getLogger(__name__)

SHADOW_PODS: Final = f"/apis/{forge.API_VERSION}/shadowpods"
PODS: Final = "/api/v1/pods"
CONFIGURATIONS: Final = "/apis/networking.liqo.io/v1beta1/configurations"
#: Seconds before looking again at a name held by a Pod being deleted that is not ours.
RETRY_TERMINATING = 1.0


def _pods_path(namespace: str, name: str | None = None) -> str:
    path = f"/api/v1/namespaces/{quote(namespace)}/pods"
    return f"{path}/{quote(name)}" if name is not None else path


def _shadow_path(namespace: str, name: str) -> str:
    return f"/apis/{forge.API_VERSION}/namespaces/{quote(namespace)}/shadowpods/{quote(name)}"


class PodConflict(Exception):
    """A Pod of the ShadowPod's name exists and is not controlled by it."""


class ShadowPodController:
    """The reconciler, over the shared informers of its operator."""

    def __init__(self, context: ControllerContext, shadow_pods: Informer) -> None:
        self.kube: Kube = context.kube
        self.workers = offloading_settings(context.settings).workers
        self.events = EventRecorder(context.kube)
        self.shadow_pods = shadow_pods
        self.pods: Informer = context.informers.get(PODS, label_selector=forge.POD_SELECTOR)

    def controller(self) -> Controller:
        """The toolkit controller: ShadowPods and the Pods they control."""
        controller = Controller("shadowpod", self.reconcile, workers=self.workers)
        controller.watch(self.shadow_pods)
        controller.watch(self.pods, forge.shadow_owner)
        return controller

    async def _event(
        self, shadow: Mapping[str, Any], warning: bool, reason: str, message: str
    ) -> None:
        record = self.events.warning if warning else self.events.normal
        await record(shadow, reason, message, kind=forge.KIND, api_version=forge.API_VERSION)

    # --- the reconcile ------------------------------------------------------------------

    async def reconcile(self, key: str) -> float | None:
        """Converge ShadowPod ``key`` (``<namespace>/<name>``)."""
        shadow = self.shadow_pods.cache.get(key)
        if shadow is None or meta_of(shadow).get("deletionTimestamp"):
            return None  # the garbage collector deletes its Pod
        if forge.shadow_phase(shadow) in forge.TERMINAL_PHASES:
            return None  # completed: never run again
        origin = forge.labels_of(shadow).get(REFLECTION_ORIGIN_LABEL)
        if not origin:
            message = f"Not creating the pod: label {REFLECTION_ORIGIN_LABEL} is missing"
            await self._event(shadow, True, "FailedCreatePod", message)
            return None
        pod = self.pods.cache.get(key)
        if pod is None:
            pod = await self._create(shadow, origin)
            if pod is None:
                return None  # created: its informer event brings the key back
        if not forge.controlled_by(pod, shadow):
            if meta_of(pod).get("deletionTimestamp"):
                return RETRY_TERMINATING  # a previous incarnation's, going away
            message = f"Pod {key} exists and is not controlled by this ShadowPod"
            await self._event(shadow, True, "FailedCreatePod", message)
            raise PodConflict(message)
        await self._sync_metadata(shadow, pod)
        await self._mirror_phase(shadow, pod)
        return None

    async def _create(self, shadow: JSONObject, origin: str) -> JSONObject | None:
        """Create the Pod; returns the Pod found instead when one exists already."""
        meta = meta_of(shadow)
        spec = (shadow.get("spec") or {}).get("pod") or {}
        try:
            if forge.api_service_aliases(spec):
                spec = forge.remap_api_aliases(spec, await self._remapper(origin))
            await self.kube.request(
                "POST",
                _pods_path(meta["namespace"]),
                forge.forge_pod(shadow, spec),
                query={"fieldManager": forge.FIELD_MANAGER},
            )
        except KubeError as err:
            if err.status == 409:
                existing = await self.kube.get(_pods_path(meta["namespace"], meta["name"]))
                if existing is not None:
                    return existing
            await self._event(
                shadow, True, "FailedCreatePod", f"Failed to create pod: {describe_error(err)}"
            )
            raise
        except forge.NotRemapped as err:
            await self._event(shadow, True, "FailedCreatePod", f"Failed to create pod: {err}")
            raise
        log.info("created pod %s/%s for its ShadowPod", meta["namespace"], meta["name"])
        await self._event(shadow, False, "CreatedPod", "Successfully created pod from ShadowPod")
        return None

    async def _remapper(self, origin: str) -> Callable[[str], str]:
        """How addresses of cluster ``origin`` are reached from here (unchanged without the
        networking module, or without a Configuration for that peer)."""
        try:
            found = await self.kube.list_items(
                CONFIGURATIONS, f"{REMOTE_CLUSTER_ID_LABEL}={origin}"
            )
        except KubeError as err:
            if err.status in (403, 404):
                return str
            raise
        return forge.configuration_remapper(found[0]) if found else str

    async def _sync_metadata(self, shadow: JSONObject, pod: JSONObject) -> None:
        body = forge.metadata_apply(pod, shadow)
        if body is None:
            return
        meta = meta_of(pod)
        query = {"fieldManager": forge.FIELD_MANAGER, "force": "true"}
        try:
            await self.kube.request(
                "PATCH",
                _pods_path(meta["namespace"], meta["name"]),
                body,
                query=query,
                content_type="application/apply-patch+yaml",
            )
        except KubeError as err:
            if err.status == 404:
                return  # gone meanwhile: its DELETED event brings the key back
            await self._event(
                shadow, True, "FailedUpdatePod", f"Failed to update pod: {describe_error(err)}"
            )
            raise

    async def _mirror_phase(self, shadow: JSONObject, pod: JSONObject) -> None:
        phase = forge.pod_phase(pod)
        if forge.shadow_phase(shadow) == phase:
            return
        meta = meta_of(shadow)
        patch = {"status": {"phase": phase}}
        try:
            await self.kube.merge_patch(
                f"{_shadow_path(meta['namespace'], meta['name'])}/status", patch
            )
        except KubeError as err:
            if err.status != 404:
                raise


def build_controller(context: ControllerContext, shadow_pods: Informer) -> Controller:
    """The hosted ``shadowpod`` controller over the (shared) ShadowPod informer."""
    return ShadowPodController(context, shadow_pods).controller()
