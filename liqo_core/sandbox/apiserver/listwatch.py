"""List and watch: selectors, pagination snapshots, Table output, watch streaming."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import Mapping

import orjson
from aiohttp import web

from . import errors
from .engine import Engine
from .registry import TypeRegistry
from .responses import JSON_TYPE, Target, json_response, query_bool, wants_table
from .selectors import (
    FieldRequirement,
    FieldSelector,
    LabelSelector,
    SelectorError,
    parse_field_selector,
    parse_label_selector,
)
from .store import CLOSED, Expired, Store, StoreEvent
from .table import BUILTIN_COLUMNS, BUILTIN_PRIORITIES, custom_columns, priorities, to_table
from .types import JSON, ResourceType

BOOKMARK_INTERVAL = 60.0
DEFAULT_WATCH_TIMEOUT = 1800.0
FIELD_ALIASES = {
    ("", "events"): {"source": "source.component"},
    ("events.k8s.io", "events"): {"source": "source.component"},
}
"""Field selector names that read another field of the object (upstream field label sets)."""


class ListWatch:
    """Serves the read verbs on collections (list, watch) and Table conversion."""

    def __init__(self, registry: TypeRegistry, store: Store, engine: Engine) -> None:
        self.registry = registry
        self.store = store
        self.engine = engine
        self.bookmark_interval = BOOKMARK_INTERVAL

    def selectors(
        self, request: web.Request, rt: ResourceType
    ) -> tuple[LabelSelector, FieldSelector]:
        try:
            labels = parse_label_selector(request.query.get("labelSelector", ""))
            fields = parse_field_selector(request.query.get("fieldSelector", ""))
        except SelectorError as exc:
            raise errors.bad_request(str(exc)) from exc
        allowed = set(self.registry.strategy(rt).field_selectors)
        info = self.registry.custom(rt.group, rt.resource)
        if info is not None and rt.version in info.versions:
            allowed |= info.versions[rt.version].selectable_fields
        for f in sorted(fields.fields):
            if f not in allowed:
                raise errors.bad_request(f"field label not supported: {f}")
        aliases = FIELD_ALIASES.get((rt.group, rt.resource))
        if aliases and fields.fields & aliases.keys():
            fields = FieldSelector(
                tuple(
                    FieldRequirement(aliases.get(r.field, r.field), r.op, r.value)
                    for r in fields.requirements
                )
            )
        return labels, fields

    def serve_list(self, request: web.Request, target: Target) -> web.Response:
        rt = target.rt
        q = request.query
        labels, fields = self.selectors(request, rt)
        cont = q.get("continue", "")
        limit = int_param(q, "limit")
        if cont:
            token = decode_token(cont)
            items = self.store.snapshot(token["id"])
            if items is None:
                raise errors.gone(
                    "The provided continue parameter is too old to display a consistent list "
                    "result. You can start a new list without the continue parameter, or use "
                    "the continue token in this response to retrieve the remainder of the "
                    "results. Continuing with the provided token results in an inconsistent "
                    "list - objects that were created, modified, or deleted between the time "
                    "the first chunk was returned and now may show up in the list."
                )
            rv = str(token["rv"])
        else:
            ns = target.namespace if rt.namespaced and target.namespace else None
            source = self.store.list(self.engine.key(rt), ns)
            if labels.empty and fields.empty:
                items = source
            else:
                items = [
                    o
                    for o in source
                    if labels.matches(o["metadata"].get("labels") or {}) and fields.matches(o)
                ]
            rv = str(self.store.rv)
        list_meta: JSON = {"resourceVersion": rv}
        if limit and len(items) > limit:
            rest = items[limit:]
            items = items[:limit]
            token_id = uuid.uuid4().hex
            self.store.save_snapshot(token_id, rest)
            list_meta["continue"] = encode_token({"rv": int(rv), "id": token_id})
            if labels.empty and fields.empty:
                list_meta["remainingItemCount"] = len(rest)
        if self.engine.converts(rt):
            items = [self.engine.at_version(rt, o) for o in items]
        if wants_table(request):
            return json_response(self.table(request, rt, items, list_meta))
        body = {
            "kind": rt.list_kind,
            "apiVersion": rt.api_version,
            "metadata": list_meta,
            "items": items,
        }
        return json_response(body)

    def table(
        self, request: web.Request, rt: ResourceType, items: list[JSON], list_meta: JSON
    ) -> JSON:
        include = request.query.get("includeObject", "Metadata")
        info = self.registry.custom(rt.group, rt.resource)
        prio = None
        if info is not None:
            pcs = info.versions[rt.version].printer_columns if rt.version in info.versions else []
            columns = custom_columns(pcs)
            prio = priorities(pcs) if pcs else None
        else:
            prio = BUILTIN_PRIORITIES.get((rt.group, rt.resource))
            columns = BUILTIN_COLUMNS.get((rt.group, rt.resource)) or custom_columns([])
        return to_table(items, columns, include, list_meta, prio)

    async def serve_watch(self, request: web.Request, target: Target) -> web.StreamResponse:
        rt = target.rt
        q = request.query
        labels, fields = self.selectors(request, rt)
        rv_text = q.get("resourceVersion", "")
        ns = target.namespace if rt.namespaced and target.namespace else None
        key = self.engine.key(rt)
        timeout = float(int_param(q, "timeoutSeconds") or DEFAULT_WATCH_TIMEOUT)
        bookmarks = query_bool(q.get("allowWatchBookmarks"))
        table = wants_table(request)
        initial: list[JSON] = []
        try:
            if rv_text in ("", "0"):
                watcher = self.store.watch(key, ns, None)
                initial = self.store.list(key, ns)
            else:
                try:
                    since = int(rv_text)
                except ValueError as exc:
                    raise errors.bad_request(f"invalid resource version: {rv_text}") from exc
                watcher = self.store.watch(key, ns, since)
        except Expired as exc:
            resp = web.StreamResponse(headers={"Content-Type": JSON_TYPE})
            await resp.prepare(request)
            status = errors.gone(str(exc)).to_status()
            await resp.write(orjson.dumps({"type": "ERROR", "object": status}) + b"\n")
            await resp.write_eof()
            return resp
        resp = web.StreamResponse(headers={"Content-Type": JSON_TYPE})
        resp.enable_chunked_encoding()
        try:
            await resp.prepare(request)

            def matches(obj: JSON | None) -> bool:
                return (
                    obj is not None
                    and labels.matches(obj["metadata"].get("labels") or {})
                    and fields.matches(obj)
                )

            async def send(etype: str, obj: JSON) -> None:
                out = self.engine.at_version(rt, obj)
                if table:
                    out = self.table(
                        request,
                        rt,
                        [out],
                        {"resourceVersion": out["metadata"].get("resourceVersion", "")},
                    )
                await resp.write(orjson.dumps({"type": etype, "object": out}) + b"\n")

            for obj in initial:
                if matches(obj):
                    await send("ADDED", obj)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            next_bookmark = min(loop.time() + self.bookmark_interval, deadline - 2)
            while True:
                now = loop.time()
                if now >= deadline:
                    break
                wait = deadline - now
                if bookmarks:
                    wait = max(0.0, min(wait, next_bookmark - now))
                try:
                    event: StoreEvent = await asyncio.wait_for(watcher.queue.get(), wait)
                except TimeoutError:
                    if bookmarks and loop.time() >= next_bookmark:
                        mark = {
                            "kind": rt.kind,
                            "apiVersion": rt.api_version,
                            "metadata": {"resourceVersion": str(self.store.rv)},
                        }
                        await resp.write(orjson.dumps({"type": "BOOKMARK", "object": mark}) + b"\n")
                        next_bookmark = min(loop.time() + self.bookmark_interval, deadline + 60)
                    continue
                if event.type == CLOSED:
                    break
                new_match = matches(event.obj) and event.type != "DELETED"
                old_match = matches(event.old) if event.type != "DELETED" else matches(event.obj)
                if event.type == "DELETED":
                    if old_match:
                        await send("DELETED", event.obj)
                elif new_match and old_match:
                    await send("MODIFIED", event.obj)
                elif new_match:
                    await send("ADDED", event.obj)
                elif old_match:
                    await send("DELETED", event.obj)
            await resp.write_eof()
        except (ConnectionResetError, ConnectionError):
            pass
        finally:
            self.store.unwatch(watcher)
        return resp


def int_param(query: Mapping[str, str], name: str) -> int:
    """A non-negative integer query parameter (0 when absent); 400 when malformed."""
    text = query.get(name, "")
    if not text:
        return 0
    try:
        value = int(text)
    except ValueError:
        raise errors.bad_request(f"invalid {name} parameter: {text!r}") from None
    return max(value, 0)


def encode_token(data: JSON) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(data)).decode().rstrip("=")


def decode_token(text: str) -> JSON:
    try:
        data = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        if not isinstance(data, dict) or "id" not in data or "rv" not in data:
            raise ValueError(text)
        return data
    except Exception as exc:
        raise errors.bad_request(f"continue key is not valid: {exc}") from exc
