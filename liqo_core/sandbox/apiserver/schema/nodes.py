"""Compiled schema nodes: an ``openAPIV3Schema`` turned into a tree that is cheap to walk.

Compiling does the heavy work once per CRD version (regular expressions, CEL programs,
list-map keys) and derives the list rules server-side apply needs (:func:`merge_shape`).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from liqo_core.sandbox.apiserver.patch.shapes import OBJECT_META, ListShape, Shape, Struct
from liqo_core.sandbox.apiserver.schema.cel import CELRule, compile_rule
from liqo_core.sandbox.apiserver.schema.errors import NO_VALUE, SchemaError

__all__ = ["Node", "compile_schema", "merge_shape"]


@dataclass
class Node:
    """One compiled schema node."""

    type: str = ""
    nullable: bool = False
    int_or_string: bool = False
    preserve_unknown: bool = False
    embedded: bool = False
    properties: dict[str, Node] = field(default_factory=dict)
    additional: Node | bool | None = None
    items: Node | None = None
    required: tuple[str, ...] = ()
    enum: list[Any] | None = None
    pattern: re.Pattern[str] | None = None
    format: str = ""
    limits: dict[str, Any] = field(default_factory=dict)
    list_type: str = ""
    map_keys: tuple[str, ...] = ()
    one_of: list[Node] = field(default_factory=list)
    any_of: list[Node] = field(default_factory=list)
    all_of: list[Node] = field(default_factory=list)
    not_: Node | None = None
    rules: list[CELRule] = field(default_factory=list)
    default: Any = NO_VALUE


_LIMITS = (
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
)


def compile_schema(schema: Any, path: str = "") -> Node:
    """Compile ``schema`` (at ``path``, for messages); raise :class:`SchemaError` if invalid."""
    if not isinstance(schema, dict):
        raise SchemaError(f"openAPIV3Schema{path}: must be an object")
    try:
        return _compile_node(schema, path)
    except (TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, SchemaError):
            raise
        raise SchemaError(f"openAPIV3Schema{path}: {exc}") from exc


def _compile_node(schema: dict[str, Any], path: str) -> Node:
    node = Node(
        type=str(schema.get("type") or ""),
        nullable=bool(schema.get("nullable")),
        int_or_string=bool(schema.get("x-kubernetes-int-or-string")),
        preserve_unknown=bool(schema.get("x-kubernetes-preserve-unknown-fields")),
        embedded=bool(schema.get("x-kubernetes-embedded-resource")),
        required=tuple(schema.get("required") or ()),
        enum=list(schema["enum"]) if "enum" in schema else None,
        format=str(schema.get("format") or ""),
        limits={k: schema[k] for k in _LIMITS if k in schema},
        list_type=str(schema.get("x-kubernetes-list-type") or ""),
        map_keys=tuple(schema.get("x-kubernetes-list-map-keys") or ()),
        default=copy.deepcopy(schema["default"]) if "default" in schema else NO_VALUE,
    )
    props = schema.get("properties") or {}
    node.properties = {k: compile_schema(v, f"{path}.properties[{k}]") for k, v in props.items()}
    additional = schema.get("additionalProperties")
    if isinstance(additional, dict):
        node.additional = compile_schema(additional, f"{path}.additionalProperties")
    elif isinstance(additional, bool):
        node.additional = additional
    if isinstance(schema.get("items"), dict):
        node.items = compile_schema(schema["items"], f"{path}.items")
    if "pattern" in schema:
        try:
            node.pattern = re.compile(str(schema["pattern"]))
        except re.error as exc:
            raise SchemaError(f"openAPIV3Schema{path}.pattern: invalid regex: {exc}") from exc
    for word, target in (("oneOf", node.one_of), ("anyOf", node.any_of), ("allOf", node.all_of)):
        target.extend(
            compile_schema(s, f"{path}.{word}[{i}]") for i, s in enumerate(schema.get(word) or ())
        )
    if isinstance(schema.get("not"), dict):
        node.not_ = compile_schema(schema["not"], f"{path}.not")
    node.rules = [compile_rule(r) for r in schema.get("x-kubernetes-validations") or ()]
    return node


def _struct_shape(node: Node) -> Struct:
    fields: dict[str, Shape] = {}
    for name, child in node.properties.items():
        shape = _child_shape(child)
        if shape is not None:
            fields[name] = shape
    values = _child_shape(node.additional) if isinstance(node.additional, Node) else None
    return Struct(fields, values)


def _child_shape(node: Node) -> Shape | None:
    if node.list_type == "map" and node.map_keys:
        item = _struct_shape(node.items) if node.items is not None else None
        return ListShape("map", node.map_keys, item)
    if node.list_type == "set":
        return ListShape("set")
    if node.properties or isinstance(node.additional, Node):
        return _struct_shape(node)
    return None


def merge_shape(root: Node) -> Struct:
    """The server-side apply list rules of a custom resource (``x-kubernetes-list-type``)."""
    return Struct({**_struct_shape(root).fields, "metadata": OBJECT_META})
