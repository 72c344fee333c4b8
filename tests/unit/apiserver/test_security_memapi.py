"""An in-memory InternalAPI for unit tests of the security layer (no server needed).

It keeps objects per (group, resource), assigns uid / resourceVersion, checks
resourceVersion on update (409) and feeds watchers, which is all the security
controllers rely on.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from liqo_core.sandbox.apiserver.types import (
    JSON,
    APIError,
    InternalAPI,
    ResourceType,
    WatchEvent,
)

Key = tuple[str, str]


class MemoryAPI:
    """Objects in dicts; enough of InternalAPI for the security controllers."""

    def __init__(self) -> None:
        self.objects: dict[Key, dict[tuple[str, str], JSON]] = {}
        self.watchers: list[tuple[Key, asyncio.Queue[WatchEvent]]] = []
        self._rv = itertools.count(1)

    def resource_type(self, group: str, resource: str) -> ResourceType | None:
        return None

    def get(self, group: str, resource: str, namespace: str, name: str) -> JSON | None:
        obj = self.objects.get((group, resource), {}).get((namespace, name))
        return copy.deepcopy(obj) if obj is not None else None

    def list(self, group: str, resource: str, namespace: str | None = None) -> list[JSON]:
        return [
            copy.deepcopy(o)
            for (ns, _), o in self.objects.get((group, resource), {}).items()
            if namespace is None or ns == namespace
        ]

    def _emit(self, key: Key, kind: str, obj: JSON) -> None:
        for wkey, queue in self.watchers:
            if wkey == key:
                queue.put_nowait(WatchEvent(kind, copy.deepcopy(obj)))

    async def create(self, group: str, resource: str, obj: JSON) -> JSON:
        obj = copy.deepcopy(obj)
        md = obj.setdefault("metadata", {})
        ident = (md.get("namespace", ""), md["name"])
        store = self.objects.setdefault((group, resource), {})
        if ident in store:
            raise APIError(409, "AlreadyExists", f'{resource} "{md["name"]}" already exists')
        md["uid"] = str(uuid.uuid4())
        md["resourceVersion"] = str(next(self._rv))
        store[ident] = obj
        self._emit((group, resource), "ADDED", obj)
        return copy.deepcopy(obj)

    async def update(self, group: str, resource: str, obj: JSON, subresource: str = "") -> JSON:
        obj = copy.deepcopy(obj)
        md = obj["metadata"]
        ident = (md.get("namespace", ""), md["name"])
        store = self.objects.setdefault((group, resource), {})
        current = store.get(ident)
        if current is None:
            raise APIError(404, "NotFound", f'{resource} "{md["name"]}" not found')
        if md.get("resourceVersion") not in (None, current["metadata"]["resourceVersion"]):
            raise APIError(409, "Conflict", "the object has been modified")
        if subresource:
            merged = copy.deepcopy(current)
            merged["status"] = obj.get("status")
            obj = merged
        obj["metadata"] = {**obj["metadata"], "uid": current["metadata"]["uid"]}
        obj["metadata"]["resourceVersion"] = str(next(self._rv))
        store[ident] = obj
        self._emit((group, resource), "MODIFIED", obj)
        return copy.deepcopy(obj)

    async def delete(self, group: str, resource: str, namespace: str, name: str) -> None:
        obj = self.objects.get((group, resource), {}).pop((namespace, name), None)
        if obj is None:
            raise APIError(404, "NotFound", f'{resource} "{name}" not found')
        self._emit((group, resource), "DELETED", obj)

    async def watch(self, group: str, resource: str) -> AsyncIterator[WatchEvent]:
        queue: asyncio.Queue[WatchEvent] = asyncio.Queue()
        entry = ((group, resource), queue)
        self.watchers.append(entry)
        try:
            while True:
                yield await queue.get()
        finally:
            self.watchers.remove(entry)


async def eventually(check: Callable[[], Any], limit: float = 10.0) -> Any:
    """Poll ``check`` until it returns a truthy value; fail after ``limit`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while True:
        value = check()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {limit}s")
        await asyncio.sleep(0.02)


def start(
    controllers: list[Callable[[InternalAPI], Awaitable[None]]], api: MemoryAPI
) -> list[asyncio.Future[None]]:
    """Run ``controllers`` against ``api`` in the background."""
    return [asyncio.ensure_future(c(api)) for c in controllers]


async def stop(tasks: list[asyncio.Future[None]]) -> None:
    """Cancel background controllers and wait for them to end."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


def sa(namespace: str, name: str) -> JSON:
    """A ServiceAccount manifest."""
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": name, "namespace": namespace},
    }


def binding(
    kind: str, name: str, role_kind: str, role: str, subjects: list[JSON], *, namespace: str = ""
) -> JSON:
    """A RoleBinding / ClusterRoleBinding manifest."""
    md: dict[str, Any] = {"name": name}
    if namespace:
        md["namespace"] = namespace
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": md,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
        "subjects": subjects,
    }


def role(kind: str, name: str, rules: list[JSON], namespace: str = "", **extra: Any) -> JSON:
    """A Role / ClusterRole manifest."""
    md: dict[str, Any] = {"name": name, **extra.pop("metadata", {})}
    if namespace:
        md["namespace"] = namespace
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": md,
        "rules": rules,
        **extra,
    }
