"""Discovery documents (/api, /apis, ...), /version and the OpenAPI v3 index kubectl reads."""

from __future__ import annotations

import hashlib

import orjson

from .registry import TypeRegistry
from .types import JSON, ResourceType
from .version import VERSION_INFO

_SUB_VERBS = {
    "status": ["get", "patch", "update"],
    "approval": ["get", "patch", "update"],
    "finalize": ["update"],
    "binding": ["create"],
    "scale": ["get", "patch", "update"],
    "token": ["create"],
}


def core_versions() -> JSON:
    """``/api``."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}],
    }


def _group_entry(group: str, versions: list[str]) -> JSON:
    gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": gvs, "preferredVersion": gvs[0]}


def group_list(registry: TypeRegistry) -> JSON:
    """``/apis``."""
    groups = [_group_entry(g, vs) for g, vs in sorted(registry.groups().items()) if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def group(registry: TypeRegistry, name: str) -> JSON | None:
    """``/apis/<group>``."""
    versions = registry.groups().get(name)
    if not versions or not name:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_entry(name, versions)}


def resource_list(
    registry: TypeRegistry, group_name: str, version: str, extra_subresources: dict[str, set[str]]
) -> JSON | None:
    """``/api/v1`` or ``/apis/<group>/<version>``: resources with verbs and subresources."""
    types = registry.resources(group_name, version)
    if not types:
        return None
    resources: list[JSON] = []
    for rt in sorted(types, key=lambda t: t.resource):
        entry: JSON = {
            "name": rt.resource,
            "singularName": rt.singular,
            "namespaced": rt.namespaced,
            "kind": rt.kind,
            "verbs": list(rt.verbs),
        }
        if rt.short_names:
            entry["shortNames"] = list(rt.short_names)
        if rt.categories:
            entry["categories"] = list(rt.categories)
        entry["storageVersionHash"] = _hash(f"{rt.group}/{rt.version}/{rt.resource}")
        resources.append(entry)
        subs = set(rt.subresources) | extra_subresources.get(rt.resource, set())
        for sub in sorted(subs):
            resources.append(
                {
                    "name": f"{rt.resource}/{sub}",
                    "singularName": "",
                    "namespaced": rt.namespaced,
                    "kind": _sub_kind(rt, sub),
                    "verbs": _SUB_VERBS.get(sub, ["get"]),
                }
            )
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group_name}/{version}" if group_name else version,
        "resources": resources,
    }


def _sub_kind(rt: ResourceType, sub: str) -> str:
    return {"binding": "Binding", "token": "TokenRequest", "scale": "Scale"}.get(sub, rt.kind)


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:11]


# -- OpenAPI v3 -------------------------------------------------------------------------------


def _gv_path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def openapi_root(registry: TypeRegistry) -> JSON:
    """``/openapi/v3``: one document per group version."""
    paths: JSON = {}
    for g, versions in registry.groups().items():
        for v in versions:
            p = _gv_path(g, v)
            doc = orjson.dumps(openapi_group_version(registry, g, v) or {})
            paths[p] = {"serverRelativeURL": f"/openapi/v3/{p}?hash={_hash(doc.decode())}"}
    return {"paths": paths}


def openapi_group_version(registry: TypeRegistry, group_name: str, version: str) -> JSON | None:
    """A per-group-version OpenAPI v3 document: the PATCH operations kubectl inspects
    (to learn that ``fieldValidation`` is supported) and permissive schemas per kind."""
    types = registry.resources(group_name, version)
    if not types:
        return None
    prefix = "/" + _gv_path(group_name, version)
    paths: JSON = {}
    schemas: JSON = {}
    params = [
        {"name": n, "in": "query", "schema": {"type": "string"}, "uniqueItems": True}
        for n in ("dryRun", "fieldManager", "fieldValidation", "force")
    ]
    for rt in types:
        gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
        schema_name = f"{rt.group or 'core'}.{rt.version}.{rt.kind}"
        info = registry.custom(rt.group, rt.resource)
        custom = info.versions.get(rt.version) if info is not None else None
        if custom is not None and custom.schema:
            schema = dict(custom.schema)
            schema["x-kubernetes-group-version-kind"] = [gvk]
        else:
            schema = {
                "type": "object",
                "x-kubernetes-group-version-kind": [gvk],
                "x-kubernetes-preserve-unknown-fields": True,
            }
        schemas[schema_name] = schema
        item = (
            f"{prefix}/namespaces/{{namespace}}/{rt.resource}/{{name}}"
            if rt.namespaced
            else f"{prefix}/{rt.resource}/{{name}}"
        )
        ref = {"$ref": f"#/components/schemas/{schema_name}"}
        paths[item] = {
            "get": {
                "x-kubernetes-group-version-kind": gvk,
                "x-kubernetes-action": "get",
                "responses": {"200": {"content": {"application/json": {"schema": ref}}}},
            },
            "patch": {
                "x-kubernetes-group-version-kind": gvk,
                "x-kubernetes-action": "patch",
                "parameters": params,
                "responses": {"200": {"content": {"application/json": {"schema": ref}}}},
            },
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": VERSION_INFO["gitVersion"]},
        "paths": paths,
        "components": {"schemas": schemas},
    }
