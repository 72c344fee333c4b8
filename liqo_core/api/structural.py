"""Check that a CRD schema is *structural*, as the Kubernetes API server requires.

Rules enforced (from the apiextensions documentation): every node declares a ``type``
unless it is an int-or-string or preserves unknown fields; no ``$ref``/``definitions``;
``properties`` and ``additionalProperties`` are exclusive; value validations inside
``anyOf``/``allOf``/``oneOf``/``not`` carry no type, default, description or extension;
the root is a non-nullable object whose ``metadata`` only constrains name/generateName.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_ALLOWED = frozenset(
    {
        "type", "format", "description", "default", "nullable", "enum", "maximum", "minimum",
        "exclusiveMaximum", "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems",
        "minItems", "multipleOf", "maxProperties", "minProperties", "required", "items",
        "properties", "additionalProperties", "allOf", "anyOf", "oneOf", "not", "example",
        "externalDocs", "title", "x-kubernetes-preserve-unknown-fields",
        "x-kubernetes-embedded-resource", "x-kubernetes-int-or-string",
        "x-kubernetes-list-map-keys", "x-kubernetes-list-type", "x-kubernetes-map-type",
        "x-kubernetes-validations",
    }
)  # fmt: skip
_TYPES = frozenset({"object", "array", "string", "integer", "number", "boolean"})
_JUNCTORS = ("allOf", "anyOf", "oneOf", "not")
_FORBIDDEN_IN_JUNCTOR = frozenset(
    {"type", "default", "description", "additionalProperties", "nullable", "title"}
)


def structural_errors(schema: Mapping[str, Any]) -> list[str]:
    """Return every violation found in a CRD version's ``openAPIV3Schema`` (empty = valid)."""
    errors: list[str] = []
    if schema.get("type") != "object":
        errors.append("<root>: type must be object")
    if schema.get("nullable"):
        errors.append("<root>: must not be nullable")
    meta = schema.get("properties", {}).get("metadata")
    if isinstance(meta, Mapping):
        extra = set(meta.get("properties", {})) - {"name", "generateName"}
        if extra:
            errors.append(
                f"<root>.metadata: only name/generateName may be constrained, not {sorted(extra)}"
            )
    _node(schema, "<root>", errors)
    return errors


def _node(node: Mapping[str, Any], path: str, errors: list[str]) -> None:
    for key in node:
        if key not in _ALLOWED:
            errors.append(f"{path}: keyword {key!r} is not allowed")
    int_or_string = bool(node.get("x-kubernetes-int-or-string"))
    preserve = bool(node.get("x-kubernetes-preserve-unknown-fields"))
    kind = node.get("type")
    if kind is None and not (int_or_string or preserve):
        errors.append(f"{path}: type is missing")
    elif kind is not None and kind not in _TYPES:
        errors.append(f"{path}: unknown type {kind!r}")
    if "properties" in node and "additionalProperties" in node:
        errors.append(f"{path}: properties and additionalProperties are exclusive")
    if node.get("additionalProperties") is False or node.get("additionalProperties") is True:
        errors.append(f"{path}: additionalProperties must be a schema")
    if node.get("x-kubernetes-embedded-resource") and kind != "object":
        errors.append(f"{path}: an embedded resource must be an object")
    if int_or_string and kind is not None:
        errors.append(f"{path}: an int-or-string node must not declare a type")
    if ("properties" in node or "additionalProperties" in node) and kind not in (None, "object"):
        errors.append(f"{path}: properties on a non-object")
    if "items" in node and kind != "array":
        errors.append(f"{path}: items on a non-array")
    if kind == "array" and not isinstance(node.get("items"), Mapping):
        errors.append(f"{path}: an array needs a single items schema")
    for name in node.get("required", []):
        if name not in node.get("properties", {}):
            errors.append(f"{path}: required field {name!r} is not a property")
    for name, sub in node.get("properties", {}).items():
        _node(sub, f"{path}.{name}", errors)
    if isinstance(node.get("items"), Mapping):
        _node(node["items"], f"{path}[]", errors)
    if isinstance(node.get("additionalProperties"), Mapping):
        _node(node["additionalProperties"], f"{path}{{}}", errors)
    for junctor in _JUNCTORS:
        if junctor in node:
            subs = node[junctor] if isinstance(node[junctor], list) else [node[junctor]]
            for i, sub in enumerate(subs):
                _junctor(sub, f"{path}.{junctor}[{i}]", errors, int_or_string)


def _junctor(node: Mapping[str, Any], path: str, errors: list[str], int_or_string: bool) -> None:
    for key in node:
        if key.startswith("x-kubernetes-"):
            errors.append(f"{path}: extensions are not allowed inside value validations")
        elif key in _FORBIDDEN_IN_JUNCTOR and not (
            int_or_string and key == "type" and node[key] in ("integer", "string")
        ):
            errors.append(f"{path}: {key!r} is not allowed inside value validations")
    for sub in node.get("properties", {}).values():
        _junctor(sub, path, errors, False)
    if isinstance(node.get("items"), Mapping):
        _junctor(node["items"], path, errors, False)
