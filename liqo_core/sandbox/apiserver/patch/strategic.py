"""Strategic merge patch, as ``k8s.io/apimachinery/pkg/util/strategicpatch`` applies it.

Directives: ``$patch: replace|merge|delete`` (in maps and as list items),
``$retainKeys``, ``$deleteFromPrimitiveList/<field>``, ``$setElementOrder/<field>``;
``null`` deletes a key. Lists merge by the kind's merge keys (see :mod:`.shapes`);
every other list is replaced whole.
"""

from __future__ import annotations

import copy
from typing import Any

from liqo_core.sandbox.apiserver.patch.errors import PatchError
from liqo_core.sandbox.apiserver.patch.shapes import ListShape, Shape, Struct, shape_for

__all__ = ["apply_strategic_merge_patch"]

_PATCH = "$patch"
_RETAIN = "$retainKeys"
_DELETE_PRIMITIVE = "$deleteFromPrimitiveList/"
_ORDER = "$setElementOrder/"
_EMPTY = Struct()


def apply_strategic_merge_patch(
    live: dict[str, Any], patch: dict[str, Any], api_version: str, kind: str
) -> dict[str, Any]:
    """Apply a strategic merge patch to ``live`` (a ``kind`` object); returns a new object.

    Kubernetes refuses this patch type for custom resources (415); callers serving CRDs
    should do the same. Kinds without a declared shape merge maps recursively and replace
    lists whole.
    """
    if not isinstance(patch, dict):
        raise PatchError("strategic merge patch must be a JSON object")
    result = _merge_map(copy.deepcopy(live), patch, shape_for(api_version, kind))
    return result if result is not None else {}


def _struct(shape: Shape | None) -> Struct:
    return shape if isinstance(shape, Struct) else _EMPTY


def _merge_map(
    original: dict[str, Any], patch: dict[str, Any], shape: Struct
) -> dict[str, Any] | None:
    """Merge ``patch`` into ``original`` (owned by the caller, mutated)."""
    directive = patch.get(_PATCH)
    if directive == "replace":
        return _strip({k: v for k, v in patch.items() if k != _PATCH}, shape)
    if directive == "delete":
        return {}
    if directive not in (None, "merge"):
        raise PatchError(f"unknown patch type: {directive!r} in map: {patch}")

    retain = patch.get(_RETAIN)
    if retain is not None:
        if not isinstance(retain, list) or not all(isinstance(k, str) for k in retain):
            raise PatchError(f"invalid $retainKeys {retain!r}: must be a list of strings")
        keep = set(retain)
        stray = [
            k for k, v in patch.items() if not k.startswith("$") and k not in keep and v is not None
        ]
        if stray:
            raise PatchError(f"$retainKeys {sorted(keep)} does not contain patch keys {stray}")
        for key in [k for k in original if k not in keep]:
            del original[key]

    for key, values in patch.items():
        if key.startswith(_DELETE_PRIMITIVE):
            name = key[len(_DELETE_PRIMITIVE) :]
            if not isinstance(values, list):
                raise PatchError(f"invalid value for {key}: must be a list")
            if isinstance(original.get(name), list):
                original[name] = [v for v in original[name] if v not in values]

    live_order = {
        k[len(_ORDER) :]: list(original.get(k[len(_ORDER) :]) or [])
        for k in patch
        if k.startswith(_ORDER)
    }
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        child = shape.child(key)
        if value is None:
            original.pop(key, None)
            continue
        current = original.get(key)
        if isinstance(value, dict) and (isinstance(current, dict) or current is None):
            merged = _merge_map(current if current is not None else {}, value, _struct(child))
            original[key] = merged if merged is not None else {}
        elif isinstance(value, list) and isinstance(child, ListShape):
            base = current if isinstance(current, list) else []
            original[key] = _merge_list(base, value, child, key)
        else:
            original[key] = _strip_value(value, child)

    for key, order in patch.items():
        if key.startswith(_ORDER):
            name = key[len(_ORDER) :]
            child = shape.child(name)
            if not isinstance(order, list):
                raise PatchError(f"invalid value for {key}: must be a list")
            if isinstance(original.get(name), list) and isinstance(child, ListShape):
                original[name] = _reorder(original[name], order, live_order[name], child)
    return original


