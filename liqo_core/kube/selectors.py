"""Node selector requirements (``NodeSelectorRequirement``), as the scheduler reads them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def requirement_matches(requirement: Mapping[str, Any], value: str | None) -> bool:
    """Whether a label (or field) ``value`` (``None``: absent) satisfies ``requirement``:
    ``In``, ``NotIn``, ``Exists``, ``DoesNotExist``, and ``Gt`` / ``Lt`` against a single
    integer. An unknown operator matches nothing."""
    operator = requirement.get("operator")
    values = [str(v) for v in requirement.get("values") or []]
    if operator == "In":
        return value is not None and value in values
    if operator == "NotIn":
        return value is None or value not in values
    if operator == "Exists":
        return value is not None
    if operator == "DoesNotExist":
        return value is None
    if operator in ("Gt", "Lt"):
        if value is None or len(values) != 1:
            return False
        try:
            left, right = int(value), int(values[0])
        except ValueError:
            return False
        return left > right if operator == "Gt" else left < right
    return False
