"""Build apiextensions.k8s.io/v1 CustomResourceDefinitions from the Liqo models.

``crd_manifest(model)``, ``crd_manifests(models)`` and ``write_crds(models, dir)``; the
command line is ``liqoctl crds [--output-dir DIR]``.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from liqo_core.api.resource import CustomResource
from liqo_core.api.schema import Schema, openapi_schema

CRD_API_VERSION = "apiextensions.k8s.io/v1"
CRD_FILE_HEADER = "# Generated from liqo_core.api models (liqoctl crds): do not edit by hand.\n"


def crd_schema(model: type[CustomResource]) -> Schema:
    """The ``openAPIV3Schema`` of one kind."""
    info = model.crd
    body = openapi_schema(model)
    props: dict[str, Any] = {
        "apiVersion": {"type": "string", "description": "Versioned schema of this object."},
        "kind": {"type": "string", "description": "REST resource this object represents."},
        "metadata": {"type": "object"},
    }
    for name in ("spec", "status"):
        if name in body.get("properties", {}):
            props[name] = body["properties"][name]
    schema: Schema = {"type": "object", "properties": props}
    if model.__doc__:
        schema["description"] = " ".join(model.__doc__.split())
    required = [name for name in body.get("required", []) if name in ("spec", "status")]
    if required:
        schema["required"] = required
    if info.root_validations:
        schema["x-kubernetes-validations"] = [dict(rule) for rule in info.root_validations]
    return schema


def crd_manifest(model: type[CustomResource]) -> dict[str, Any]:
    """The CustomResourceDefinition of one kind, as a plain dict (a fresh copy)."""
    return copy.deepcopy(_crd_manifest(model))


@functools.cache
def _crd_manifest(model: type[CustomResource]) -> dict[str, Any]:
    info = model.crd
    names: dict[str, Any] = {
        "kind": info.kind,
        "listKind": info.list_kind,
        "plural": info.plural,
        "singular": info.singular,
        "categories": list(info.categories),
    }
    if info.short_names:
        names["shortNames"] = list(info.short_names)
    version: dict[str, Any] = {
        "name": info.version,
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": crd_schema(model)},
    }
    if model.has_status():
        version["subresources"] = {"status": {}}
    if info.printer_columns:
        version["additionalPrinterColumns"] = [
            {
                "name": col.name,
                "type": col.type,
                "jsonPath": col.json_path,
                **({"priority": col.priority} if col.priority else {}),
                **({"description": col.description} if col.description else {}),
            }
            for col in info.printer_columns
        ]
    metadata: dict[str, Any] = {"name": info.crd_name}
    if info.labels:
        metadata["labels"] = dict(info.labels)
    return {
        "apiVersion": CRD_API_VERSION,
        "kind": "CustomResourceDefinition",
        "metadata": metadata,
        "spec": {
            "group": info.group,
            "names": names,
            "scope": info.scope,
            "versions": [version],
        },
    }


def crd_manifests(models: Iterable[type[CustomResource]]) -> list[dict[str, Any]]:
    """CRDs of several kinds, sorted by CRD name; duplicate kinds are refused."""
    seen: dict[str, type[CustomResource]] = {}
    for model in models:
        name = model.crd.crd_name
        if name in seen and seen[name] is not model:
            raise ValueError(f"two models define CRD {name}: {seen[name]!r} and {model!r}")
        seen[name] = model
    return [crd_manifest(seen[name]) for name in sorted(seen)]


def crd_filename(crd: dict[str, Any]) -> str:
    """File name of a CRD in the chart: ``<group>_<plural>.yaml``."""
    return f"{crd['spec']['group']}_{crd['spec']['names']['plural']}.yaml"


class _NoAliasDumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """Writes repeated sub-structures in full instead of YAML anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_crd(crd: dict[str, Any]) -> str:
    """Deterministic YAML text of a CRD (keys sorted, wide lines, no anchors)."""
    text = yaml.dump(crd, Dumper=_NoAliasDumper, sort_keys=True, width=100, allow_unicode=True)
    return CRD_FILE_HEADER + text


def write_crds(models: Iterable[type[CustomResource]], output_dir: Path) -> list[Path]:
    """Write one file per CRD into ``output_dir``; stale generated files are removed."""
    output_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for crd in crd_manifests(models):
        path = output_dir / crd_filename(crd)
        path.write_text(dump_crd(crd), encoding="utf-8")
        written.append(path)
    for old in output_dir.glob("*.yaml"):
        if old not in written and old.read_text(encoding="utf-8").startswith(CRD_FILE_HEADER):
            old.unlink()
    return written
