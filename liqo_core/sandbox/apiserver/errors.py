"""Constructors for the ``Status`` errors the Kubernetes API server answers with."""

from __future__ import annotations

from collections.abc import Sequence

from .types import JSON, APIError, ResourceType


def _details(rt: ResourceType | None, name: str, kind: str = "") -> JSON:
    details: JSON = {"name": name} if name else {}
    if rt is not None:
        if rt.group:
            details["group"] = rt.group
        details["kind"] = kind or rt.resource
    elif kind:
        details["kind"] = kind
    return details


def qualified(rt: ResourceType) -> str:
    """``resource.group`` (or just ``resource`` for the core group), as messages use it."""
    return f"{rt.resource}.{rt.group}" if rt.group else rt.resource


def not_found(rt: ResourceType, name: str) -> APIError:
    """404 ``<resource> "<name>" not found``."""
    return APIError(404, "NotFound", f'{qualified(rt)} "{name}" not found', _details(rt, name))


def namespace_not_found(name: str) -> APIError:
    """404 for a request into a namespace that does not exist."""
    return APIError(
        404, "NotFound", f'namespaces "{name}" not found', {"name": name, "kind": "namespaces"}
    )


def already_exists(rt: ResourceType, name: str) -> APIError:
    """409 AlreadyExists."""
    return APIError(
        409, "AlreadyExists", f'{qualified(rt)} "{name}" already exists', _details(rt, name)
    )


def conflict(rt: ResourceType, name: str, why: str) -> APIError:
    """409 Conflict (stale resourceVersion, precondition failed)."""
    return APIError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {qualified(rt)} "{name}": {why}',
        _details(rt, name),
    )


def stale(rt: ResourceType, name: str) -> APIError:
    """409 for an update carrying an outdated resourceVersion."""
    return conflict(
        rt,
        name,
        "the object has been modified; please apply your changes to the latest version "
        "and try again",
    )


def invalid(rt: ResourceType, name: str, causes: Sequence[tuple[str, str, str]]) -> APIError:
    """422 Invalid; each cause is ``(field, reason_type, message)``.

    ``message`` is the full Kubernetes field error text, e.g.
    ``metadata.name: Required value: name or generateName is required``.
    """
    kind = rt.kind
    group = f".{rt.group}" if rt.group else ""
    text = ", ".join(m for _, _, m in causes)
    if len(causes) > 1:
        text = "[" + text + "]"
    details = _details(rt, name, kind)
    details["causes"] = [
        {"reason": reason, "message": _strip_field(msg, fld), "field": fld}
        for fld, reason, msg in causes
    ]
    return APIError(422, "Invalid", f'{kind}{group} "{name}" is invalid: {text}', details)


def _strip_field(message: str, fld: str) -> str:
    prefix = f"{fld}: "
    return message[len(prefix) :] if fld and message.startswith(prefix) else message


def forbidden(rt: ResourceType | None, name: str, message: str) -> APIError:
    """403 Forbidden with the Kubernetes message layout."""
    if rt is None:
        return APIError(403, "Forbidden", message, {})
    subject = f'{qualified(rt)} "{name}"' if name else qualified(rt)
    return APIError(403, "Forbidden", f"{subject} is forbidden: {message}", _details(rt, name))


def bad_request(message: str) -> APIError:
    """400 BadRequest."""
    return APIError(400, "BadRequest", message)


def method_not_allowed(
    message: str = "the server does not allow this method on the requested resource",
) -> APIError:
    """405 MethodNotAllowed."""
    return APIError(405, "MethodNotAllowed", message, {})


def gone(message: str) -> APIError:
    """410 Gone (expired resourceVersion or continue token)."""
    return APIError(410, "Expired", message)


def unsupported_media_type(content_type: str) -> APIError:
    """415 for a patch type the resource does not accept."""
    return APIError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - "
        f"accepted media types include: application/json-patch+json, "
        f"application/merge-patch+json, application/apply-patch+yaml; got {content_type}",
    )


def not_found_path() -> APIError:
    """404 for a URL that names no resource."""
    return APIError(404, "NotFound", "the server could not find the requested resource", {})
