"""Field sets in the ``FieldsV1`` format of ``metadata.managedFields``.

A path is a tuple of elements spelled as in FieldsV1: ``f:<field>``, ``k:<json of key
fields>`` (an item of an associative list), ``v:<json value>`` (an item of a set) and
``i:<index>``. A set of paths converts to and from the nested FieldsV1 tree, where
``".": {}`` marks a node that is itself a member and has members below it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from liqo_core.sandbox.apiserver.patch.errors import PatchError
from liqo_core.sandbox.apiserver.patch.shapes import ListShape, Shape, Struct

__all__ = [
    "ITEM",
    "Path",
    "find_item",
    "item_key",
    "leaves",
    "path_string",
    "paths_from_fields_v1",
    "paths_to_fields_v1",
    "remove_path",
    "value_at",
]

Path = tuple[str, ...]


class _Item:
    """Marks a list item's own membership (its value is compared through its fields)."""

    def __repr__(self) -> str:
        return "ITEM"


ITEM: Any = _Item()
_MISSING: Any = object()

# Fields never tracked by field managers (Kubernetes strips them from every set).
STRIPPED: frozenset[Path] = frozenset(
    {
        ("f:apiVersion",),
        ("f:kind",),
        ("f:metadata", "f:name"),
        ("f:metadata", "f:namespace"),
        ("f:metadata", "f:uid"),
        ("f:metadata", "f:resourceVersion"),
        ("f:metadata", "f:generation"),
        ("f:metadata", "f:creationTimestamp"),
        ("f:metadata", "f:selfLink"),
        ("f:metadata", "f:managedFields"),
        ("f:metadata", "f:deletionTimestamp"),
        ("f:metadata", "f:deletionGracePeriodSeconds"),
    }
)


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def item_key(item: dict[str, Any], shape: ListShape) -> dict[str, Any]:
    """The key fields identifying ``item`` in an associative list (defaults filled in)."""
    key: dict[str, Any] = {}
    for name in shape.keys:
        if name in item:
            key[name] = item[name]
        elif name in shape.key_defaults:
            key[name] = shape.key_defaults[name]
        else:
            raise PatchError(
                f"associative list with keys has an element that omits key field {name!r}",
                422,
            )
    return key


def find_item(items: list[Any], key: dict[str, Any], shape: ListShape) -> int | None:
    """Index of the item of ``items`` whose key equals ``key``."""
    for n, item in enumerate(items):
        if isinstance(item, dict):
            try:
                if item_key(item, shape) == key:
                    return n
            except PatchError:
                continue
    return None


def _walk(value: Any, shape: Shape | None, prefix: Path) -> Iterator[tuple[Path, Any]]:
    if isinstance(value, dict) and not isinstance(shape, ListShape):
        if not value and prefix:
            yield prefix, value
        struct = shape if isinstance(shape, Struct) else None
        for name, child in value.items():
            if child is None:
                continue
            yield from _walk(child, struct.child(name) if struct else None, (*prefix, f"f:{name}"))
        return
    if isinstance(value, list) and isinstance(shape, ListShape) and shape.apply_kind != "atomic":
        if not value:
            yield prefix, value
        seen: set[str] = set()
        for item in value:
            if shape.apply_kind == "set":
                element = f"v:{_dump(item)}"
                if element in seen:
                    raise PatchError(f"duplicate entries for value {_dump(item)}", 422)
                seen.add(element)
                yield (*prefix, element), item
                continue
            if not isinstance(item, dict):
                raise PatchError(f"associative list item {item!r} must be an object", 422)
            element = f"k:{_dump(item_key(item, shape))}"
            if element in seen:
                raise PatchError(f"duplicate entries for key {element[2:]}", 422)
            seen.add(element)
            yield (*prefix, element), ITEM
            yield from _walk(item, shape.item or Struct(), (*prefix, element))
        return
    yield prefix, value


def leaves(obj: dict[str, Any], shape: Struct) -> dict[Path, Any]:
    """Every tracked path of ``obj`` with its value (``ITEM`` for list items)."""
    return {p: v for p, v in _walk(obj, shape, ()) if p and p not in STRIPPED}


