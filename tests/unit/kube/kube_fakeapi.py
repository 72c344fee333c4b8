"""A one-collection API server over plain HTTP whose faults a test controls: expired
versions (compaction), dropped watch connections, and stop/start on the same port."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web
from kubernetes_asyncio import client

from liqo_core.kube import Kube

PATH = "/api/v1/namespaces/ns/configmaps"
JSON = dict[str, Any]


class FakeAPI:
    """ConfigMaps of namespace ``ns``: list, watch (with bookmarks), nothing else."""

    def __init__(self) -> None:
        self.objects: dict[str, JSON] = {}
        self.history: list[tuple[int, str, JSON]] = []
        self.rv = 100
        self.floor = 100
        self.lists = 0
        #: The resourceVersion each watch asked to start from, and its query.
        self.watches: list[JSON] = []
        self.port = 0
        self.expired_as_status = False
        self._changed = asyncio.Event()
        self._watching: dict[int, web.Request] = {}
        self._runner: web.AppRunner | None = None

    # Control.

    async def start(self) -> None:
        """Serve (on the port of the previous start, if any)."""
        app = web.Application()
        app.router.add_get(PATH, self._get)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        """Stop serving: open watches are cut, new connections refused."""
        self.drop_watches()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def client(self) -> Kube:
        """A client of this server."""
        configuration = client.Configuration()
        configuration.host = f"http://127.0.0.1:{self.port}"
        return Kube(client.ApiClient(configuration=configuration), request_timeout=10)

    def put(self, name: str, value: str) -> JSON:
        """Create or update ConfigMap ``name``."""
        self.rv += 1
        kind = "MODIFIED" if name in self.objects else "ADDED"
        obj = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": name,
                "namespace": "ns",
                "resourceVersion": str(self.rv),
                "labels": {"value": value},
            },
            "data": {"value": value},
        }
        self.objects[name] = obj
        self._record(kind, obj)
        return obj

    def delete(self, name: str) -> None:
        """Delete ConfigMap ``name``."""
        self.rv += 1
        obj = self.objects.pop(name)
        gone = {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(self.rv)}}
        self._record("DELETED", gone)

    def bookmark(self) -> None:
        """Advance the version without a change, and send a BOOKMARK to open watches."""
        self.rv += 1
        self._record(
            "BOOKMARK", {"kind": "ConfigMap", "metadata": {"resourceVersion": str(self.rv)}}
        )

    def compact(self) -> None:
        """Forget the history: watches from an older version get 410 Gone."""
        self.floor = self.rv
        self.history.clear()

    def drop_watches(self) -> None:
        """Cut every open watch connection (no clean end of stream)."""
        for request in list(self._watching.values()):
            if request.transport is not None:
                request.transport.abort()
        self._watching.clear()

    def _record(self, kind: str, obj: JSON) -> None:
        self.history.append((self.rv, kind, obj))
        self._changed.set()
        self._changed = asyncio.Event()

    # Serving.

    async def _get(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("watch") == "true":
            return await self._watch(request)
        self.lists += 1
        return web.json_response(
            {
                "kind": "ConfigMapList",
                "apiVersion": "v1",
                "metadata": {"resourceVersion": str(self.rv)},
                "items": list(self.objects.values()),
            }
        )

    async def _watch(self, request: web.Request) -> web.StreamResponse:
        since = int(request.query.get("resourceVersion") or self.rv)
        self.watches.append(dict(request.query))
        gone = {
            "kind": "Status",
            "apiVersion": "v1",
            "status": "Failure",
            "reason": "Expired",
            "message": f"too old resource version: {since} ({self.floor})",
            "code": 410,
        }
        if since < self.floor and self.expired_as_status:
            return web.json_response(gone, status=410)
        stream = web.StreamResponse()
        stream.content_type = "application/json"
        await stream.prepare(request)
        if since < self.floor:
            await stream.write(json.dumps({"type": "ERROR", "object": gone}).encode() + b"\n")
            return stream
        self._watching[id(request)] = request
        bookmarks = request.query.get("allowWatchBookmarks") == "true"
        try:
            while True:
                changed = self._changed
                for rv, kind, obj in self.history:
                    if rv > since and (kind != "BOOKMARK" or bookmarks):
                        await stream.write(
                            json.dumps({"type": kind, "object": obj}).encode() + b"\n"
                        )
                    since = max(since, rv)
                await changed.wait()
        finally:
            self._watching.pop(id(request), None)
