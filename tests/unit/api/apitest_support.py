"""Helpers for the API tests: fixtures, and a small model of API-server CR validation.

``schema_errors``/``apply_defaults`` follow the OpenAPI subset a structural CRD schema uses;
``cel_errors`` evaluates ``x-kubernetes-validations`` with cel-python, transition rules
(those naming ``oldSelf``) only when an old object is given, as the API server does.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import celpy
import yaml
from celpy.adapter import json_to_cel
from celpy.evaluation import CELEvalError
from liqo_transport_wireguard.api import MODELS as WIREGUARD_MODELS

from liqo_core.api import CORE_MODELS, CustomResource, crd_manifest

REPO = Path(__file__).resolve().parents[3]
MANIFESTS = REPO / "tests" / "fixtures" / "manifests"
CHART_CRDS = REPO / "charts" / "liqo" / "crds"
ALL_MODELS: list[type[CustomResource]] = [*CORE_MODELS, *WIREGUARD_MODELS]
BY_KIND = {(m.crd.api_version, m.crd.kind): m for m in ALL_MODELS}


def manifest_docs() -> Iterator[tuple[str, int, dict[str, Any]]]:
    """Every sample manifest as (file name, index in file, document)."""
    for path in sorted(MANIFESTS.glob("*.yaml")):
        for i, doc in enumerate(yaml.safe_load_all(path.read_text(encoding="utf-8"))):
            yield path.name, i, doc


def load_doc(name: str, index: int = 0) -> dict[str, Any]:
    """One sample manifest (a fresh copy)."""
    docs = list(yaml.safe_load_all((MANIFESTS / name).read_text(encoding="utf-8")))
    return copy.deepcopy(docs[index])


def model_of(doc: dict[str, Any]) -> type[CustomResource]:
    return BY_KIND[(doc["apiVersion"], doc["kind"])]


@cache
def crd_schema_of(model: type[CustomResource]) -> dict[str, Any]:
    schema: dict[str, Any] = crd_manifest(model)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


# --- OpenAPI subset -------------------------------------------------------------------------

_PY_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


def schema_errors(schema: dict[str, Any], value: Any, path: str = "") -> list[str]:
    """Validation errors of ``value`` against a structural schema (unknown fields included)."""
    errors: list[str] = []
    where = path or "<root>"
    if schema.get("x-kubernetes-int-or-string") and (
        isinstance(value, bool) or not isinstance(value, int | str)
    ):
        return [f"{where}: must be an integer or a string"]
    kind = schema.get("type")
    if kind is not None:
        ok = isinstance(value, _PY_TYPES[kind]) and not (
            kind in ("integer", "number") and isinstance(value, bool)
        )
        if not ok:
            return [f"{where}: must be of type {kind}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: unsupported value {value!r}")
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{where}: does not match {schema['pattern']}")
        if len(value) > schema.get("maxLength", len(value)):
            errors.append(f"{where}: too long")
        if len(value) < schema.get("minLength", 0):
            errors.append(f"{where}: too short")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{where}: below {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{where}: above {schema['maximum']}")
    if isinstance(value, list):
        if len(value) > schema.get("maxItems", len(value)):
            errors.append(f"{where}: too many items")
        if len(value) < schema.get("minItems", 0):
            errors.append(f"{where}: too few items")
        for i, item in enumerate(value):
            errors += schema_errors(schema.get("items", {}), item, f"{path}[{i}]")
    if isinstance(value, dict) and kind == "object":
        for name in schema.get("required", []):
            if name not in value:
                errors.append(f"{path}.{name}: required value")
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if props is not None and key in props:
                errors += schema_errors(props[key], item, f"{path}.{key}")
            elif extra is not None:
                errors += schema_errors(extra, item, f"{path}.{key}")
            elif not schema.get("x-kubernetes-preserve-unknown-fields"):
                errors.append(f"{path}.{key}: unknown field")
    return errors


def apply_defaults(schema: dict[str, Any], value: Any) -> Any:
    """Return ``value`` with the schema's defaults filled in, as the API server does."""
    if isinstance(value, dict) and schema.get("type") == "object":
        out = dict(value)
        props = schema.get("properties", {})
        for key, sub in props.items():
            if key not in out and "default" in sub:
                out[key] = copy.deepcopy(sub["default"])
            if key in out:
                out[key] = apply_defaults(sub, out[key])
        extra = schema.get("additionalProperties")
        if extra is not None:
            out = {k: apply_defaults(extra, v) for k, v in out.items()}
        return out
    if isinstance(value, list) and "items" in schema:
        return [apply_defaults(schema["items"], item) for item in value]
    return value


# --- CEL ------------------------------------------------------------------------------------

_ENV = celpy.Environment()


@cache
def cel_program(rule: str) -> Any:
    """Compile one rule (raises on syntax errors)."""
    return _ENV.program(_ENV.compile(rule))


def cel_rules(schema: dict[str, Any]) -> Iterator[dict[str, str]]:
    """Every CEL rule anywhere in a schema."""
    yield from schema.get("x-kubernetes-validations", [])
    for sub in schema.get("properties", {}).values():
        yield from cel_rules(sub)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            yield from cel_rules(schema[key])


def cel_eval(rule: str, value: Any, old: Any = None) -> bool:
    activation = {"self": json_to_cel(value)}
    if old is not None:
        activation["oldSelf"] = json_to_cel(old)
    try:
        result = cel_program(rule).evaluate(activation)
    except CELEvalError:
        return False  # the API server reports an evaluation error as a failed rule
    return isinstance(result, celpy.celtypes.BoolType) and bool(result)


def cel_errors(schema: dict[str, Any], value: Any, old: Any = None, path: str = "") -> list[str]:
    """Messages of the CEL rules ``value`` breaks (transition rules need ``old``)."""
    errors: list[str] = []
    for rule in schema.get("x-kubernetes-validations", []):
        if "oldSelf" in rule["rule"] and old is None:
            continue
        if not cel_eval(rule["rule"], value, old):
            errors.append(f"{path or '<root>'}: {rule['message']}")
    if isinstance(value, dict):
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                sub_old = old.get(key) if isinstance(old, dict) else None
                errors += cel_errors(sub, value[key], sub_old, f"{path}.{key}")
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key, item in value.items():
                sub_old = old.get(key) if isinstance(old, dict) else None
                errors += cel_errors(extra, item, sub_old, f"{path}.{key}")
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            errors += cel_errors(schema["items"], item, None, f"{path}[{i}]")
    return errors


def server_errors(model: type[CustomResource], obj: dict[str, Any], old: Any = None) -> list[str]:
    """What the API server would refuse in ``obj`` (after defaulting): schema, then CEL."""
    schema = crd_schema_of(model)
    obj = apply_defaults(schema, obj)
    # metadata is validated by the API server's ObjectMeta rules, not by the CRD schema.
    errors = schema_errors(schema, {k: v for k, v in obj.items() if k != "metadata"})
    if errors:
        return errors
    old = apply_defaults(schema, old) if old is not None else None
    return cel_errors(schema, obj, old)
