"""CustomResourceDefinitions: validation, the served types they define, and their lifecycle.

The CRD controller plays apiextensions-apiserver's establishing and finalizer
controllers: a CRD's versions are served as soon as it is stored, its status gets
``NamesAccepted`` and ``Established``, and deleting it deletes its objects first (finalizer
``customresourcecleanup.apiextensions.k8s.io``), then stops serving them.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from . import meta
from .registry import CustomInfo, CustomVersion, TypeRegistry
from .store import Key, Store, StoreEvent
from .types import JSON, ResourceType

log = logging.getLogger(__name__)

CRD_KEY: Key = ("apiextensions.k8s.io", "customresourcedefinitions")
CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"

Cause = tuple[str, str, str]


def validate_crd(crd: JSON, old: JSON | None) -> list[Cause]:
    """The field errors Kubernetes reports for a malformed CRD (the common ones)."""
    causes: list[Cause] = []
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group, plural, kind = spec.get("group", ""), names.get("plural", ""), names.get("kind", "")
    name = crd["metadata"].get("name", "")

    def add(fld: str, reason: str, text: str) -> None:
        causes.append((fld, reason, f"{fld}: {text}"))

    if not group:
        add("spec.group", "FieldValueRequired", "Required value")
    elif "." not in group:
        add(
            "spec.group",
            "FieldValueInvalid",
            f'Invalid value: "{group}": should be a domain with at least one dot',
        )
    if not plural:
        add("spec.names.plural", "FieldValueRequired", "Required value")
    if not kind:
        add("spec.names.kind", "FieldValueRequired", "Required value")
    if plural and group and name != f"{plural}.{group}":
        add(
            "metadata.name",
            "FieldValueInvalid",
            f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group',
        )
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        add(
            "spec.scope",
            "FieldValueNotSupported",
            f'Unsupported value: "{spec.get("scope", "")}": '
            'supported values: "Cluster", "Namespaced"',
        )
    versions = spec.get("versions") or []
    if not versions:
        add(
            "spec.versions",
            "FieldValueRequired",
            "Required value: must have exactly one version marked as storage version",
        )
    elif sum(1 for v in versions if v.get("storage")) != 1:
        add(
            "spec.versions",
            "FieldValueInvalid",
            "Invalid value: must have exactly one version marked as storage version",
        )
    for i, v in enumerate(versions):
        if not (v.get("schema") or {}).get("openAPIV3Schema"):
            add(
                f"spec.versions[{i}].schema.openAPIV3Schema",
                "FieldValueRequired",
                "Required value: schemas are required",
            )
    if old is not None:
        old_spec = old.get("spec") or {}
        if old_spec.get("group") != group:
            add("spec.group", "FieldValueInvalid", f'Invalid value: "{group}": field is immutable')
        if old_spec.get("scope") != spec.get("scope"):
            add(
                "spec.scope",
                "FieldValueInvalid",
                f'Invalid value: "{spec.get("scope")}": field is immutable',
            )
    return causes


def default_crd(crd: JSON) -> None:
    """Defaults of a CRD (names.singular, listKind, conversion)."""
    spec = crd.setdefault("spec", {})
    names = spec.setdefault("names", {})
    if names.get("kind"):
        names.setdefault("singular", names["kind"].lower())
        names.setdefault("listKind", names["kind"] + "List")
    spec.setdefault("conversion", {"strategy": "None"})


def types_from_crd(crd: JSON) -> tuple[list[ResourceType], CustomInfo]:
    """Served resource types (one per served version) and the facts the engine needs."""
    from .schema import CRDValidator

    spec = crd["spec"]
    names = spec["names"]
    group = spec["group"]
    subresources_of: dict[str, tuple[str, ...]] = {}
    versions: dict[str, CustomVersion] = {}
    types: list[ResourceType] = []
    storage = next((v["name"] for v in spec["versions"] if v.get("storage")), "")
    for v in spec["versions"]:
        subs = v.get("subresources") or {}
        subresources_of[v["name"]] = tuple(
            s for s, key in (("status", "status"), ("scale", "scale")) if key in subs
        )
        schema = (v.get("schema") or {}).get("openAPIV3Schema")
        validator: Any = CRDValidator(schema) if schema else None
        versions[v["name"]] = CustomVersion(
            validator=validator,
            schema=schema,
            printer_columns=list(v.get("additionalPrinterColumns") or []),
            selectable_fields=frozenset(
                f["jsonPath"].lstrip(".") for f in v.get("selectableFields") or []
            ),
            scale=subs.get("scale"),
        )
        if not v.get("served", True):
            continue
        types.append(
            ResourceType(
                group=group,
                version=v["name"],
                resource=names["plural"],
                kind=names["kind"],
                namespaced=spec["scope"] == "Namespaced",
                singular=names.get("singular") or names["kind"].lower(),
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                subresources=subresources_of[v["name"]],
                list_kind=names.get("listKind") or names["kind"] + "List",
            )
        )
    info = CustomInfo(crd_name=crd["metadata"]["name"], storage_version=storage, versions=versions)
    return types, info


def _condition(ctype: str, reason: str, message: str, status: str = "True") -> JSON:
    return {
        "type": ctype,
        "status": status,
        "lastTransitionTime": meta.now(),
        "reason": reason,
        "message": message,
    }


class CRDController:
    """Serves established CRDs and cleans up the objects of deleted ones."""

    def __init__(self, registry: TypeRegistry, store: Store, engine: Any) -> None:
        self.registry = registry
        self.store = store
        self.engine = engine
        self._pending: set[str] = set()
        self._wake = asyncio.Event()
        store.add_listener(self._on_event)

    def _on_event(self, key: Key, event: StoreEvent) -> None:
        if key == CRD_KEY:
            name = event.obj["metadata"]["name"]
            if event.type != "DELETED" and not event.obj["metadata"].get("deletionTimestamp"):
                self._serve(event.obj)
            self._pending.add(name)
            self._wake.set()
            return
        info = self.registry.custom(*key)
        if info is not None and event.type == "DELETED":
            self._pending.add(info.crd_name)
            self._wake.set()

    def _serve(self, crd: JSON) -> None:
        try:
            types, info = types_from_crd(crd)
        except Exception:
            log.exception("cannot serve CRD %s", crd["metadata"]["name"])
            return
        if types:
            self.registry.set_custom(types, info)
        else:
            self.registry.remove_custom(crd["spec"]["group"], crd["spec"]["names"]["plural"])

    async def run(self) -> None:
        """Reconcile CRDs whose state changed, until cancelled."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            pending, self._pending = self._pending, set()
            for name in sorted(pending):
                try:
                    await self._reconcile(name)
                except Exception:
                    log.exception("CRD %s: reconcile failed; retrying", name)
                    self._pending.add(name)
                    asyncio.get_running_loop().call_later(0.2, self._wake.set)

    async def _reconcile(self, name: str) -> None:
        from .engine import INTERNAL, DeleteOptions

        crd = self.store.get(CRD_KEY, "", name)
        if crd is None:
            return
        crd_rt = self.registry.storage(*CRD_KEY)
        assert crd_rt is not None
        group = crd["spec"]["group"]
        plural = crd["spec"]["names"]["plural"]
        if crd["metadata"].get("deletionTimestamp"):
            if CLEANUP_FINALIZER not in (crd["metadata"].get("finalizers") or []):
                return
            rt = self.registry.storage(group, plural)
            if rt is not None and self.registry.custom(group, plural) is not None:
                remaining = list(self.store.iter((group, plural)))
                for obj in remaining:
                    if not obj["metadata"].get("deletionTimestamp"):
                        m = obj["metadata"]
                        await self.engine.delete(
                            rt, m.get("namespace", ""), m["name"], DeleteOptions(), INTERNAL
                        )
                if self.store.count((group, plural)):
                    await self._set_terminating(crd)
                    return
            self.registry.remove_custom(group, plural)
            self.store.drop((group, plural))
            new = _copy(crd)
            new["metadata"]["finalizers"] = [
                f for f in crd["metadata"]["finalizers"] if f != CLEANUP_FINALIZER
            ]
            await self.engine.update(crd_rt, "", name, new, INTERNAL)
            return
        status = crd.get("status") or {}
        established = any(
            c.get("type") == "Established" and c.get("status") == "True"
            for c in status.get("conditions") or []
        )
        has_finalizer = CLEANUP_FINALIZER in (crd["metadata"].get("finalizers") or [])
        stored_versions = [v["name"] for v in crd["spec"]["versions"] if v.get("storage")]
        accepted = crd["spec"]["names"]
        if (
            established
            and has_finalizer
            and status.get("acceptedNames") == accepted
            and set(stored_versions) <= set(status.get("storedVersions") or [])
        ):
            return
        if not has_finalizer:
            new = _copy(crd)
            new["metadata"].setdefault("finalizers", []).append(CLEANUP_FINALIZER)
            crd = await self.engine.update(crd_rt, "", name, new, INTERNAL)
        new = _copy(crd)
        st = new.setdefault("status", {})
        st["acceptedNames"] = accepted
        st["storedVersions"] = sorted(set(st.get("storedVersions") or []) | set(stored_versions))
        if not established:
            st["conditions"] = [
                _condition("NamesAccepted", "NoConflicts", "no conflicts found"),
                _condition(
                    "Established", "InitialNamesAccepted", "the initial names have been accepted"
                ),
            ]
        await self.engine.update(crd_rt, "", name, new, INTERNAL, subresource="status")

    async def _set_terminating(self, crd: JSON) -> None:
        from .engine import INTERNAL

        conditions = (crd.get("status") or {}).get("conditions") or []
        if any(c.get("type") == "Terminating" for c in conditions):
            return
        crd_rt = self.registry.storage(*CRD_KEY)
        assert crd_rt is not None
        new = _copy(crd)
        new.setdefault("status", {}).setdefault("conditions", []).append(
            _condition(
                "Terminating",
                "InstanceDeletionInProgress",
                "CustomResource deletion is in progress",
            )
        )
        await self.engine.update(
            crd_rt, "", crd["metadata"]["name"], new, INTERNAL, subresource="status"
        )


def _copy(obj: JSON) -> JSON:
    from .engine import clone

    out: JSON = clone(obj)
    return out
