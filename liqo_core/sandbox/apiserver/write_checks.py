"""Checks a write passes before it reaches the store.

The request's kind and namespace, CRD pruning and defaulting (with ``fieldValidation``),
metadata, CRD schema and built-in validation (422 with causes), and the ResourceQuota
admission plugin for pods. Plain functions over the collaborators they need.
"""

from __future__ import annotations

from typing import Any

from . import errors, meta
from .builtins import Strategy
from .context import Context, clone
from .quota import QUOTA_KEY, check_pod, namespace_usage
from .registry import CustomVersion
from .selectors import SelectorError, validate_label_key, validate_label_value
from .store import Store
from .types import JSON, ResourceType
from .validation import VALIDATORS

_PATH_SEGMENT_NAMES = {
    ("rbac.authorization.k8s.io", "roles"),
    ("rbac.authorization.k8s.io", "rolebindings"),
    ("rbac.authorization.k8s.io", "clusterroles"),
    ("rbac.authorization.k8s.io", "clusterrolebindings"),
    ("certificates.k8s.io", "certificatesigningrequests"),
}


def check_kind(rt: ResourceType, obj: JSON) -> None:
    """Refuse a body of another kind or group; stamp ``rt``'s apiVersion and kind."""
    api_version = obj.get("apiVersion") or rt.api_version
    kind = obj.get("kind") or rt.kind
    if kind != rt.kind or api_version != rt.api_version:
        group = rt.group
        if api_version.rpartition("/")[0] != group or kind != rt.kind:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected "
                f"API version ({rt.api_version})"
                if kind == rt.kind
                else f'{kind} in version "{api_version.rpartition("/")[2]}" cannot be '
                f'handled as a {rt.kind}: no kind "{kind}" is registered for version '
                f'"{rt.api_version}"'
            )
    obj["apiVersion"] = rt.api_version
    obj["kind"] = rt.kind


def check_namespace(store: Store, rt: ResourceType, ns: str, name: str, creating: bool) -> None:
    """The namespace must exist, and must not be terminating for a create."""
    if not rt.namespaced:
        return
    if not ns:
        raise errors.bad_request("the server could not find the requested resource")
    nsobj = store.get(("", "namespaces"), "", ns)
    if nsobj is None:
        raise errors.namespace_not_found(ns)
    if creating and nsobj["metadata"].get("deletionTimestamp"):
        err = errors.forbidden(
            rt,
            name,
            f"unable to create new content in namespace {ns} because it is being terminated",
        )
        assert err.details is not None
        err.details["causes"] = [
            {
                "reason": "NamespaceTerminating",
                "message": f"namespace {ns} is being terminated",
                "field": "metadata.namespace",
            }
        ]
        raise err


def check_quota(store: Store, rt: ResourceType, ns: str, pod: JSON) -> None:
    """The ResourceQuota admission plugin, for pods."""
    quotas = list(store.iter(QUOTA_KEY, ns))
    if not quotas:
        return
    try:
        used = namespace_usage(store.iter(("", "pods"), ns))
        problem = check_pod(pod, quotas, used)
    except ValueError as exc:
        raise errors.bad_request(str(exc)) from exc
    if problem:
        raise errors.forbidden(rt, pod["metadata"]["name"], problem)


def prune_and_default(
    cv: CustomVersion | None, rt: ResourceType, obj: JSON, ctx: Context
) -> tuple[JSON, list[str]]:
    """Prune and default a custom resource; returns it with the pruned field paths."""
    if cv is None or cv.validator is None:
        return obj, []
    pruned = cv.validator.prune(clone(obj))
    dropped = _dropped_fields(obj, pruned, "")
    if dropped and ctx.field_validation == "Warn":
        ctx.warnings.extend(f'unknown field "{p}"' for p in dropped)
    if dropped and ctx.field_validation == "Strict":
        raise errors.bad_request(
            f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
            "strict decoding error: " + ", ".join(f'unknown field "{p}"' for p in dropped)
        )
    return cv.validator.apply_defaults(pruned), dropped


