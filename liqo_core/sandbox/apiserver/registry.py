"""Which resource types are served: built-ins plus the versions of established CRDs."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .builtins import BUILTIN_TYPES, Strategy, strategy_for
from .types import ResourceType

_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(version: str) -> tuple[int, int, int, str]:
    """Sort key (ascending = preferred first) of Kubernetes' version priority.

    GA before beta before alpha, higher numbers first, then non-Kube-like names by name.
    """
    m = _VERSION.match(version)
    if not m:
        return (3, 0, 0, version)
    major = int(m.group(1))
    stage = {"None": 0, "beta": 1, "alpha": 2}[str(m.group(2))]
    minor = int(m.group(3) or 0)
    return (stage, -major, -minor, "")


@dataclass
class CustomVersion:
    """What a CRD says about one of its versions."""

    validator: Any = None  # schema.CRDValidator | None
    printer_columns: list[dict[str, Any]] = field(default_factory=list)
    selectable_fields: frozenset[str] = frozenset()
    schema: dict[str, Any] | None = None
    """The version's ``openAPIV3Schema`` (published in /openapi/v3 for ``kubectl explain``)."""
    scale: dict[str, str] | None = None
    """``subresources.scale`` of the version (specReplicasPath, statusReplicasPath, ...)."""


@dataclass
class CustomInfo:
    """Custom-resource facts of one (group, resource), from its CRD."""

    crd_name: str
    storage_version: str
    versions: dict[str, CustomVersion]
    preserve_unknown_fields: bool = False


class TypeRegistry:
    """Served resource types by (group, version, resource) and by kind."""

    def __init__(self) -> None:
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        self._storage: dict[tuple[str, str], ResourceType] = {}
        self._custom: dict[tuple[str, str], CustomInfo] = {}
        self.virtual: dict[tuple[str, str], ResourceType] = {}
        for rt in BUILTIN_TYPES:
            self._types[(rt.group, rt.version, rt.resource)] = rt
            self._storage.setdefault((rt.group, rt.resource), rt)

    def add_virtual(self, rt: ResourceType) -> None:
        """Serve a create-only kind (access and token reviews)."""
        self.virtual[(rt.group, rt.resource)] = rt
        self._types[(rt.group, rt.version, rt.resource)] = rt

    def set_custom(self, types: list[ResourceType], info: CustomInfo) -> None:
        """Serve (or re-serve) the versions of one CRD; ``types`` are its served versions."""
        group, resource = types[0].group, types[0].resource
        self.remove_custom(group, resource)
        for rt in types:
            self._types[(group, rt.version, resource)] = rt
        storage = next((t for t in types if t.version == info.storage_version), types[0])
        self._storage[(group, resource)] = storage
        self._custom[(group, resource)] = info

    def remove_custom(self, group: str, resource: str) -> None:
        """Stop serving a custom resource."""
        if (group, resource) not in self._custom:
            return
        del self._custom[(group, resource)]
        self._storage.pop((group, resource), None)
        for key in [k for k in self._types if k[0] == group and k[2] == resource]:
            del self._types[key]

    def get(self, group: str, version: str, resource: str) -> ResourceType | None:
        """The type served at ``/apis/group/version/resource``."""
        return self._types.get((group, version, resource))

    def storage(self, group: str, resource: str) -> ResourceType | None:
        """The type at its storage version (the store's key for the resource)."""
        return self._storage.get((group, resource))

    def custom(self, group: str, resource: str) -> CustomInfo | None:
        """CRD facts if the resource is a custom resource."""
        return self._custom.get((group, resource))

    def strategy(self, rt: ResourceType) -> Strategy:
        """Create/update rules of the kind."""
        return strategy_for(rt, (rt.group, rt.resource) in self._custom)

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        """Resolve ``apiVersion`` + ``kind`` (as in an ownerReference)."""
        group, _, version = api_version.rpartition("/")
        for (g, v, _r), rt in self._types.items():
            if g == group and v == version and rt.kind == kind:
                return rt
        for (g, _v, _r), rt in self._types.items():
            if g == group and rt.kind == kind:
                return rt
        return None

    def stored(self) -> list[ResourceType]:
        """Every stored resource at its storage version."""
        return list(self._storage.values())

    def groups(self) -> dict[str, list[str]]:
        """Group name -> versions, preferred first; the core group is ``""``."""
        out: dict[str, set[str]] = {}
        for g, v, _r in self._types:
            out.setdefault(g, set()).add(v)
        return {g: sorted(vs, key=version_priority) for g, vs in out.items()}

    def resources(self, group: str, version: str) -> list[ResourceType]:
        """Types served in one group version."""
        return [rt for (g, v, _r), rt in self._types.items() if g == group and v == version]
