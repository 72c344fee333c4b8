"""System-privileged store access for in-process controllers (the ``InternalAPI`` protocol)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from . import errors
from .engine import INTERNAL, Context, DeleteOptions, Engine, clone
from .store import CLOSED
from .types import JSON, ResourceType, WatchEvent


class InternalClient:
    """Implements :class:`~.types.InternalAPI` over the engine (no authn, RBAC, admission).

    Objects handed out are copies: callers may modify them and pass them back to
    ``update``, whose resourceVersion check then applies as for any client.
    """

    def __init__(self, engine: Engine, manager: str = "kube-controller-manager") -> None:
        self.engine = engine
        self.ctx = Context(field_manager=manager)

    def resource_type(self, group: str, resource: str) -> ResourceType | None:
        """The stored type of ``resource`` in ``group`` (None if not served)."""
        return self.engine.registry.storage(group, resource)

    def _rt(self, group: str, resource: str) -> ResourceType:
        rt = self.resource_type(group, resource)
        if rt is None:
            raise errors.not_found_path()
        return rt

    def get(self, group: str, resource: str, namespace: str, name: str) -> JSON | None:
        """A copy of the object, or None."""
        rt = self.resource_type(group, resource)
        if rt is None:
            return None
        obj = self.engine.store.get(self.engine.key(rt), namespace if rt.namespaced else "", name)
        return None if obj is None else clone(self.engine.at_version(rt, obj))

    def list(self, group: str, resource: str, namespace: str | None = None) -> list[JSON]:
        """Copies of all objects (in one namespace if given)."""
        rt = self.resource_type(group, resource)
        if rt is None:
            return []
        items = self.engine.store.list(self.engine.key(rt), namespace)
        if self.engine.converts(rt):
            items = [self.engine.at_version(rt, o) for o in items]
        return clone(items)  # type: ignore[no-any-return]

    async def create(self, group: str, resource: str, obj: JSON) -> JSON:
        """Create ``obj`` (namespace from its metadata)."""
        rt = self._rt(group, resource)
        body = clone(obj)
        ns = (body.get("metadata") or {}).get("namespace", "")
        return clone(await self.engine.create(rt, ns, body, self.ctx))  # type: ignore[no-any-return]

    async def update(self, group: str, resource: str, obj: JSON, subresource: str = "") -> JSON:
        """Replace ``obj`` (or its subresource); 409 if its resourceVersion is stale."""
        rt = self._rt(group, resource)
        body = clone(obj)
        m = body.get("metadata") or {}
        out = await self.engine.update(
            rt, m.get("namespace", ""), m.get("name", ""), body, self.ctx, subresource=subresource
        )
        return clone(out)  # type: ignore[no-any-return]

    async def delete(self, group: str, resource: str, namespace: str, name: str) -> None:
        """Delete with background propagation."""
        rt = self._rt(group, resource)
        await self.engine.delete(rt, namespace, name, DeleteOptions(), INTERNAL)

    async def watch(self, group: str, resource: str) -> AsyncIterator[WatchEvent]:
        """Live events from now on, until the consumer stops iterating."""
        store = self.engine.store
        rt = self.resource_type(group, resource)
        key = self.engine.key(rt) if rt is not None else (group, resource)
        watcher = store.watch(key, None, None)
        try:
            while True:
                event = await watcher.queue.get()
                if event.type == CLOSED:
                    return
                obj = self.engine.at_version(rt, event.obj) if rt is not None else event.obj
                yield WatchEvent(event.type, clone(obj))
        finally:
            store.unwatch(watcher)
