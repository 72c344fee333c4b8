"""Server-side apply and field-manager bookkeeping (``metadata.managedFields``).

Ownership follows Kubernetes' structured-merge-diff: an apply makes its manager own
exactly the fields of the applied configuration; an update or create makes its manager
own the fields it changed and takes them away from everyone else. An apply that would
change a field another manager owns is a conflict unless forced, and a field a manager
stops applying is removed unless someone else still owns it.

The caller (the request pipeline) is responsible for what Kubernetes' REST strategies do
around this: resetting ``status`` on the main resource and ``spec`` on ``/status``,
defaulting and validating the result, and refusing apply on kinds that forbid it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from liqo_core.sandbox.apiserver.meta import parse_time
from liqo_core.sandbox.apiserver.patch.errors import ApplyConflict, PatchError, manager_label
from liqo_core.sandbox.apiserver.patch.fieldset import (
    ITEM,
    Path,
    find_item,
    is_missing,
    item_key,
    leaves,
    path_string,
    paths_from_fields_v1,
    paths_to_fields_v1,
    remove_path,
    value_at,
)
from liqo_core.sandbox.apiserver.patch.lastapplied import (
    KUBECTL,
    last_applied_paths,
    sync_last_applied,
)
from liqo_core.sandbox.apiserver.patch.shapes import ListShape, Shape, Struct, shape_for

__all__ = ["apply_server_side", "update_managed_fields"]

BEFORE_FIRST_APPLY = "before-first-apply"


@dataclass
class _Entry:
    manager: str
    operation: str
    api_version: str
    time: str
    subresource: str
    paths: set[Path]

    def same_slot(self, other: _Entry) -> bool:
        return (
            self.manager == other.manager
            and self.operation == other.operation
            and self.subresource == other.subresource
            and (self.operation == "Apply" or self.api_version == other.api_version)
        )

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
            "time": self.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": paths_to_fields_v1(self.paths),
        }
        if self.subresource:
            out["subresource"] = self.subresource
        return out


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _entries(obj: dict[str, Any] | None) -> list[_Entry]:
    raw = ((obj or {}).get("metadata") or {}).get("managedFields") or []
    if not isinstance(raw, list):
        raise PatchError("metadata.managedFields must be a list", 422)
    out = []
    for item in raw:
        if not isinstance(item, dict) or not item.get("manager"):
            raise PatchError("metadata.managedFields entries need a manager", 422)
        out.append(
            _Entry(
                manager=str(item["manager"]),
                operation=str(item.get("operation", "Update")),
                api_version=str(item.get("apiVersion", "")),
                time=str(item.get("time", "")),
                subresource=str(item.get("subresource", "")),
                paths=paths_from_fields_v1(item.get("fieldsV1") or {}),
            )
        )
    return out


def _store(obj: dict[str, Any], entries: list[_Entry]) -> None:
    # Kubernetes orders entries by operation (Apply first), time, manager, version.
    ordered = sorted(
        (e for e in entries if e.paths),
        key=lambda e: (e.operation, e.time, e.manager, e.api_version, e.subresource),
    )
    kept = [e.to_api() for e in ordered]
    meta = obj.setdefault("metadata", {})
    if kept:
        meta["managedFields"] = kept
    else:
        meta.pop("managedFields", None)


def _upsert(entries: list[_Entry], entry: _Entry) -> _Entry:
    for existing in entries:
        if existing.same_slot(entry):
            return existing
    entries.append(entry)
    return entry


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def _merge(live: Any, applied: Any, shape: Shape | None) -> Any:
    if isinstance(applied, dict) and isinstance(live, dict) and not isinstance(shape, ListShape):
        out = dict(live)
        struct = shape if isinstance(shape, Struct) else None
        for name, value in applied.items():
            child = struct.child(name) if struct else None
            out[name] = _merge(live.get(name), value, child)
        return out
    if (
        isinstance(applied, list)
        and isinstance(live, list)
        and isinstance(shape, ListShape)
        and shape.apply_kind != "atomic"
    ):
        if shape.apply_kind == "set":
            return live + [v for v in applied if v not in live]
        result = list(live)
        for item in applied:
            index = find_item(result, item_key(item, shape), shape)
            if index is None:
                result.append(copy.deepcopy(item))
            else:
                result[index] = _merge(result[index], item, shape.item or Struct())
        return result
    return copy.deepcopy(applied)


def _owned_by(paths: set[Path], path: Path) -> bool:
    """Whether ``paths`` holds ``path`` or anything below it."""
    size = len(path)
    return any(p[:size] == path for p in paths)


def apply_server_side(
    live: dict[str, Any] | None,
    applied: dict[str, Any],
    manager: str,
    force: bool,
    *,
    subresource: str = "",
    shape: Struct | None = None,
) -> dict[str, Any]:
    """Server-side apply ``applied`` for ``manager``; returns the new object.

    ``live`` is ``None`` when the apply creates the object. Raises :class:`ApplyConflict`
    (409) when a field owned by another manager would change and ``force`` is false; with
    ``force`` the apply takes those fields over. ``shape`` overrides the built-in list
    rules (pass ``CRDValidator.merge_shape`` for custom resources so that
    ``x-kubernetes-list-type: map|set`` lists are associative).
    """
    if not manager:
        raise PatchError("PATCH with apply requires a fieldManager")
    if not isinstance(applied, dict):
        raise PatchError("the apply configuration must be an object")
    for required in ("apiVersion", "kind"):
        if not applied.get(required):
            raise PatchError(f"{required} must be set in the apply configuration")
    if not isinstance(applied.get("metadata", {}), dict):
        raise PatchError("metadata must be an object in the apply configuration")
    if (applied.get("metadata") or {}).get("managedFields") is not None:
        raise PatchError("metadata.managedFields must be nil")
    api_version, kind = str(applied["apiVersion"]), str(applied["kind"])
    shape = shape or shape_for(api_version, kind)
    config = _drop_nulls(applied)
    wanted = leaves(config, shape)

    result: dict[str, Any] = copy.deepcopy(live) if live is not None else {}
    entries = _entries(result)
    if live is not None and not entries:
        existing = set(leaves(result, shape))
        if existing:
            entries.append(_Entry(BEFORE_FIRST_APPLY, "Update", api_version, _now(), "", existing))

    mine = _Entry(manager, "Apply", api_version, _now(), subresource, set())
    others = [e for e in entries if not e.same_slot(mine)]
    previous = next((e.paths for e in entries if e.same_slot(mine)), set())

    conflicts: list[tuple[str, Path]] = []
    for path, value in sorted(wanted.items()):
        if value is ITEM:
            continue
        have = value_at(result, path, shape)
        if not is_missing(have) and have == value:
            continue
        for entry in others:
            if path in entry.paths:
                label = manager_label(
                    entry.manager, entry.operation, entry.api_version, entry.subresource
                )
                conflicts.append((label, path))
    taken = {path for _, path in conflicts}  # what a (possibly implied) force takes over
    if conflicts and not force and manager == KUBECTL:
        # kubectl may take over what it client-side applied before (see .lastapplied)
        allowed = last_applied_paths(live, shape)
        if allowed is not None:
            conflicts = [(label, path) for label, path in conflicts if path not in allowed]
            force = not conflicts
    if conflicts and not force:
        raise ApplyConflict([(label, path_string(path)) for label, path in conflicts])
    for entry in others:
        entry.paths -= taken

    still_owned: set[Path] = set().union(*(e.paths for e in others))
    doomed = {p for p in previous - set(wanted) if not _owned_by(still_owned, p)}
    for path in sorted(doomed, key=len):
        if not any(path[:n] in doomed for n in range(1, len(path))):
            remove_path(result, path, shape)

    merged = _merge(result, config, shape)
    assert isinstance(merged, dict)
    mine.paths = set(wanted)
    _store(merged, [*others, mine])
    if manager == KUBECTL:
        sync_last_applied(merged, config)
    if live is not None:
        _keep_times_if_unchanged(live, merged)
    return merged


def _without_times(obj: dict[str, Any]) -> dict[str, Any]:
    meta = dict(obj.get("metadata") or {})
    fields = meta.get("managedFields")
    if isinstance(fields, list):
        meta["managedFields"] = [
            {k: v for k, v in e.items() if k != "time"} if isinstance(e, dict) else e
            for e in fields
        ]
    return {**obj, "metadata": meta}


def _keep_times_if_unchanged(live: dict[str, Any], new: dict[str, Any]) -> None:
    """A no-op write keeps the old timestamps, so it stays a no-op (as in Kubernetes)."""
    if _without_times(live) == _without_times(new):
        old_fields = (live.get("metadata") or {}).get("managedFields")
        if old_fields is not None:
            new["metadata"]["managedFields"] = copy.deepcopy(old_fields)


def normalized_managed_fields(entries: Any) -> Any:
    """Managed-field entries with times in the server's format (clients re-encode them)."""
    if not isinstance(entries, list):
        return entries
    out = []
    for entry in entries:
        fixed = entry
        if isinstance(entry, dict) and isinstance(entry.get("time"), str):
            try:
                stamp = parse_time(entry["time"]).astimezone(UTC)
            except ValueError:
                pass
            else:
                fixed = dict(entry, time=stamp.strftime("%Y-%m-%dT%H:%M:%SZ"))
        out.append(fixed)
    return out


