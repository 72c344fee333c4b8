"""A thin JSON client over kubernetes_asyncio: any path, any verb, watch streams as dicts.

The sandbox components work on plain JSON (what the API sends) rather than generated
models, so that every field, including ones newer than the client, survives a round trip.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported lazily: it costs ~0.4 s, and every liqoctl start would pay it
    from kubernetes_asyncio import client

JSON = dict[str, Any]

MERGE_PATCH = "application/merge-patch+json"


class KubeError(Exception):
    """A non-2xx answer; ``status`` is the HTTP code and ``reason`` the Status reason."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message


class Kube:
    """JSON access to one cluster, authenticated as its kubeconfig says."""

    def __init__(self, api: client.ApiClient) -> None:
        self._api = api

    @classmethod
    async def from_kubeconfig(cls, path: str) -> Kube:
        """Build a client from a kubeconfig file (its current context)."""
        from kubernetes_asyncio import client, config

        configuration = client.Configuration()
        await config.load_kube_config(config_file=path, client_configuration=configuration)
        return cls(client.ApiClient(configuration=configuration))

    async def close(self) -> None:
        """Release the connection pool."""
        await self._api.close()

    async def _call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: Mapping[str, str] | None = None,
        content_type: str = "application/json",
        request_timeout: float | None = 30.0,
    ) -> Any:
        return await self._api.call_api(
            path,
            method,
            query_params=list((query or {}).items()),
            header_params={"Content-Type": content_type, "Accept": "application/json"},
            body=body,
            auth_settings=["BearerToken"],
            _preload_content=False,
            _request_timeout=request_timeout,
        )

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> JSON:
        """One request; returns the decoded body or raises :class:`KubeError`."""
        response = await self._call(method, path, body, query=query, content_type=content_type)
        try:
            raw = await response.read()
        finally:
            response.release()
        data: JSON = json.loads(raw) if raw else {}
        if not 200 <= response.status <= 299:
            raise KubeError(
                response.status, str(data.get("reason", "")), str(data.get("message", raw[:200]))
            )
        return data

    async def get(self, path: str) -> JSON | None:
        """GET, or None on 404."""
        try:
            return await self.request("GET", path)
        except KubeError as err:
            if err.status == 404:
                return None
            raise

    async def merge_patch(self, path: str, patch: JSON) -> JSON:
        """JSON merge patch (lists are replaced whole)."""
        return await self.request("PATCH", path, patch, content_type=MERGE_PATCH)

    async def delete(self, path: str, options: JSON | None = None) -> bool:
        """DELETE with DeleteOptions; False when already gone (404) or precondition failed."""
        body = {"kind": "DeleteOptions", "apiVersion": "v1", **(options or {})}
        try:
            await self.request("DELETE", path, body)
        except KubeError as err:
            if err.status in (404, 409):
                return False
            raise
        return True

    async def watch(
        self, path: str, resource_version: str, timeout_seconds: int = 300
    ) -> AsyncIterator[JSON]:
        """Stream watch events (``{"type": ..., "object": ...}``) from ``resource_version``."""
        query = {
            "watch": "true",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout_seconds),
        }
        response = await self._call("GET", path, query=query, request_timeout=timeout_seconds + 30)
        try:
            if response.status != 200:
                raw = await response.read()
                data = json.loads(raw) if raw else {}
                raise KubeError(
                    response.status, str(data.get("reason", "")), str(data.get("message", ""))
                )
            buffer = b""
            async for chunk in response.content.iter_any():
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    if line.strip():
                        event: JSON = json.loads(line)
                        yield event
        finally:
            response.release()
