"""JSON merge patch (RFC 7386) and JSON patch (RFC 6902)."""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
import jsonpointer

from liqo_core.sandbox.apiserver.patch.errors import PatchError

__all__ = ["apply_json_patch", "apply_merge_patch"]


def _merge(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge(result.get(key), value)
    return result


def apply_merge_patch(live: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Apply an RFC 7386 merge patch; returns a new object and leaves inputs untouched."""
    if not isinstance(patch, dict):
        raise PatchError("merge patch must be a JSON object")
    result = _merge(copy.deepcopy(live), patch)
    assert isinstance(result, dict)
    return result


def apply_json_patch(live: dict[str, Any], ops: list[Any]) -> dict[str, Any]:
    """Apply an RFC 6902 JSON patch; returns a new object and leaves inputs untouched.

    A malformed document is a 400; an operation that fails against ``live`` (a failed
    ``test``, a missing path) is a 422, as Kubernetes answers.
    """
    if not isinstance(ops, list):
        raise PatchError("json patch must be a JSON array of operations")
    for i, op in enumerate(ops):
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise PatchError(f"json patch operation {i} must be an object with op and path")
    try:
        patch = jsonpatch.JsonPatch(copy.deepcopy(ops))
        result = patch.apply(copy.deepcopy(live))
    except jsonpatch.InvalidJsonPatch as exc:
        raise PatchError(f"invalid json patch: {exc}") from exc
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
        raise PatchError(
            f"the server rejected our request due to an error in our request: {exc}", 422
        ) from exc
    except (TypeError, ValueError, KeyError, IndexError) as exc:
        raise PatchError(f"invalid json patch: {exc}") from exc
    if not isinstance(result, dict):
        raise PatchError("json patch must leave a JSON object", 422)
    return result
