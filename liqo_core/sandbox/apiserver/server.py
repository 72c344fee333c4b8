"""The HTTP side of the emulator: routing, authentication, authorization and the REST verbs.

One ``APIServer`` per emulated cluster. Requests go through Kubernetes' order:
authenticate -> authorize -> (mutating admission -> schema -> validating admission, in
the engine) -> store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import orjson
import yaml
from aiohttp import web

from . import discovery, errors, protobuf, scale
from .builtins import VIRTUAL_TYPES
from .crds import CRDController
from .engine import Admission, Context, DeleteOptions, Engine
from .gc import Collector
from .internal import InternalClient
from .listwatch import ListWatch
from .registry import TypeRegistry
from .responses import Target, error_response, json_response, query_bool, wants_table
from .store import Store
from .types import (
    JSON,
    APIError,
    InternalAPI,
    RequestAttributes,
    ResourceType,
    SubresourceCall,
    SubresourceHandler,
    UserInfo,
)
from .version import VERSION_INFO

log = logging.getLogger(__name__)

RETURNS_DELETED_OBJECT = {
    ("", "pods"),
    ("", "services"),
    ("", "serviceaccounts"),
    ("", "persistentvolumeclaims"),
    ("", "persistentvolumes"),
    ("", "resourcequotas"),
    ("storage.k8s.io", "storageclasses"),
    ("storage.k8s.io", "csidrivers"),
    ("storage.k8s.io", "csinodes"),
}
"""Kinds whose DELETE answers the deleted object rather than a Status (as upstream)."""


class SecurityProvider(Protocol):
    """What the server needs from the security layer (``security.Security``)."""

    @property
    def admission(self) -> Admission:
        """The admission chain run on writes."""

    def authenticate(
        self, headers: Mapping[str, str], peer_cert_der: bytes | None
    ) -> UserInfo | None: ...

    def authorize(self, attrs: RequestAttributes) -> tuple[bool, str]: ...

    def subresource_handlers(self) -> dict[tuple[str, str, str, str], SubresourceHandler]: ...

    def virtual_resources(self) -> dict[tuple[str, str], SubresourceHandler]: ...

    def controllers(self) -> list[Callable[[InternalAPI], Awaitable[None]]]: ...

    async def bootstrap(self) -> None: ...


def _default_manager(request: web.Request) -> str:
    agent = request.headers.get("User-Agent", "")
    return agent.split("/", 1)[0][:128] or "unknown"


DEFAULT_SERVICE_CIDR = "10.96.0.0/12"
"""kube-apiserver's default ``--service-cluster-ip-range``."""


