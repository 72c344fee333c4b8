"""The EndpointSlice controller, as kube-controller-manager runs it.

For every Service with a selector (not ``ExternalName``), the pods of its namespace that
match the selector and have an IP become endpoints: address, ``nodeName``, ``targetRef``
and conditions (``ready`` from the pod's Ready condition, or always with
``publishNotReadyAddresses``; ``serving`` likewise; ``terminating`` once the pod is being
deleted, which also makes it not ready). Each Service port resolves against each pod
(``targetPort`` by number or by container port name; a pod without the named port leaves
that port out), endpoints with the same ports share slices of at most
:data:`MAX_ENDPOINTS`. A Service without endpoints keeps one empty slice, as upstream.

Slices carry ``kubernetes.io/service-name``, ``endpointslice.kubernetes.io/managed-by:
endpointslice-controller.k8s.io`` and the Service's labels, and a controller reference to
the Service (so they go with it). Only slices managed by this controller are touched:
Services without a selector keep the slices their owner writes (Liqo's reflection, say).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from liqo_core.kube import Controller, Informer, Kube, KubeError, split_key
from liqo_core.sandbox.controllerruntime import work_queue

JSON = dict[str, Any]
log = logging.getLogger(__name__)

SERVICE_NAME = "kubernetes.io/service-name"
MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
CONTROLLER = "endpointslice-controller.k8s.io"
MAX_ENDPOINTS = 100
API = "/apis/discovery.k8s.io/v1"


def pod_ready(pod: JSON) -> bool:
    """The pod's Ready condition is True."""
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def selector_matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    """A Service selector (equality on every key) against pod labels."""
    return all(labels.get(key) == value for key, value in selector.items())


def _container_port(pod: JSON, name: str, protocol: str) -> int | None:
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == name and port.get("protocol", "TCP") == protocol:
                return int(port["containerPort"])
    return None


def endpoint_ports(service: JSON, pod: JSON) -> tuple[tuple[str, str, int, str], ...]:
    """(name, protocol, port, appProtocol) of every Service port this pod serves."""
    ports = []
    for port in (service.get("spec") or {}).get("ports") or []:
        protocol = port.get("protocol", "TCP")
        target = port.get("targetPort", port.get("port"))
        if isinstance(target, str) and not target.isdigit():
            number = _container_port(pod, target, protocol)
            if number is None:
                continue
        else:
            number = int(target)
        ports.append((port.get("name", ""), protocol, number, port.get("appProtocol", "")))
    return tuple(ports)


def endpoint(service: JSON, pod: JSON) -> JSON:
    """The pod as an endpoint of the Service."""
    meta = pod["metadata"]
    terminating = bool(meta.get("deletionTimestamp"))
    ready = pod_ready(pod)
    if (service.get("spec") or {}).get("publishNotReadyAddresses"):
        ready = True
    entry: JSON = {
        "addresses": [pod["status"]["podIP"]],
        "conditions": {
            "ready": ready and not terminating,
            "serving": ready,
            "terminating": terminating,
        },
        "targetRef": {
            "kind": "Pod",
            "namespace": meta["namespace"],
            "name": meta["name"],
            "uid": meta["uid"],
        },
    }
    node = (pod.get("spec") or {}).get("nodeName")
    if node:
        entry["nodeName"] = node
    return entry


def _ports_json(ports: tuple[tuple[str, str, int, str], ...]) -> list[JSON]:
    out = []
    for name, protocol, number, app in ports:
        entry: JSON = {"name": name, "protocol": protocol, "port": number}
        if app:
            entry["appProtocol"] = app
        out.append(entry)
    return out


