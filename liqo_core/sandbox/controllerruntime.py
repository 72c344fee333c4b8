"""What the sandbox's controllers and kubelets share, as controller-runtime provides it to
Kubernetes controllers: owned objects from an informer's cache, pods created from an
owner's template, status written through the ``status`` subresource, and the loop that
works a queue once the caches are synced. Informers, queues and the loop itself are
:mod:`liqo_core.kube`'s, as for every controller of Liqo.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from liqo_core.kube import Controller, Informer, ItemBackoff, Kube, KubeError, WorkQueue
from liqo_core.sandbox.ownership import controller_of, is_controlled_by, pod_from_template

JSON = dict[str, Any]

RETRY_BASE = 0.1
RETRY_CAP = 10.0
"""A failed reconcile is retried after 0.1 s, doubling up to 10 s (a sandbox is small)."""


def work_queue() -> WorkQueue:
    """A queue for one sandbox controller (retries back off from :data:`RETRY_BASE`)."""
    return WorkQueue(ItemBackoff(base=RETRY_BASE, cap=RETRY_CAP))


def owned_by(informer: Informer, owner: JSON) -> list[JSON]:
    """The cached objects ``owner`` (same namespace) is the controller of."""
    namespace = owner["metadata"]["namespace"]
    return [
        obj
        for obj in informer.items()
        if obj["metadata"].get("namespace") == namespace and is_controlled_by(obj, owner)
    ]


def owner_key(obj: JSON, kind: str) -> str | None:
    """``namespace/name`` of the object's controller if it is a ``kind``, else ``None``."""
    ref = controller_of(obj)
    if ref and ref.get("kind") == kind:
        return f"{obj['metadata']['namespace']}/{ref['name']}"
    return None


def pods_path(namespace: str) -> str:
    """The pod collection of ``namespace``."""
    return f"/api/v1/namespaces/{namespace}/pods"


async def create_pod(
    kube: Kube,
    template: JSON,
    owner: JSON,
    labels: Mapping[str, str] | None = None,
    *,
    customise: Callable[[JSON], JSON] | None = None,
) -> JSON:
    """Create a pod named ``<owner>-<random>`` from ``template`` with a controller
    reference to ``owner`` (``customise`` may change it first); returns the created pod."""
    pod = pod_from_template(template, owner, f"{owner['metadata']['name']}-", dict(labels or {}))
    if customise is not None:
        pod = customise(pod)
    return await kube.request("POST", pods_path(owner["metadata"]["namespace"]), pod)


def status_unchanged(current: JSON | None, status: Mapping[str, Any]) -> bool:
    """Whether ``current`` already holds every field of ``status`` (absent counts as 0)."""
    current = current or {}
    return all(current.get(k, 0) == v for k, v in status.items())


def status_path(collection: str, obj: JSON) -> str:
    """The ``status`` subresource of ``obj``; ``collection`` is its API group/version and
    resource, e.g. ``apis/apps/v1/replicasets`` or ``api/v1/pods``."""
    meta = obj["metadata"]
    prefix, _, resource = collection.rpartition("/")
    return f"/{prefix}/namespaces/{meta['namespace']}/{resource}/{meta['name']}/status"


async def patch_status(kube: Kube, path: str, status: JSON) -> None:
    """Merge-patch ``status`` at ``path``; an object deleted meanwhile is not an error."""
    try:
        await kube.merge_patch(path, {"status": status})
    except KubeError as err:
        if err.status != 404:
            raise


async def run_when_synced(
    queue: WorkQueue,
    reconcile: Callable[[str], Awaitable[None]],
    name: str,
    *informers: Informer,
    before: Callable[[], None] | None = None,
) -> None:
    """Wait for every informer's first list, call ``before``, then work ``queue`` forever."""
    controller = Controller(name, reconcile, queue=queue)
    controller.needs(*informers)
    await controller.run(before)
