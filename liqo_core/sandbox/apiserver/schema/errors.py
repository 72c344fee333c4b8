"""Field errors rendered as Kubernetes' ``field.Error``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["NO_VALUE", "FieldError", "SchemaError"]


class SchemaError(ValueError):
    """An ``openAPIV3Schema`` that cannot be compiled (the CRD itself is invalid)."""


class _NoValue:
    def __repr__(self) -> str:
        return "NO_VALUE"


NO_VALUE: Any = _NoValue()

# Error types whose rendering omits the bad value, as field.Error does.
_VALUELESS = frozenset({"Required value", "Forbidden", "Too long", "Internal error"})


def render_value(value: Any) -> str:
    """A value as ``field.Error`` prints it (strings quoted, numbers bare)."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if value is None:
        return "null"
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


@dataclass
class FieldError:
    """One validation failure at ``path`` (``spec.ports[0].port``; ``""`` is the root).

    ``type`` is the ``field.ErrorType`` text (``Invalid value``, ``Unsupported value``,
    ``Required value``, ``Forbidden``, ``Duplicate value``, ``Too many``, ``Too long``);
    ``value`` is the offending value, shown for types that show one.
    """

    path: str
    message: str
    type: str = "Invalid value"
    value: Any = NO_VALUE

    @property
    def reason(self) -> str:
        """The ``StatusCause.type`` Kubernetes sends for this error."""
        return {
            "Invalid value": "FieldValueInvalid",
            "Unsupported value": "FieldValueNotSupported",
            "Required value": "FieldValueRequired",
            "Forbidden": "FieldValueForbidden",
            "Duplicate value": "FieldValueDuplicate",
            "Too many": "FieldValueTooMany",
            "Too long": "FieldValueTooLong",
        }.get(self.type, "FieldValueInvalid")

    def body(self) -> str:
        """The error without its path (``Invalid value: "x": must be ...``)."""
        text = self.type
        if self.type not in _VALUELESS and self.value is not NO_VALUE:
            text += ": " + render_value(self.value)
        if self.message:
            text += ": " + self.message
        return text

    def __str__(self) -> str:
        return f"{self.path or '<nil>'}: {self.body()}"

    def to_cause(self) -> dict[str, str]:
        """This error as a ``StatusCause`` of a 422 ``Status``."""
        return {"reason": self.reason, "message": self.body(), "field": self.path}