def desired_slices(service: JSON, pods: list[JSON]) -> list[JSON]:
    """The slices (without names) the Service should have, in a stable order."""
    groups: dict[tuple[tuple[str, str, int, str], ...], list[JSON]] = defaultdict(list)
    selector = (service.get("spec") or {}).get("selector") or {}
    for pod in sorted(pods, key=lambda p: str(p["metadata"]["name"])):
        status = pod.get("status") or {}
        if not status.get("podIP") or status.get("phase") in ("Succeeded", "Failed"):
            continue
        if not selector_matches(selector, pod["metadata"].get("labels") or {}):
            continue
        groups[endpoint_ports(service, pod)].append(endpoint(service, pod))
    meta = service["metadata"]
    labels = {**(meta.get("labels") or {}), SERVICE_NAME: meta["name"], MANAGED_BY: CONTROLLER}
    owner = {
        "apiVersion": "v1",
        "kind": "Service",
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }

    def slice_of(ports: list[JSON], endpoints: list[JSON]) -> JSON:
        return {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "namespace": meta["namespace"],
                "labels": labels,
                "ownerReferences": [owner],
            },
            "addressType": "IPv4",
            "endpoints": endpoints,
            "ports": ports,
        }

    slices = [
        slice_of(_ports_json(ports), endpoints[start : start + MAX_ENDPOINTS])
        for ports, endpoints in sorted(groups.items())
        for start in range(0, len(endpoints), MAX_ENDPOINTS)
    ]
    return slices or [slice_of([], [])]


def _content(obj: JSON) -> tuple[Any, ...]:
    meta = obj.get("metadata") or {}
    return (
        meta.get("labels") or {},
        [ref.get("uid") for ref in meta.get("ownerReferences") or []],
        obj.get("addressType"),
        obj.get("endpoints") or [],
        obj.get("ports") or [],
    )


class EndpointSliceController:
    """Keeps the managed EndpointSlices of every Service equal to its ready pods."""

    def __init__(self, kube: Kube, services: Informer, pods: Informer, slices: Informer) -> None:
        self.kube = kube
        self.services = services
        self.pods = pods
        self.slices = slices
        self.controller = Controller("endpointslice-controller", self.reconcile, queue=work_queue())
        self.controller.watch(services)
        self.controller.watch(slices, self._slice_owner)
        self.controller.needs(pods)
        pods.add_handler(self._on_pod)

    @staticmethod
    def _slice_owner(obj: JSON) -> str | None:
        labels = obj["metadata"].get("labels") or {}
        if labels.get(MANAGED_BY) != CONTROLLER or not labels.get(SERVICE_NAME):
            return None
        return f"{obj['metadata']['namespace']}/{labels[SERVICE_NAME]}"

    def _on_pod(self, kind: str, pod: JSON) -> None:
        namespace = pod["metadata"].get("namespace")
        for service in self.services.items():
            same_namespace = service["metadata"].get("namespace") == namespace
            if same_namespace and (service.get("spec") or {}).get("selector"):
                self.controller.queue.add(f"{namespace}/{service['metadata']['name']}")

    def managed(self, namespace: str, name: str) -> list[JSON]:
        """This controller's cached slices of Service ``namespace/name``."""
        return sorted(
            (
                s
                for s in self.slices.items()
                if s["metadata"].get("namespace") == namespace
                and self._slice_owner(s) == f"{namespace}/{name}"
            ),
            key=lambda s: str(s["metadata"]["name"]),
        )

    async def reconcile(self, key: str) -> None:
        """Converge the slices of one Service."""
        found, name = split_key(key)
        namespace = found or ""
        service = self.services.cache.get(key)
        existing = self.managed(namespace, name)
        spec = (service or {}).get("spec") or {}
        if service is None or not spec.get("selector") or spec.get("type") == "ExternalName":
            desired: list[JSON] = []
        else:
            pods = [p for p in self.pods.items() if p["metadata"].get("namespace") == namespace]
            desired = desired_slices(service, pods)
        collection = f"{API}/namespaces/{namespace}/endpointslices"
        for index, wanted in enumerate(desired):
            if index < len(existing):
                current = existing[index]
                if _content(current) == _content(wanted):
                    continue
                body = dict(wanted)
                body["metadata"] = {
                    **wanted["metadata"],
                    "name": current["metadata"]["name"],
                    "resourceVersion": current["metadata"]["resourceVersion"],
                }
                await self.kube.request("PUT", f"{collection}/{current['metadata']['name']}", body)
            else:
                body = dict(wanted)
                body["metadata"] = {**wanted["metadata"], "generateName": f"{name}-"}
                await self.kube.request("POST", collection, body)
        for surplus in existing[len(desired) :]:
            try:
                await self.kube.delete(f"{collection}/{surplus['metadata']['name']}")
            except KubeError as err:
                if err.status != 404:
                    raise

    async def run(self) -> None:
        """Run until cancelled."""
        await self.controller.run()