class APIServer:
    """Store, engine, controllers and the aiohttp application of one emulated cluster."""

    def __init__(self, history_size: int = 20000, service_cidr: str = DEFAULT_SERVICE_CIDR) -> None:
        self.registry = TypeRegistry()
        self.store = Store(history_size=history_size)
        self.engine = Engine(self.registry, self.store, service_cidr)
        self.internal = InternalClient(self.engine)
        self.crds = CRDController(self.registry, self.store, self.engine)
        self.collector = Collector(self.engine)
        self.security: SecurityProvider | None = None
        self._sub_handlers: dict[tuple[str, str, str, str], SubresourceHandler] = {}
        self._virtual: dict[tuple[str, str], SubresourceHandler] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.reads = ListWatch(self.registry, self.store, self.engine)

    @property
    def bookmark_interval(self) -> float:
        """Seconds between watch bookmarks (upstream: one minute)."""
        return self.reads.bookmark_interval

    @bookmark_interval.setter
    def bookmark_interval(self, seconds: float) -> None:
        self.reads.bookmark_interval = seconds

    def set_security(self, security: SecurityProvider) -> None:
        """Install the security layer (must happen before ``start``)."""
        self.security = security
        self._sub_handlers = security.subresource_handlers()
        self._virtual = security.virtual_resources()
        for rt in VIRTUAL_TYPES:
            if (rt.group, rt.resource) in self._virtual:
                self.registry.add_virtual(rt)

    async def bootstrap(self) -> None:
        """Create the objects every cluster starts with."""
        ns_rt = self.registry.storage("", "namespaces")
        assert ns_rt is not None
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            if self.store.get(("", "namespaces"), "", ns) is None:
                await self.engine.create(ns_rt, "", {"metadata": {"name": ns}}, Context())
        svc_rt = self.registry.storage("", "services")
        assert svc_rt is not None
        if self.store.get(("", "services"), "default", "kubernetes") is None:
            svc = {
                "metadata": {
                    "name": "kubernetes",
                    "labels": {"component": "apiserver", "provider": "kubernetes"},
                },
                "spec": {
                    # The first address of the range, as kube-apiserver reserves it.
                    "clusterIP": self.engine.services.first_ip,
                    "ports": [{"name": "https", "port": 443, "targetPort": 6443}],
                },
            }
            await self.engine.create(svc_rt, "default", svc, Context())
        if self.security is not None:
            await self.security.bootstrap()

    async def start(self) -> None:
        """Bootstrap and start in-process controllers."""
        self._tasks.append(asyncio.create_task(self.crds.run()))
        self._tasks.append(asyncio.create_task(self.collector.run()))
        await self.bootstrap()
        if self.security is not None:
            for controller in self.security.controllers():
                self._tasks.append(asyncio.create_task(self._run(controller)))

    async def _run(self, controller: Callable[[InternalAPI], Awaitable[None]]) -> None:
        try:
            await controller(self.internal)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("controller %r stopped", controller)

    async def stop(self) -> None:
        """Cancel the controllers."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()

    def app(self) -> web.Application:
        """The aiohttp application serving the Kubernetes API."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    # -- request entry -------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Serve one request (all paths)."""
        try:
            return await self._handle(request)
        except APIError as exc:
            return error_response(exc)
        except (ConnectionResetError, asyncio.CancelledError):
            raise
        except Exception as exc:
            log.exception("internal error serving %s %s", request.method, request.path)
            return error_response(APIError(500, "InternalError", f"Internal error occurred: {exc}"))

    def _user(self, request: web.Request) -> UserInfo:
        assert self.security is not None
        peer: bytes | None = None
        ssl_obj = request.transport.get_extra_info("ssl_object") if request.transport else None
        if ssl_obj is not None:
            peer = ssl_obj.getpeercert(binary_form=True)
        user = self.security.authenticate(request.headers, peer)
        if user is None:
            raise APIError(401, "Unauthorized", "Unauthorized")
        return user

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        user = self._user(request)
        path = request.path.rstrip("/") or "/"
        parts = [p for p in path.split("/") if p]
        if (
            not parts
            or parts[0] not in ("api", "apis")
            or (parts[0] == "api" and len(parts) <= 2)
            or (parts[0] == "apis" and len(parts) <= 3)
        ):
            self._authorize(user, request.method.lower(), resource_request=False, path=path)
            return self._non_resource(request, parts)
        target, collection = self._parse(parts)
        verb = self._verb(request, target, collection)
        if target.rt.namespaced and not target.namespace:
            if target.name:
                raise errors.not_found_path()
            if verb not in ("list", "watch") and not self._virtual.get(
                (target.rt.group, target.rt.resource)
            ):
                raise errors.method_not_allowed()
        self._authorize(
            user,
            verb,
            resource_request=True,
            path=path,
            rt=target.rt,
            namespace=target.namespace,
            name=target.name,
            subresource=target.subresource,
        )
        admission = self.security.admission if self.security is not None else None
        ctx = Context(
            user=user,
            admission=admission,
            field_manager=request.query.get("fieldManager") or _default_manager(request),
            dry_run=request.query.get("dryRun") == "All",
            field_validation=request.query.get("fieldValidation", "Warn"),
        )
        response = await self._dispatch(request, target, collection, verb, ctx)
        for text in dict.fromkeys(ctx.warnings):
            quoted = text.replace("\\", "\\\\").replace('"', '\\"')
            response.headers.add("Warning", f'299 - "{quoted}"')
        return response

    def _authorize(
        self,
        user: UserInfo,
        verb: str,
        *,
        resource_request: bool,
        path: str,
        rt: ResourceType | None = None,
        namespace: str = "",
        name: str = "",
        subresource: str = "",
    ) -> None:
        assert self.security is not None
        attrs = RequestAttributes(
            user=user,
            verb=verb,
            resource_request=resource_request,
            path=path,
            api_group=rt.group if rt else "",
            api_version=rt.version if rt else "",
            resource=rt.resource if rt else "",
            subresource=subresource,
            namespace=namespace,
            name=name,
        )
        allowed, message = self.security.authorize(attrs)
        if not allowed:
            details: JSON = {}
            if rt is not None:
                details = {"name": name, "group": rt.group, "kind": rt.resource}
            raise APIError(403, "Forbidden", message, details)

    def _non_resource(self, request: web.Request, parts: list[str]) -> web.StreamResponse:
        if request.method not in ("GET", "HEAD"):
            raise errors.method_not_allowed()
        head = parts[0] if parts else ""
        if head in ("healthz", "readyz", "livez"):
            return web.Response(text="ok", content_type="text/plain")
        if head == "version":
            return json_response(VERSION_INFO)
        if head == "api":
            if len(parts) == 1:
                return json_response(discovery.core_versions())
            doc = discovery.resource_list(self.registry, "", parts[1], self._extra_subs(""))
            if doc is None:
                raise errors.not_found_path()
            return json_response(doc)
        if head == "apis":
            if len(parts) == 1:
                return json_response(discovery.group_list(self.registry))
            if len(parts) == 2:
                doc = discovery.group(self.registry, parts[1])
            else:
                doc = discovery.resource_list(
                    self.registry, parts[1], parts[2], self._extra_subs(parts[1])
                )
            if doc is None:
                raise errors.not_found_path()
            return json_response(doc)
        if head == "openapi" and len(parts) >= 2 and parts[1] == "v3":
            if len(parts) == 2:
                return json_response(discovery.openapi_root(self.registry))
            rest = parts[2:]
            if rest[0] == "api" and len(rest) == 2:
                doc = discovery.openapi_group_version(self.registry, "", rest[1])
            elif rest[0] == "apis" and len(rest) == 3:
                doc = discovery.openapi_group_version(self.registry, rest[1], rest[2])
            else:
                doc = None
            if doc is None:
                raise errors.not_found_path()
            return json_response(doc)
        raise errors.not_found_path()

    def _extra_subs(self, group: str) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for g, resource, sub, _m in self._sub_handlers:
            if g == group:
                out.setdefault(resource, set()).add(sub)
        return out

    def _parse(self, parts: list[str]) -> tuple[Target, bool]:
        if parts[0] == "api":
            group, version, rest = "", parts[1], parts[2:]
        else:
            group, version, rest = parts[1], parts[2], parts[3:]
        namespace = ""
        if len(rest) >= 3 and rest[0] == "namespaces":
            rt = self.registry.get(group, version, rest[2])
            if rt is not None and rt.namespaced:
                namespace, rest = rest[1], rest[2:]
        rt = self.registry.get(group, version, rest[0])
        if rt is None or len(rest) > 3:
            raise errors.not_found_path()
        name = rest[1] if len(rest) > 1 else ""
        sub = rest[2] if len(rest) > 2 else ""
        if (
            sub
            and sub not in rt.subresources
            and (group, rt.resource, sub) not in {(g, r, s) for g, r, s, _m in self._sub_handlers}
        ):
            raise errors.not_found_path()
        return Target(rt, namespace, name, sub), not name

    def _verb(self, request: web.Request, target: Target, collection: bool) -> str:
        method = request.method
        if method in ("GET", "HEAD"):
            if collection:
                return "watch" if query_bool(request.query.get("watch")) else "list"
            return "get"
        if method == "POST":
            return "create"
        if method == "PUT":
            return "update"
        if method == "PATCH":
            return "patch"
        if method == "DELETE":
            return "deletecollection" if collection else "delete"
        raise errors.method_not_allowed()

    # -- verbs -----------------------------------------------------------------------------

    async def _dispatch(
        self, request: web.Request, target: Target, collection: bool, verb: str, ctx: Context
    ) -> web.StreamResponse:
        rt = target.rt
        handler = self._sub_handlers.get(
            (rt.group, rt.resource, target.subresource, request.method)
        )
        virtual = self._virtual.get((rt.group, rt.resource))
        if virtual is not None or handler is not None:
            if virtual is not None and verb != "create":
                raise errors.method_not_allowed()
            fn = virtual or handler
            assert fn is not None
            body = await self._body(request) if request.can_read_body else None
            attrs = RequestAttributes(
                user=ctx.user,
                verb=verb,
                resource_request=True,
                path=request.path,
                api_group=rt.group,
                api_version=rt.version,
                resource=rt.resource,
                subresource=target.subresource,
                namespace=target.namespace,
                name=target.name,
            )
            call = SubresourceCall(attrs, request.method, body, dict(request.query))
            result = await fn(call, self.internal)
            return json_response(result, 201 if request.method == "POST" else 200)
        if verb not in rt.verbs:
            raise errors.method_not_allowed()
        if verb in ("update", "patch") and not target.name:
            raise errors.method_not_allowed()
        if target.subresource == "scale":
            return await self._scale(request, target, verb, ctx)
        if verb == "get":
            obj = self.engine.get(rt, target.namespace, target.name)
            if wants_table(request):
                return json_response(self.reads.table(request, rt, [obj], {"resourceVersion": ""}))
            return json_response(obj)
        if verb == "list":
            return self.reads.serve_list(request, target)
        if verb == "watch":
            return await self.reads.serve_watch(request, target)
        if verb == "create":
            return await self._create(request, target, ctx)
        if verb == "update":
            body = await self._body(request)
            obj = await self.engine.update(
                rt, target.namespace, target.name, body, ctx, subresource=target.subresource
            )
            return json_response(obj)
        if verb == "patch":
            return await self._patch(request, target, ctx)
        if verb == "delete":
            return await self._delete(request, target, ctx)
        if verb == "deletecollection":
            return await self._delete_collection(request, target, ctx)
        raise errors.method_not_allowed()

    async def _scale(
        self, request: web.Request, target: Target, verb: str, ctx: Context
    ) -> web.Response:
        from . import patch as patches

        rt = target.rt
        info = self.registry.custom(rt.group, rt.resource)
        if info is None:
            paths: dict[str, str] | None = scale.BUILTIN_PATHS
        else:
            version = info.versions.get(rt.version)
            paths = version.scale if version is not None else None
        if paths is None:
            raise errors.not_found_path()
        builtin = info is None
        if verb == "get":
            obj = self.engine.get(rt, target.namespace, target.name)
            return json_response(scale.to_scale(obj, paths, builtin))
        if verb not in ("update", "patch"):
            raise errors.method_not_allowed()
        body: Any
        if verb == "update":
            body = await self._body(request)
        else:
            raw = await request.read()
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise errors.bad_request(f"error decoding patch: {exc}") from exc
        scale_paths = paths

        def fn(live: JSON | None) -> JSON:
            assert live is not None
            current = scale.to_scale(live, scale_paths, builtin)
            if verb == "update":
                wanted: JSON = body
                rv = (wanted.get("metadata") or {}).get("resourceVersion")
                if rv and rv != live["metadata"]["resourceVersion"]:
                    raise errors.stale(rt, target.name)
            elif request.content_type == "application/json-patch+json":
                wanted = patches.apply_json_patch(current, body)
            else:
                wanted = patches.apply_merge_patch(current, body)
            return scale.apply_scale(rt, live, wanted, scale_paths)

        obj = await self.engine.patch(rt, target.namespace, target.name, fn, ctx)
        return json_response(scale.to_scale(obj, paths, builtin))

    async def _body(self, request: web.Request) -> JSON:
        raw = await request.read()
        ctype = request.content_type
        if ctype == "application/vnd.kubernetes.protobuf":
            try:
                return protobuf.decode(raw)
            except protobuf.ProtobufError as exc:
                raise APIError(415, "UnsupportedMediaType", str(exc)) from exc
        if not raw.strip() and request.method == "DELETE":
            return {}
        try:
            value = yaml.safe_load(raw) if "yaml" in ctype else orjson.loads(raw)
        except (orjson.JSONDecodeError, yaml.YAMLError) as exc:
            raise errors.bad_request(f"error decoding request body: {exc}") from exc
        if not isinstance(value, dict):
            raise errors.bad_request("the request body must be a JSON object")
        return value

    async def _create(self, request: web.Request, target: Target, ctx: Context) -> web.Response:
        rt = target.rt
        if target.subresource == "binding" and rt.resource == "pods":
            return await self._bind(request, target, ctx)
        if target.subresource or target.name:
            raise errors.method_not_allowed()
        body = await self._body(request)
        if (body.get("metadata") or {}).get("resourceVersion"):
            raise errors.bad_request("resourceVersion should not be set on objects to be created")
        obj = await self.engine.create(rt, target.namespace, body, ctx)
        return json_response(obj, 201)

    async def _bind(self, request: web.Request, target: Target, ctx: Context) -> web.Response:
        body = await self._body(request)
        node = (body.get("target") or {}).get("name", "")
        rt = target.rt

        def bind(live: JSON | None) -> JSON:
            assert live is not None
            spec = live.setdefault("spec", {})
            if spec.get("nodeName"):
                raise errors.conflict(
                    rt,
                    target.name,
                    f'pod {target.name} is already assigned to node "{spec["nodeName"]}"',
                )
            if live["metadata"].get("deletionTimestamp"):
                raise errors.conflict(rt, target.name, "pod is being deleted, cannot be assigned")
            spec["nodeName"] = node
            return live

        await self.engine.patch(rt, target.namespace, target.name, bind, ctx, subresource="binding")
        return json_response(
            {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "code": 201,
            },
            201,
        )

    async def _patch(self, request: web.Request, target: Target, ctx: Context) -> web.Response:
        from . import patch as patches

        rt = target.rt
        ctype = request.content_type
        raw = await request.read()
        custom = self.registry.custom(rt.group, rt.resource) is not None
        is_apply = ctype == "application/apply-patch+yaml"
        try:
            body = yaml.safe_load(raw) if is_apply else orjson.loads(raw)
        except (orjson.JSONDecodeError, yaml.YAMLError) as exc:
            raise errors.bad_request(f"error decoding patch: {exc}") from exc

        if ctype == "application/json-patch+json":
            if not isinstance(body, list):
                raise errors.bad_request("json patch must be a list of operations")

            def fn(live: JSON | None) -> JSON:
                assert live is not None
                return patches.apply_json_patch(live, body)

        elif ctype == "application/merge-patch+json":
            if not isinstance(body, dict):
                raise errors.bad_request("merge patch must be a JSON object")

            def fn(live: JSON | None) -> JSON:
                assert live is not None
                return patches.apply_merge_patch(live, body)

        elif ctype == "application/strategic-merge-patch+json":
            if custom:
                raise errors.unsupported_media_type(ctype)
            if not isinstance(body, dict):
                raise errors.bad_request("strategic merge patch must be a JSON object")

            def fn(live: JSON | None) -> JSON:
                assert live is not None
                return patches.apply_strategic_merge_patch(live, body, rt.api_version, rt.kind)

        elif is_apply:
            manager = request.query.get("fieldManager", "")
            if not manager:
                raise errors.bad_request("PATCH with apply requires a fieldManager query parameter")
            if not isinstance(body, dict):
                raise errors.bad_request("apply configuration must be an object")
            force = query_bool(request.query.get("force"))
            applied = dict(body)

            def fn(live: JSON | None) -> JSON:
                return patches.apply_server_side(live, applied, manager, force)

        else:
            raise errors.unsupported_media_type(ctype)
        obj = await self.engine.patch(
            rt,
            target.namespace,
            target.name,
            fn,
            ctx,
            subresource=target.subresource,
            create_if_missing=is_apply,
            manager_recorded=is_apply,
        )
        return json_response(obj)

    async def _delete(self, request: web.Request, target: Target, ctx: Context) -> web.Response:
        body = await self._body(request) if request.can_read_body else None
        opts = DeleteOptions.from_body(body, dict(request.query))
        obj, gone = await self.engine.delete(
            rt := target.rt, target.namespace, target.name, opts, ctx
        )
        if gone and (rt.group, rt.resource) not in RETURNS_DELETED_OBJECT:
            details: JSON = {
                "name": target.name,
                "kind": rt.resource,
                "uid": obj["metadata"]["uid"],
            }
            if rt.group:
                details["group"] = rt.group
            return json_response(
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Success",
                    "details": details,
                }
            )
        return json_response(obj)

    async def _delete_collection(
        self, request: web.Request, target: Target, ctx: Context
    ) -> web.Response:
        rt = target.rt
        body = await self._body(request) if request.can_read_body else None
        opts = DeleteOptions.from_body(body, dict(request.query))
        labels, fields = self.reads.selectors(request, rt)
        ns = target.namespace if rt.namespaced else None
        deleted = []
        for obj in self.store.list(self.engine.key(rt), ns or None):
            if not (labels.matches(obj["metadata"].get("labels") or {}) and fields.matches(obj)):
                continue
            m = obj["metadata"]
            with contextlib.suppress(APIError):
                out, _ = await self.engine.delete(rt, m.get("namespace", ""), m["name"], opts, ctx)
                deleted.append(out)
        return json_response(
            {
                "kind": rt.list_kind,
                "apiVersion": rt.api_version,
                "metadata": {"resourceVersion": str(self.store.rv)},
                "items": deleted,
            }
        )