def _children(container: Any, element: str, shape: Shape | None) -> tuple[Any, Shape | None]:
    kind, _, text = element.partition(":")
    if kind == "f" and isinstance(container, dict):
        child = shape.child(text) if isinstance(shape, Struct) else None
        return container.get(text, _MISSING), child
    if kind == "k" and isinstance(container, list) and isinstance(shape, ListShape):
        index = find_item(container, json.loads(text), shape)
        return (container[index] if index is not None else _MISSING), shape.item or Struct()
    if kind == "v" and isinstance(container, list):
        value = json.loads(text)
        return (value if value in container else _MISSING), None
    if kind == "i" and isinstance(container, list) and int(text) < len(container):
        return container[int(text)], None
    return _MISSING, None


def value_at(obj: Any, path: Path, shape: Struct) -> Any:
    """The value at ``path`` (``ITEM`` for an existing list item), or a missing marker."""
    cur: Any = obj
    cur_shape: Shape | None = shape
    for element in path:
        cur, cur_shape = _children(cur, element, cur_shape)
        if cur is _MISSING:
            return _MISSING
    if path and path[-1].startswith("k:"):
        return ITEM
    return cur


def is_missing(value: Any) -> bool:
    """Whether :func:`value_at` found nothing."""
    return value is _MISSING


def _delete(container: Any, element: str, shape: Shape | None) -> None:
    kind, _, text = element.partition(":")
    if kind == "f":
        container.pop(text, None)
    elif kind == "k" and isinstance(shape, ListShape):
        index = find_item(container, json.loads(text), shape)
        if index is not None:
            container.pop(index)
    elif kind == "v":
        container.remove(json.loads(text))
    elif kind == "i":
        container.pop(int(text))


def remove_path(obj: dict[str, Any], path: Path, shape: Struct) -> None:
    """Delete the field or item at ``path`` from ``obj`` (in place), pruning emptied maps."""
    trail: list[tuple[Any, str, Shape | None]] = []
    cur: Any = obj
    cur_shape: Shape | None = shape
    for element in path:
        trail.append((cur, element, cur_shape))
        cur, cur_shape = _children(cur, element, cur_shape)
        if cur is _MISSING:
            return
    _delete(*trail[-1])
    for container, element, container_shape in reversed(trail[:-1]):
        child, _ = _children(container, element, container_shape)
        if not (element.startswith("f:") and isinstance(child, dict) and not child):
            break
        container.pop(element[2:])


def paths_from_fields_v1(tree: dict[str, Any]) -> set[Path]:
    """Decode a FieldsV1 tree into a set of paths."""
    out: set[Path] = set()

    def visit(node: dict[str, Any], prefix: Path) -> None:
        for element, sub in node.items():
            if element == ".":
                out.add(prefix)
            elif isinstance(sub, dict) and sub:
                visit(sub, (*prefix, element))
            else:
                out.add((*prefix, element))

    visit(tree, ())
    return out


def paths_to_fields_v1(paths: Iterable[Path]) -> dict[str, Any]:
    """Encode a set of paths as a FieldsV1 tree (keys sorted, ``.`` first)."""
    members = set(paths)
    tree: dict[str, Any] = {}
    for path in members:
        node = tree
        for element in path:
            node = node.setdefault(element, {})
    for path in members:
        node = tree
        for element in path:
            node = node[element]
        if node:
            node["."] = {}

    def ordered(node: dict[str, Any]) -> dict[str, Any]:
        keys = sorted(node, key=lambda k: (k != ".", k))
        return {k: ordered(node[k]) for k in keys}

    return ordered(tree)


def path_string(path: Path) -> str:
    """Render ``path`` as Kubernetes prints it in conflicts (``.spec.ports[port=80]``)."""
    out = []
    for element in path:
        kind, _, text = element.partition(":")
        if kind == "f":
            out.append("." + text)
        elif kind == "k":
            key = json.loads(text)
            out.append("[" + ",".join(f"{k}={_dump(v)}" for k, v in key.items()) + "]")
        elif kind == "v":
            out.append(f"[={text}]")
        else:
            out.append(f"[{text}]")
    return "".join(out)
