"""Errors raised by the patch and apply libraries, answered as Kubernetes ``Status``."""

from __future__ import annotations

from liqo_core.sandbox.apiserver.types import APIError

_REASONS = {400: "BadRequest", 415: "UnsupportedMediaType", 422: "Invalid", 500: "InternalError"}


class PatchError(APIError):
    """A patch that cannot be applied.

    Kubernetes answers a malformed patch document with 400 BadRequest and a well-formed
    patch that fails against the live object (a JSON-patch ``test`` op, a missing path)
    with 422 Unprocessable Entity.
    """

    def __init__(self, message: str, code: int = 400) -> None:
        super().__init__(code, _REASONS.get(code, "BadRequest"), message)


def manager_label(manager: str, operation: str, api_version: str, subresource: str = "") -> str:
    """A field manager as Kubernetes names it in conflicts.

    Appliers are named alone (``"alice"``); updaters with the version they wrote
    (``"kubectl-edit" using apps/v1``); a subresource is mentioned when there is one.
    """
    label = _q(manager)
    if subresource:
        label += f" with subresource {_q(subresource)}"
    if operation == "Update":
        label += f" using {api_version}"
    return label


class ApplyConflict(APIError):
    """A server-side apply that would change fields owned by other managers (409)."""

    def __init__(self, conflicts: list[tuple[str, str]]) -> None:
        """``conflicts`` holds ``(manager label, field path)`` pairs (see :func:`manager_label`)."""
        self.conflicts = conflicts
        if len(conflicts) == 1:
            label, path = conflicts[0]
            message = f"Apply failed with 1 conflict: conflict with {label}: {path}"
        else:
            by_manager: dict[str, list[str]] = {}
            for label, path in conflicts:
                by_manager.setdefault(label, []).append(path)
            lines = []
            for label in sorted(by_manager):
                lines.append(f"conflicts with {label}:")
                lines.extend(f"- {path}" for path in by_manager[label])
            message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
        causes = [
            {"type": "FieldManagerConflict", "message": f"conflict with {label}", "field": path}
            for label, path in conflicts
        ]
        super().__init__(409, "Conflict", message, {"causes": causes})


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