def validate(
    rt: ResourceType,
    obj: JSON,
    old: JSON | None,
    strategy: Strategy,
    cv: CustomVersion | None,
    *,
    subresource: str = "",
) -> None:
    """Metadata, then the CRD schema of ``cv`` (if any), then built-in rules: 422 if bad."""
    _validate_meta(rt, obj, strategy)
    _validate_custom(cv, rt, obj, old)
    _validate_builtin(rt, obj, old, subresource)


def _validate_meta(rt: ResourceType, obj: JSON, strategy: Strategy) -> None:
    m = obj["metadata"]
    name = m.get("name", "")
    causes: list[tuple[str, str, str]] = []
    if (rt.group, rt.resource) in _PATH_SEGMENT_NAMES:
        problems = meta.path_segment_problems(name)
    else:
        problems = meta.name_problems(name, strategy.name_is_label, strategy.name_is_dns1035)
    for p in problems:
        causes.append(
            (
                "metadata.name",
                "FieldValueInvalid",
                f'metadata.name: Invalid value: "{name}": {p}',
            )
        )
    controllers = 0
    for ref in m.get("ownerReferences") or []:
        for key in ("apiVersion", "kind", "name", "uid"):
            if not ref.get(key):
                fld = f"metadata.ownerReferences.{key}"
                causes.append(
                    (
                        fld,
                        "FieldValueInvalid",
                        f'{fld}: Invalid value: "": {key} must not be empty',
                    )
                )
        controllers += 1 if ref.get("controller") else 0
    if controllers > 1:
        causes.append(
            (
                "metadata.ownerReferences",
                "FieldValueInvalid",
                "metadata.ownerReferences: Invalid value: []v1.OwnerReference{...}: Only one "
                "reference can have Controller set to true",
            )
        )
    for k, v in (m.get("labels") or {}).items():
        try:
            validate_label_key(k)
            validate_label_value(str(v))
        except SelectorError as exc:
            causes.append(
                (
                    "metadata.labels",
                    "FieldValueInvalid",
                    f'metadata.labels: Invalid value: "{v}": {exc}',
                )
            )
    if causes:
        raise errors.invalid(rt, name, causes)


def _validate_custom(
    cv: CustomVersion | None, rt: ResourceType, obj: JSON, old: JSON | None
) -> None:
    if cv is None or cv.validator is None:
        return
    problems = cv.validator.validate(obj, old)
    if problems:
        name = obj["metadata"].get("name", "")
        raise errors.invalid(
            rt,
            name,
            [
                (str(p.path), str(getattr(p, "reason", "FieldValueInvalid")), str(p))
                for p in problems
            ],
        )


def _validate_builtin(rt: ResourceType, obj: JSON, old: JSON | None, subresource: str) -> None:
    check = VALIDATORS.get((rt.group, rt.resource))
    if check is not None and not subresource:
        found = check(obj, old)
        if found:
            raise errors.invalid(rt, obj["metadata"]["name"], found)
    if (rt.group, rt.resource) == ("apiextensions.k8s.io", "customresourcedefinitions"):
        from .crds import validate_crd

        causes = validate_crd(obj, old)
        if causes:
            raise errors.invalid(rt, obj["metadata"]["name"], causes)
    if (
        old is not None
        and old.get("immutable")
        and (rt.group, rt.resource)
        in (
            ("", "configmaps"),
            ("", "secrets"),
        )
    ):
        changed = [k for k in ("data", "binaryData", "immutable") if obj.get(k) != old.get(k)]
        if changed:
            fld = "immutable" if "immutable" in changed else "data"
            msg = "field is immutable when `immutable` is set"
            raise errors.invalid(
                rt,
                obj["metadata"]["name"],
                [(fld, "FieldValueForbidden", f"{fld}: Forbidden: {msg}")],
            )


def _dropped_fields(before: Any, after: Any, path: str) -> list[str]:
    if not isinstance(before, dict):
        if isinstance(before, list) and isinstance(after, list):
            out: list[str] = []
            for i, (b, a) in enumerate(zip(before, after, strict=False)):
                out.extend(_dropped_fields(b, a, f"{path}[{i}]"))
            return out
        return []
    if not isinstance(after, dict):
        return []
    out = []
    for k, v in before.items():
        sub = f"{path}.{k}" if path else k
        if k not in after:
            out.append(sub)
        else:
            out.extend(_dropped_fields(v, after[k], sub))
    return out