def update_managed_fields(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    manager: str,
    operation: str,
    *,
    subresource: str = "",
    shape: Struct | None = None,
) -> None:
    """Record a create or update by ``manager`` in ``new``'s ``metadata.managedFields``.

    Fields that differ between ``old`` and ``new`` become owned by ``manager`` (entry
    operation ``Update``, as Kubernetes records creates too) and are taken from every
    other manager; fields that disappeared are dropped from every set. ``operation`` is
    ``Create``, ``Update`` or ``Patch`` (all recorded as ``Update``); ``shape`` as for
    :func:`apply_server_side`.
    """
    del operation  # Kubernetes records every non-apply write as an Update
    if not manager:
        return
    shape = shape or shape_for(str(new.get("apiVersion", "")), str(new.get("kind", "")))
    old_meta = (old or {}).get("metadata") or {}
    new_meta = new.get("metadata") or {}
    if "managedFields" in new_meta and new_meta.get("managedFields") != old_meta.get(
        "managedFields"
    ):
        entries = _entries(new)  # the client rewrote managedFields: start from its version
    else:
        entries = _entries(old)
    before = leaves(old, shape) if old is not None else {}
    after = leaves(new, shape)
    changed = {p for p, v in after.items() if p not in before or before[p] != v}
    removed = set(before) - set(after)
    for entry in entries:
        entry.paths -= changed | removed
    if changed:
        mine = _upsert(
            entries,
            _Entry(manager, "Update", str(new.get("apiVersion", "")), "", subresource, set()),
        )
        mine.paths |= changed
        mine.time = _now()
    _store(new, entries)
