"""Structural OpenAPI v3 schemas for CRDs, derived from the pydantic models.

Pydantic emits JSON Schema 2020-12 with ``$defs``, ``anyOf`` for optionals and titles; a
CRD needs a self-contained structural schema. This module inlines references, collapses
optionals, turns ``const`` into one-value enums and open maps into
``x-kubernetes-preserve-unknown-fields``, and drops what Kubernetes does not accept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

Schema = dict[str, Any]

_DROPPED = frozenset({"title", "examples", "deprecated", "readOnly", "writeOnly", "$schema"})


class SchemaError(ValueError):
    """A model cannot be expressed as a structural CRD schema."""


def openapi_schema(model: type[BaseModel]) -> Schema:
    """Return the structural schema of ``model`` (by wire names, validation mode)."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    defs = raw.pop("$defs", {})
    return _convert(raw, defs, (), model.__name__)


def _convert(
    node: Mapping[str, Any], defs: Mapping[str, Any], seen: tuple[str, ...], where: str
) -> Schema:
    node = dict(node)
    if "$ref" in node:
        name = node.pop("$ref").rsplit("/", 1)[-1]
        if name in seen:
            raise SchemaError(f"{where}: recursive type {name} cannot be a CRD schema")
        base = _convert(defs[name], defs, (*seen, name), where)
        node = {**base, **_convert_siblings(node, defs, seen, where)}
        return node
    if "anyOf" in node and not node.get("x-kubernetes-int-or-string"):
        branches = [b for b in node.pop("anyOf") if b.get("type") != "null"]
        if len(branches) != 1:
            raise SchemaError(f"{where}: unions other than Optional are not supported")
        if node.get("default", 0) is None:
            node.pop("default")
        inner = _convert(branches[0], defs, seen, where)
        return {**inner, **_convert_siblings(node, defs, seen, where)}
    return _convert_siblings(node, defs, seen, where)


def _convert_siblings(
    node: Mapping[str, Any], defs: Mapping[str, Any], seen: tuple[str, ...], where: str
) -> Schema:
    out: Schema = {}
    for key, value in node.items():
        if key in _DROPPED or (key == "default" and value is None):
            continue
        if key == "const":
            out["enum"] = [value]
        elif key == "properties":
            out[key] = {
                name: _convert(sub, defs, seen, f"{where}.{name}") for name, sub in value.items()
            }
        elif key == "items":
            if not isinstance(value, Mapping):
                raise SchemaError(f"{where}: tuple items are not supported")
            out[key] = _convert(value, defs, seen, f"{where}[]")
        elif key == "additionalProperties":
            if value is True or value == {}:
                out["x-kubernetes-preserve-unknown-fields"] = True
            elif isinstance(value, Mapping):
                out[key] = _convert(value, defs, seen, f"{where}{{}}")
        elif key == "prefixItems":
            raise SchemaError(f"{where}: tuple items are not supported")
        elif key == "description":
            out[key] = " ".join(value.split("\n")).strip() if "\n" in value else value
        else:
            out[key] = value
    if "properties" in out and "additionalProperties" in out:
        del out["additionalProperties"]
        out["x-kubernetes-preserve-unknown-fields"] = True
    if "enum" in out and "type" not in out:
        out["type"] = _enum_type(out["enum"], where)
    return out


def _enum_type(values: list[Any], where: str) -> str:
    kinds = {type(v) for v in values}
    if kinds == {str}:
        return "string"
    if kinds == {int}:
        return "integer"
    if kinds == {bool}:
        return "boolean"
    raise SchemaError(f"{where}: enum mixes value types")
