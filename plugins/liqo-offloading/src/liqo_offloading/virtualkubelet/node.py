"""The virtual Node and its Lease (virtual-kubelet's ``node`` package with Liqo's node
provider), apart from pod reflection and from the provider client.

The controller registers Node ``--nodename`` (adopting an existing one after a restart),
keeps its labels, annotations and taints in step with the VirtualNode (keys others set on
the Node are kept; those the VirtualNode drops are removed, as upstream, for changes seen
while running), and its status: capacity = allocatable = ``spec.resourceQuota.hard``,
images, InternalIP ``--node-ip``, kubelet port, conditions (see :mod:`.nodeforge`). The
status is written when it changes and at least every :data:`STATUS_UPDATE_INTERVAL`; the
Lease ``kube-node-lease/<nodename>`` is renewed every quarter of
``--node-lease-duration`` while the provider's API server answers (checked every
``--node-ping-interval``: through the ForeignCluster's ``APIServerStatus`` when it has one,
else by calling it). A Node deleted while its VirtualNode is being deleted, or has
``spec.createNode: false``, is not registered again (the VirtualNode controller is
removing it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from liqo_core.api.consts import CONDITION_API_SERVER, STATUS_ESTABLISHED, STATUS_NONE
from liqo_core.kube import Backoff, Informer, Informers, Kube, KubeError, describe_error
from liqo_offloading.virtualkubelet.events import now
from liqo_offloading.virtualkubelet.nodeforge import (
    JSONObject,
    NodeHealth,
    NodeMetadata,
    base_labels,
    capacity,
    foreign_cluster_health,
    merge_owned,
    merge_taints,
    node_status,
    stamp_conditions,
    virtual_node_metadata,
    without_times,
)
from liqo_offloading.virtualkubelet.options import VirtualKubeletOptions
from liqo_offloading.virtualkubelet.remote import RemoteCluster

log = logging.getLogger(__name__)

#: Seconds between status writes when nothing changes (virtual-kubelet's default).
STATUS_UPDATE_INTERVAL = 60.0
#: Kubelet version reported when the home API server does not tell its own.
DEFAULT_VERSION = "v1.25.0"
LEASES = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"


def microtime() -> str:
    """Now, as a Lease ``MicroTime``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def api_server_state(fc: Mapping[str, Any] | None) -> str:
    """The ForeignCluster's ``APIServerStatus`` (``None`` when it has none)."""
    for condition in ((fc or {}).get("status") or {}).get("conditions") or ():
        if condition.get("type") == CONDITION_API_SERVER:
            return str(condition.get("status") or STATUS_NONE)
    return STATUS_NONE


def status_patch(live: Mapping[str, Any], desired: Mapping[str, Any]) -> JSONObject:
    """The merge patch of a Node status towards ``desired`` (resources dropped from the
    capacity are removed)."""
    patch = dict(desired)
    for key in ("capacity", "allocatable"):
        gone = {k: None for k in (live.get(key) or {}) if k not in desired.get(key, {})}
        patch[key] = {**desired.get(key, {}), **gone}
    return patch


