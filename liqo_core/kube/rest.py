"""The one JSON client over kubernetes_asyncio: any path, any verb, watch streams as dicts.

Objects stay plain JSON (what the API sends) rather than generated models, so that every
field, including ones newer than the client, survives a round trip. kubernetes_asyncio is
imported lazily: it costs ~0.4 s, and every liqoctl start would pay it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kubernetes_asyncio import client

    from liqo_core.kube.client import KubeTarget

JSONObject = dict[str, Any]

JSON_CONTENT = "application/json"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"


class KubeError(Exception):
    """A non-2xx answer: ``status`` is the HTTP code, ``reason`` and ``message`` the Status's."""

    def __init__(self, status: int, reason: str, message: str, *, phrase: str = "") -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        #: The HTTP reason phrase (``Not Found``), for logs.
        self.phrase = phrase


class WatchExpiredError(KubeError):
    """The watch's resourceVersion is too old (HTTP 410, as an answer or an ERROR event)."""


class Kube:
    """JSON access to one cluster through an API client (which it closes on :meth:`close`)."""

    def __init__(self, api: client.ApiClient, *, request_timeout: float | None = None) -> None:
        self.api = api
        self.request_timeout = request_timeout
        _read_environment_once(api)
        #: Set once the server answered 401 (credentials expired or revoked): a cached
        #: client seeing it is dropped (see :mod:`liqo_core.kube.clientcache`).
        self.unauthorized = False

    @classmethod
    async def from_target(cls, target: KubeTarget, *, request_timeout: float | None = None) -> Kube:
        """A client for ``target`` (files and tokens are read afresh)."""
        from kubernetes_asyncio import client

        from liqo_core.kube.client import load_configuration

        configuration = await load_configuration(target)
        return cls(client.ApiClient(configuration=configuration), request_timeout=request_timeout)

    @classmethod
    async def from_kubeconfig(
        cls, kubeconfig: bytes | str, *, request_timeout: float | None = None
    ) -> Kube:
        """A client from a kubeconfig document held in memory (e.g. a peer's Secret).

        :raises KubeConfigError: the document is unusable (the message never quotes it).
        """
        from kubernetes_asyncio import client

        from liqo_core.kube.client import configuration_from_kubeconfig

        configuration = await configuration_from_kubeconfig(kubeconfig)
        return cls(client.ApiClient(configuration=configuration), request_timeout=request_timeout)

    async def close(self) -> None:
        """Release the connection pool."""
        await self.api.close()

    async def __aenter__(self) -> Kube:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _call(
        self,
        method: str,
        path: str,
        body: Any,
        *,
        query: Mapping[str, str] | None,
        content_type: str,
        request_timeout: float | None,
    ) -> Any:
        return await self.api.call_api(
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
        content_type: str = JSON_CONTENT,
    ) -> JSONObject:
        """One request; returns the decoded body or raises :class:`KubeError`."""
        response = await self._call(
            method,
            path,
            body,
            query=query,
            content_type=content_type,
            request_timeout=self.request_timeout,
        )
        try:
            raw = await response.read()
        finally:
            response.release()
        if not 200 <= response.status <= 299:
            raise self._failed(response.status, response.reason, raw)
        data = json.loads(raw) if raw else {}
        return data if isinstance(data, dict) else {}

    async def get(self, path: str) -> JSONObject | None:
        """GET ``path``; ``None`` when it does not exist."""
        try:
            return await self.request("GET", path)
        except KubeError as err:
            if err.status == 404:
                return None
            raise

    async def list_items(self, path: str, label_selector: str | None = None) -> list[JSONObject]:
        """The items of a list, optionally by label selector."""
        query = {"labelSelector": label_selector} if label_selector else None
        answer = await self.request("GET", path, query=query)
        return [dict(item) for item in answer.get("items") or []]

    async def create(self, path: str, body: JSONObject) -> JSONObject | None:
        """POST ``body``; ``None`` when an object of that name exists already."""
        try:
            return await self.request("POST", path, body)
        except KubeError as err:
            if err.status == 409:
                return None
            raise

    async def merge_patch(self, path: str, patch: JSONObject) -> JSONObject:
        """JSON merge patch (lists are replaced whole)."""
        return await self.request("PATCH", path, patch, content_type=MERGE_PATCH)

    async def json_patch(self, path: str, operations: list[JSONObject]) -> JSONObject:
        """JSON patch (for test-and-set updates)."""
        return await self.request("PATCH", path, operations, content_type=JSON_PATCH)

    async def delete(self, path: str, options: JSONObject | None = None) -> bool:
        """DELETE with DeleteOptions; ``False`` when already gone (404), or when the
        preconditions of ``options`` failed (409)."""
        body = {"kind": "DeleteOptions", "apiVersion": "v1", **(options or {})}
        try:
            await self.request("DELETE", path, body)
        except KubeError as err:
            if err.status == 404 or (err.status == 409 and options):
                return False
            raise
        return True

    async def watch(
        self,
        path: str,
        resource_version: str,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        timeout_seconds: int = 300,
    ) -> AsyncIterator[JSONObject]:
        """Stream watch events (``{"type": ..., "object": ...}``) from ``resource_version``.

        An expired version (HTTP 410, answered or as an ERROR event) raises
        :class:`WatchExpiredError`; other ERROR events are yielded as they come.
        """
        query = {"watch": "true"}
        if label_selector:
            query["labelSelector"] = label_selector
        if field_selector:
            query["fieldSelector"] = field_selector
        query |= {
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout_seconds),
        }
        response = await self._call(
            "GET",
            path,
            None,
            query=query,
            content_type=JSON_CONTENT,
            request_timeout=timeout_seconds + 30,
        )
        try:
            if response.status != 200:
                raise self._failed(response.status, response.reason, await response.read())
            buffer = b""
            async for chunk in response.content.iter_any():
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    if line.strip():
                        event: JSONObject = json.loads(line)
                        status = event.get("object") or {}
                        if event.get("type") == "ERROR" and status.get("code") == 410:
                            raise WatchExpiredError(
                                410, str(status.get("reason", "")), str(status.get("message", ""))
                            )
                        yield event
        finally:
            response.release()

    def _failed(self, status: int, phrase: str | None, raw: bytes) -> KubeError:
        if status == 401:
            self.unauthorized = True
        return _error(status, phrase, raw)


