"""What a write may change: the main resource versus its status-like subresources.

A write to ``status`` (or a CSR's ``approval``) changes only the status (and, for
built-in kinds, labels and annotations); ``binding`` sets a pod's node, a namespace's
``finalize`` its spec finalizers. A write to the main resource keeps the live status
when the kind has a status subresource, a service's allocated cluster IPs and a
namespace's spec. The ``scale`` subresource is served by ``scale.py``.
"""

from __future__ import annotations

from . import errors
from .builtins import Strategy
from .types import JSON, ResourceType


def reset_status_on_create(rt: ResourceType, obj: JSON, strategy: Strategy, custom: bool) -> None:
    """A create does not set the status of a kind with a status subresource."""
    if "status" in rt.subresources and strategy.reset_status_on_create:
        if custom:
            obj.pop("status", None)
        else:
            obj["status"] = {}


def apply_subresource_rules(
    rt: ResourceType, live: JSON, new: JSON, subresource: str, custom: bool
) -> JSON:
    """The object to write: ``new`` restricted to what ``subresource`` may change.

    ``custom`` tells whether ``rt`` is a custom resource; an unknown subresource is a 404.
    """
    has_status = "status" in rt.subresources
    if subresource in ("status", "approval"):
        out = dict(live)
        out["metadata"] = dict(live["metadata"])
        if not custom:
            for k in ("labels", "annotations"):
                if k in new["metadata"]:
                    out["metadata"][k] = new["metadata"][k]
                else:
                    out["metadata"].pop(k, None)
        if "managedFields" in new["metadata"]:
            out["metadata"]["managedFields"] = new["metadata"]["managedFields"]
        out["metadata"]["resourceVersion"] = new["metadata"].get("resourceVersion")
        if subresource == "approval":
            status = dict(live.get("status") or {})
            status["conditions"] = (new.get("status") or {}).get("conditions") or []
            out["status"] = status
        elif "status" in new:
            out["status"] = new["status"]
        else:
            out.pop("status", None)
        return out
    if subresource == "binding":
        out = dict(live)
        out["spec"] = dict(live.get("spec") or {})
        out["spec"]["nodeName"] = (new.get("spec") or {}).get("nodeName")
        out["metadata"] = dict(live["metadata"])
        out["metadata"]["resourceVersion"] = new["metadata"].get("resourceVersion")
        return out
    if subresource == "finalize":
        out = dict(live)
        out["spec"] = dict(live.get("spec") or {})
        out["spec"]["finalizers"] = (new.get("spec") or {}).get("finalizers") or []
        out["metadata"] = dict(live["metadata"])
        out["metadata"]["resourceVersion"] = new["metadata"].get("resourceVersion")
        return out
    if subresource:
        raise errors.not_found_path()
    if has_status:
        new = dict(new)
        if "status" in live:
            new["status"] = live["status"]
        else:
            new.pop("status", None)
    if (rt.group, rt.resource) == ("", "services"):
        spec = new.get("spec")
        live_spec = live.get("spec") or {}
        if isinstance(spec, dict) and live_spec.get("clusterIP"):
            spec.setdefault("clusterIP", live_spec["clusterIP"])
            spec.setdefault("clusterIPs", live_spec.get("clusterIPs"))
    if (rt.group, rt.resource) == ("", "namespaces"):
        new = dict(new)
        new["spec"] = live.get("spec", {})
    return new