def status_differs(live: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    """Whether the Node's status differs from ``desired`` (times aside)."""
    for key, value in desired.items():
        have = live.get(key)
        if key == "conditions":
            if without_times(have or []) != value:
                return True
        elif key == "nodeInfo":
            if any((have or {}).get(k) != v for k, v in value.items()):
                return True
        elif have != value:
            return True
    return False


class NodeController:
    """Keeps the virtual Node, its status and its Lease."""

    def __init__(
        self,
        options: VirtualKubeletOptions,
        local: Kube,
        *,
        informers: Informers,
        virtual_node: Informer,
        foreign_cluster: Informer,
        remote: RemoteCluster,
    ) -> None:
        self.options = options
        self.local = local
        self.remote = remote
        self.virtual_node = virtual_node
        self.foreign_cluster = foreign_cluster
        self.nodes = informers.get(
            "/api/v1/nodes", field_selector=f"metadata.name={options.node_name}"
        )
        self._wake = asyncio.Event()
        for informer in (self.nodes, virtual_node, foreign_cluster):
            informer.add_handler(lambda _kind, _obj: self._wake.set())
        self._applied = NodeMetadata({}, {}, [])
        self._last_status = 0.0
        self.api_server_error: str | None = None
        self.kubelet_version = DEFAULT_VERSION
        #: Set once the Node is registered.
        self.registered = asyncio.Event()
        self._backoff = Backoff(initial=0.5, cap=10.0, jitter=0.2)

    @property
    def path(self) -> str:
        return f"/api/v1/nodes/{quote(self.options.node_name, safe='')}"

    def vn(self) -> JSONObject | None:
        """The VirtualNode, as last seen."""
        items = self.virtual_node.items()
        return items[0] if items else None

    def node(self) -> JSONObject | None:
        """The Node, as last seen."""
        return self.nodes.cache.get(self.options.node_name)

    def health(self) -> NodeHealth:
        """The inputs of the Node's conditions, now."""
        fc = next(iter(self.foreign_cluster.items()), None)
        enabled, established = foreign_cluster_health(fc)
        return NodeHealth(
            allocatable=capacity(self.vn()),
            check_network=self.options.node_check_network,
            networking_enabled=enabled,
            network_ready=established,
            api_server_error=self.api_server_error,
        )

    async def run(self) -> None:
        """Keep the Node until cancelled (the informers are the caller's to start)."""
        await asyncio.gather(self.nodes.wait_synced(), self.virtual_node.wait_synced())
        self.kubelet_version = await self._version()
        self._applied = virtual_node_metadata(self.vn())
        tasks = [asyncio.ensure_future(loop()) for loop in (self._reconcile_loop, self._lease_loop)]
        tasks.append(asyncio.ensure_future(self._ping_loop()))
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _version(self) -> str:
        try:
            answer = await self.local.request("GET", "/version")
        except Exception as err:
            log.warning(
                "cannot read the API server version (%s): using %s",
                describe_error(err),
                DEFAULT_VERSION,
            )
            return DEFAULT_VERSION
        return str(answer.get("gitVersion") or DEFAULT_VERSION)

    # --- Node ---------------------------------------------------------------------------------

    async def _reconcile_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                await self.reconcile()
                self._backoff.reset()
                delay = max(0.0, self._last_status + STATUS_UPDATE_INTERVAL - loop.time())
            except Exception as err:
                delay = self._backoff.next_delay()
                log.warning(
                    "node %s: %s (retrying in %.1fs)",
                    self.options.node_name,
                    describe_error(err),
                    delay,
                )
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()

    def _may_register(self, vn: Mapping[str, Any] | None) -> bool:
        if vn is None:
            return False
        if (vn.get("metadata") or {}).get("deletionTimestamp"):
            return False
        return (vn.get("spec") or {}).get("createNode") is not False

    async def reconcile(self) -> None:
        """Converge the Node once."""
        vn, node = self.vn(), self.node()
        if node is None:
            if not self._may_register(vn):
                return
            node = await self._register(vn)
            if node is None:
                return
        else:
            node = await self._sync_metadata(node, vn)
        await self._sync_status(node, vn)
        self.registered.set()

    async def _register(self, vn: Mapping[str, Any] | None) -> JSONObject | None:
        desired = virtual_node_metadata(vn)
        labels = {**base_labels(self.options), **desired.labels}
        annotations = {**self.options.node_extra_annotations, **desired.annotations}
        body: JSONObject = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": self.options.node_name,
                "labels": labels,
                "annotations": annotations,
            },
            "spec": {"taints": [dict(t) for t in desired.taints]},
        }
        provider_id = ((vn or {}).get("spec") or {}).get("providerID")
        if provider_id:
            body["spec"]["providerID"] = provider_id
        created = await self.local.create("/api/v1/nodes", body)
        self._applied = desired
        if created is None:  # registered meanwhile: the informer will show it
            return None
        log.info("registered node %s", self.options.node_name)
        return created

    async def _sync_metadata(self, node: JSONObject, vn: Mapping[str, Any] | None) -> JSONObject:
        meta = node.get("metadata") or {}
        desired = virtual_node_metadata(vn)
        applied = self._applied
        labels = merge_owned(
            meta.get("labels") or {},
            applied.labels,
            {**base_labels(self.options), **desired.labels},
        )
        annotations = merge_owned(
            meta.get("annotations") or {},
            applied.annotations,
            {**self.options.node_extra_annotations, **desired.annotations},
        )
        taints = merge_taints(
            (node.get("spec") or {}).get("taints") or [], applied.taints, desired.taints
        )
        patch: JSONObject = {}
        metadata: JSONObject = {}
        for key, value, live in (
            ("labels", labels, meta.get("labels")),
            ("annotations", annotations, meta.get("annotations")),
        ):
            have = live or {}
            if value != have:
                metadata[key] = {**value, **{k: None for k in have if k not in value}}
        if metadata:
            patch["metadata"] = {**metadata, "resourceVersion": meta.get("resourceVersion")}
        if taints != ((node.get("spec") or {}).get("taints") or []):
            patch["spec"] = {"taints": taints}
            patch.setdefault("metadata", {"resourceVersion": meta.get("resourceVersion")})
        self._applied = desired
        if not patch:
            return node
        return await self.local.merge_patch(self.path, patch)

    async def _sync_status(self, node: JSONObject, vn: Mapping[str, Any] | None) -> None:
        loop = asyncio.get_running_loop()
        desired = node_status(self.options, vn, self.health(), self.kubelet_version)
        live = node.get("status") or {}
        due = loop.time() >= self._last_status + STATUS_UPDATE_INTERVAL
        if not due and not status_differs(live, desired):
            return
        desired["conditions"] = stamp_conditions(
            desired["conditions"], live.get("conditions") or [], now()
        )
        await self.local.merge_patch(f"{self.path}/status", {"status": status_patch(live, desired)})
        self._last_status = loop.time()

    # --- Lease ---------------------------------------------------------------------------------

    async def _lease_loop(self) -> None:
        interval = max(self.options.node_lease_duration / 4, 0.5)
        while True:
            if self.node() is not None and self.api_server_error is None:
                try:
                    await self.renew_lease()
                except Exception as err:
                    log.warning(
                        "cannot renew the lease of node %s: %s",
                        self.options.node_name,
                        describe_error(err),
                    )
            await asyncio.sleep(interval)

    async def renew_lease(self) -> None:
        """Renew (or create) Lease ``kube-node-lease/<nodename>``, owned by the Node."""
        node = self.node()
        name = self.options.node_name
        spec = {
            "holderIdentity": name,
            "leaseDurationSeconds": max(1, round(self.options.node_lease_duration)),
            "renewTime": microtime(),
        }
        owner = []
        if node is not None:
            owner = [
                {"apiVersion": "v1", "kind": "Node", "name": name, "uid": node["metadata"]["uid"]}
            ]
        path = f"{LEASES}/{quote(name, safe='')}"
        try:
            await self.local.merge_patch(
                path, {"metadata": {"ownerReferences": owner}, "spec": spec}
            )
        except KubeError as err:
            if err.status != 404:
                raise
            body = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {
                    "name": name,
                    "namespace": "kube-node-lease",
                    "ownerReferences": owner,
                },
                "spec": spec,
            }
            await self.local.create(LEASES, body)

    # --- Remote API server ------------------------------------------------------------------

    async def _ping_loop(self) -> None:
        interval = self.options.node_ping_interval
        if interval <= 0:
            return
        while True:
            error = await self.check_api_server()
            if error != self.api_server_error:
                if error is None:
                    log.info("the provider's API server answers again")
                else:
                    log.warning("the provider's API server is not ready: %s", error)
                self.api_server_error = error
                self._wake.set()
            await asyncio.sleep(interval)

    async def check_api_server(self) -> str | None:
        """Why the provider's API server is not usable (``None``: it is): the
        ForeignCluster's ``APIServerStatus`` when set, else a direct call."""
        state = api_server_state(next(iter(self.foreign_cluster.items()), None))
        if state == STATUS_ESTABLISHED:
            return None
        if state != STATUS_NONE:
            return f"the ForeignCluster reports APIServerStatus {state}"
        return await self.remote.ping()
