"""Who performs a write and how: the request context the engine's steps consult."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from .types import JSON, AdmissionAttributes, ResourceType, UserInfo

SYSTEM_USER = UserInfo(name="system:apiserver", groups=("system:masters",))


class Admission(Protocol):
    """The admission chain (security's webhooks and built-in plugins)."""

    async def mutate(self, attrs: AdmissionAttributes, obj: JSON, old: JSON | None) -> JSON: ...

    async def validate(self, attrs: AdmissionAttributes, obj: JSON, old: JSON | None) -> None: ...


@dataclass(frozen=True)
class Context:
    """Who asks and how: None admission means an in-process controller (no admission)."""

    user: UserInfo = SYSTEM_USER
    admission: Admission | None = None
    field_manager: str = ""
    dry_run: bool = False
    field_validation: str = "Ignore"  # Ignore | Warn | Strict
    warnings: list[str] = field(default_factory=list)
    """Filled with ``Warning`` header texts (unknown fields under ``Warn``)."""

    def without_manager(self) -> Context:
        """The same context recording no managedFields entry (sharing ``warnings``)."""
        return dataclasses.replace(self, field_manager="")

    def attributes(
        self, rt: ResourceType, op: str, ns: str, name: str, *, sub: str = ""
    ) -> AdmissionAttributes:
        """What the admission chain is told about this write."""
        return AdmissionAttributes(
            self.user, op, rt, sub, ns, name, self.dry_run, warnings=self.warnings
        )


INTERNAL = Context(field_manager="kube-controller-manager")


def clone(obj: Any) -> Any:
    """Deep copy of a JSON value."""
    return orjson.loads(orjson.dumps(obj))