def _merge_list(original: list[Any], patch: list[Any], shape: ListShape, name: str) -> list[Any]:
    if shape.kind == "atomic":
        return [_strip_value(v, None) for v in patch]
    replace = any(_is_list_replace(i) for i in patch)
    items = [i for i in patch if not _is_list_replace(i)]
    if shape.kind == "set":
        if any(isinstance(i, (dict, list)) for i in items):
            raise PatchError(f"list {name} holds scalar values; cannot merge {patch!r}")
        base = [] if replace else list(original)
        return base + [v for i, v in enumerate(items) if v not in base and v not in items[:i]]
    key = shape.merge_key
    assert key is not None
    result = [] if replace else [copy.deepcopy(i) for i in original]
    item_shape = shape.item or _EMPTY
    for item in items:
        if not isinstance(item, dict):
            raise PatchError(f"list {name} is merged by key {key!r}; item {item!r} is no map")
        if key not in item:
            raise PatchError(f"map: {item} does not contain declared merge key: {key}")
        index = next(
            (
                n
                for n, have in enumerate(result)
                if isinstance(have, dict) and have.get(key) == item[key]
            ),
            None,
        )
        directive = item.get(_PATCH)
        if directive == "delete":
            result = [r for r in result if not (isinstance(r, dict) and r.get(key) == item[key])]
            continue
        if index is None:
            merged = _merge_map({}, item, item_shape)
            result.append(merged if merged is not None else {})
        else:
            merged = _merge_map(result[index], item, item_shape)
            result[index] = merged if merged is not None else {}
    return result


def _is_list_replace(item: Any) -> bool:
    """``{"$patch": "replace"}`` as a list element: replace the whole list."""
    return isinstance(item, dict) and item.get(_PATCH) == "replace" and len(item) == 1


def _reorder(values: list[Any], order: list[Any], live: list[Any], shape: ListShape) -> list[Any]:
    """Apply ``$setElementOrder``: items it names follow it; the others keep their place.

    Items the order names are sorted by it; items only the server has keep their live
    order and are interleaved before the first named item that followed them live.
    """
    key = shape.merge_key

    def ident(item: Any) -> str:
        return repr(item.get(key) if key is not None and isinstance(item, dict) else item)

    rank = {ident(o): n for n, o in enumerate(order)}
    live_rank = {ident(v): n for n, v in enumerate(live)}
    named = sorted((v for v in values if ident(v) in rank), key=lambda v: rank[ident(v)])
    server_only = [v for v in values if ident(v) not in rank]
    server_only.sort(key=lambda v: live_rank.get(ident(v), len(live_rank)))
    out: list[Any] = []
    while named or server_only:
        if not named:
            out.extend(server_only)
            break
        if server_only:
            left, right = live_rank.get(ident(server_only[0])), live_rank.get(ident(named[0]))
            if left is not None and right is not None and left < right:
                out.append(server_only.pop(0))
                continue
        out.append(named.pop(0))
    return out


def _strip(value: dict[str, Any], shape: Struct) -> dict[str, Any]:
    """Resolve directives in a patch fragment that has no original to merge into."""
    merged = _merge_map({}, value, shape)
    return merged if merged is not None else {}


def _strip_value(value: Any, shape: Shape | None) -> Any:
    if isinstance(value, dict):
        return _strip(value, _struct(shape))
    if isinstance(value, list):
        return [_strip_value(v, None) for v in value if not (isinstance(v, dict) and _PATCH in v)]
    return copy.deepcopy(value)
