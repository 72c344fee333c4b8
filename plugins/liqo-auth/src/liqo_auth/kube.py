"""The module's asynchronous API access to the cluster its kopf operator watches.

Clients are built from ``memo.kube_target``, the target the operator itself logs in to,
re-read for every client so rotated credentials are picked up.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote, urlencode

from kubernetes_asyncio import client

from liqo_core.kube import JSONObject, KubeTarget, api_status, new_api_client

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"


@asynccontextmanager
async def operator_api(target: KubeTarget) -> AsyncIterator[Api]:
    """An :class:`Api` for ``target`` (``memo.kube_target``: the operator's cluster and
    credentials), closed on exit."""
    api_client = await new_api_client(target)
    try:
        yield Api(api_client)
    finally:
        await api_client.close()


class Api:
    """Plain-JSON REST calls (objects stay dicts) over one client."""

    def __init__(self, api_client: client.ApiClient) -> None:
        self.client = api_client

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> JSONObject:
        """Send one request; non-2xx answers raise ``ApiException``."""
        if query:
            path = f"{path}?{urlencode(query)}"
        result = await self.client.call_api(
            path,
            method,
            header_params={"Accept": "application/json", "Content-Type": content_type},
            body=body,
            response_types_map={200: "object", 201: "object", 202: "object"},
            auth_settings=["BearerToken"],
            _return_http_data_only=True,
        )
        return dict(result) if isinstance(result, dict) else {}

    async def get(self, path: str) -> JSONObject | None:
        """GET ``path``; ``None`` when it does not exist."""
        try:
            return await self.call("GET", path)
        except Exception as exc:
            if api_status(exc) == 404:
                return None
            raise

    async def list_items(self, path: str, label_selector: str | None = None) -> list[JSONObject]:
        """The items of a list, optionally by label selector."""
        query = {"labelSelector": label_selector} if label_selector else None
        answer = await self.call("GET", path, query=query)
        return [dict(item) for item in answer.get("items") or []]

    async def create(self, path: str, body: JSONObject) -> JSONObject | None:
        """POST ``body``; ``None`` when an object of that name exists already."""
        try:
            return await self.call("POST", path, body)
        except Exception as exc:
            if api_status(exc) == 409:
                return None
            raise

    async def merge_patch(self, path: str, patch: JSONObject) -> JSONObject:
        """Merge-patch ``path``."""
        return await self.call("PATCH", path, patch, content_type=MERGE_PATCH)

    async def json_patch(self, path: str, operations: list[JSONObject]) -> JSONObject:
        """JSON-patch ``path`` (for test-and-set updates)."""
        return await self.call("PATCH", path, operations, content_type=JSON_PATCH)

    async def delete(self, path: str) -> bool:
        """DELETE ``path``; ``False`` when it was gone already."""
        try:
            await self.call("DELETE", path)
        except Exception as exc:
            if api_status(exc) == 404:
                return False
            raise
        return True


def secrets_path(namespace: str, name: str | None = None) -> str:
    """REST path of the Secrets of ``namespace`` (or of one of them)."""
    base = f"/api/v1/namespaces/{quote(namespace)}/secrets"
    return f"{base}/{quote(name)}" if name else base


def dumps(obj: Any) -> str:
    """Compact JSON (for messages)."""
    return json.dumps(obj, separators=(",", ":"))