def _read_environment_once(api: client.ApiClient) -> None:
    """Stop the session re-reading proxy variables and ``~/.netrc`` on every request.

    kubernetes_asyncio's session trusts the environment, so aiohttp scans ``os.environ``
    (twice) and looks for a netrc file per request: about 0.25 ms, a quarter of a busy
    controller's CPU. Kubernetes credentials never come from netrc; proxies do come from
    the environment, so the session keeps trusting it when a proxy variable is set.
    """
    import urllib.request

    session = getattr(getattr(api, "rest_client", None), "pool_manager", None)
    if session is not None and not urllib.request.getproxies_environment():
        session._trust_env = False


def _error(status: int, phrase: str | None, raw: bytes) -> KubeError:
    """The error for a non-2xx answer whose body is (normally) a Status."""
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    message = str(data.get("message", raw[:200].decode(errors="replace")))
    kind = WatchExpiredError if status == 410 else KubeError
    return kind(status, str(data.get("reason", "")), message, phrase=phrase or "")


def api_status(exc: BaseException) -> int | None:
    """The HTTP status of a failed API call, or ``None`` if ``exc`` is not an API error."""
    if isinstance(exc, KubeError):
        return exc.status
    from kubernetes_asyncio.client.exceptions import ApiException

    return exc.status if isinstance(exc, ApiException) else None


def describe_error(exc: BaseException | None) -> str:
    """One short line for logs: ``HTTP <status> <reason>`` for API errors, else type and text."""
    if exc is None:
        return "unknown error"
    status = api_status(exc)
    if status:
        if isinstance(exc, KubeError):
            summary = f"HTTP {status} {exc.phrase or exc.reason}".strip()
            message = " ".join(exc.message.split())[:200]
        else:
            summary = f"HTTP {status} {getattr(exc, 'reason', '') or ''}".strip()
            message = _status_message(getattr(exc, "body", None))
        return f"{summary}: {message}" if message else summary
    text = " ".join(str(exc).split())[:200]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _status_message(body: object) -> str:
    """The ``message`` of a Kubernetes ``Status`` answer, on one line ('' if none)."""
    if isinstance(body, bytes):
        body = body.decode(errors="replace")
    if not isinstance(body, str):
        return ""
    try:
        status = json.loads(body)
    except ValueError:
        return ""
    message = status.get("message") if isinstance(status, dict) else None
    return " ".join(str(message).split())[:200] if message else ""
