"""``CustomResource``: a Liqo API kind together with the CRD facts that describe it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Self

from pydantic import Field, model_validator

from liqo_core.api.base import ApiModel
from liqo_core.api.meta import ObjectMeta

Scope = Literal["Namespaced", "Cluster"]
ColumnType = Literal["string", "integer", "number", "boolean", "date"]


@dataclass(frozen=True)
class PrinterColumn:
    """One ``kubectl get`` column."""

    name: str
    type: ColumnType
    json_path: str
    priority: int = 0
    description: str = ""


AGE_COLUMN = PrinterColumn("Age", "date", ".metadata.creationTimestamp")


@dataclass(frozen=True)
class CRDInfo:
    """Names and serving facts of a kind, as they appear in its CustomResourceDefinition."""

    group: str
    version: str
    kind: str
    plural: str
    scope: Scope = "Namespaced"
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ("liqo",)
    printer_columns: tuple[PrinterColumn, ...] = (AGE_COLUMN,)
    labels: Mapping[str, str] = field(default_factory=dict)
    root_validations: tuple[Mapping[str, str], ...] = ()

    def __post_init__(self) -> None:
        if "liqo" not in self.categories:
            object.__setattr__(self, "categories", ("liqo", *self.categories))

    @property
    def api_version(self) -> str:
        """``group/version``."""
        return f"{self.group}/{self.version}"

    @property
    def singular(self) -> str:
        """Lower-case singular resource name."""
        return self.kind.lower()

    @property
    def list_kind(self) -> str:
        """Kind of the list type."""
        return f"{self.kind}List"

    @property
    def crd_name(self) -> str:
        """Name of the CustomResourceDefinition object (``plural.group``)."""
        return f"{self.plural}.{self.group}"


class CustomResource(ApiModel):
    """A Liqo custom resource. Subclasses set ``crd`` and declare ``spec`` (and ``status``)."""

    crd: ClassVar[CRDInfo]

    api_version: str = Field(default="")
    """API version of the object (filled in from the kind when omitted)."""
    kind: str = Field(default="")
    """Kind of the object (filled in when omitted)."""
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    """Standard object metadata."""

    @model_validator(mode="after")
    def _type_meta(self) -> Self:
        info = type(self).crd
        if not self.api_version:
            self.api_version = info.api_version
        elif self.api_version != info.api_version:
            raise ValueError(f"apiVersion must be {info.api_version!r}, not {self.api_version!r}")
        if not self.kind:
            self.kind = info.kind
        elif self.kind != info.kind:
            raise ValueError(f"kind must be {info.kind!r}, not {self.kind!r}")
        return self

    @classmethod
    def has_status(cls) -> bool:
        """Whether the kind has a status (served as the ``status`` subresource)."""
        return "status" in cls.model_fields

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Validate a wire-form object (as read from YAML or the API)."""
        return cls.model_validate(dict(data))
