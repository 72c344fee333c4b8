"""The VirtualNode rules shared by the admission webhooks and the controller (pure).

Defaults (upstream's mutating webhook, §5.1): ``vkOptionsTemplateRef`` is the install's
default template, ``createNode`` / ``disableNetworkCheck`` come from the template (or
the module's settings when the template leaves them out), and the template's
``labelsNotReflected`` / ``annotationsNotReflected`` are added to ``offloadingPatch``.
The controller applies the same defaults to what it forges, so a VirtualNode written
while the webhooks are off behaves as one that went through them.

Refusals: a new VirtualNode may not take the name of an existing Node (its Node is named
after it), nor point at a VkOptionsTemplate that does not exist; ``spec.clusterID`` may
not change (upstream does not enforce it, but a VirtualNode moved to another peer would
leave its NamespaceMap and virtual kubelet pointing at the first one).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

JSONObject = dict[str, Any]
NOT_REFLECTED = ("labelsNotReflected", "annotationsNotReflected")


@dataclass(frozen=True)
class Defaults:
    """What a VirtualNode gets when it does not say (from the module's settings)."""

    liqo_namespace: str
    template: str
    create_node: bool = True
    disable_network_check: bool = False


def spec_of(obj: Mapping[str, Any] | None) -> JSONObject:
    """The ``spec`` of ``obj`` (empty when missing)."""
    spec = (obj or {}).get("spec")
    return dict(spec) if isinstance(spec, Mapping) else {}


def template_ref(spec: Mapping[str, Any], defaults: Defaults) -> tuple[str, str]:
    """(namespace, name) of the VkOptionsTemplate of a VirtualNode ``spec``: its
    ``vkOptionsTemplateRef`` (namespace defaulting to the Liqo namespace), else the
    install's default template."""
    ref = spec.get("vkOptionsTemplateRef") or {}
    name = str(ref.get("name") or defaults.template)
    return str(ref.get("namespace") or defaults.liqo_namespace), name


def flag(
    spec: Mapping[str, Any], template_spec: Mapping[str, Any], key: str, fallback: bool
) -> bool:
    """``spec[key]`` if set, else the template's ``key``, else ``fallback``."""
    for source in (spec, template_spec):
        value = source.get(key)
        if isinstance(value, bool):
            return value
    return fallback


def create_node(spec: Mapping[str, Any], template_spec: Mapping[str, Any], d: Defaults) -> bool:
    """Whether the virtual kubelet registers the Node."""
    return flag(spec, template_spec, "createNode", d.create_node)


def disable_network_check(
    spec: Mapping[str, Any], template_spec: Mapping[str, Any], d: Defaults
) -> bool:
    """Whether the Node's readiness ignores the network to the provider."""
    return flag(spec, template_spec, "disableNetworkCheck", d.disable_network_check)


def offloading_patch(
    patch: Mapping[str, Any] | None, template_spec: Mapping[str, Any]
) -> JSONObject:
    """``patch`` with the template's not-reflected keys added (those it lacks, in order)."""
    merged = dict(patch or {})
    for key in NOT_REFLECTED:
        present = list(merged.get(key) or [])
        extra = [item for item in template_spec.get(key) or [] if item not in present]
        if present or extra:
            merged[key] = present + extra
    return merged


def defaulted_spec(
    spec: Mapping[str, Any],
    template_spec: Mapping[str, Any] | None,
    defaults: Defaults,
    *,
    creating: bool,
) -> JSONObject:
    """The spec fields the mutating webhook sets (only those that change).

    ``template_spec`` is None when the template cannot be read (the validating webhook
    refuses such a VirtualNode); the flags then come from the settings. The template's
    not-reflected keys are copied when the VirtualNode is created only, as upstream
    does, so that a user may remove them later.
    """
    template = dict(template_spec or {})
    changes: JSONObject = {}
    if not (spec.get("vkOptionsTemplateRef") or {}).get("name"):
        namespace, name = template_ref(spec, defaults)
        changes["vkOptionsTemplateRef"] = {"namespace": namespace, "name": name}
    if not isinstance(spec.get("createNode"), bool):
        changes["createNode"] = create_node(spec, template, defaults)
    if not isinstance(spec.get("disableNetworkCheck"), bool):
        changes["disableNetworkCheck"] = disable_network_check(spec, template, defaults)
    if creating and template:
        patch = offloading_patch(spec.get("offloadingPatch"), template)
        if patch != (spec.get("offloadingPatch") or {}):
            changes["offloadingPatch"] = patch
    return changes


def _describe(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"VirtualNode {meta.get('namespace') or ''}/{meta.get('name') or ''}"


def create_problems(
    obj: Mapping[str, Any],
    *,
    node_exists: bool,
    template: tuple[str, str],
    template_found: bool,
) -> list[str]:
    """Why a new VirtualNode is refused (empty: admitted)."""
    name = (obj.get("metadata") or {}).get("name") or ""
    problems = []
    if node_exists:
        problems.append(
            f"{_describe(obj)}: a Node named {name!r} exists already and the virtual node "
            "would take its name: choose another name for the VirtualNode"
        )
    if not template_found:
        problems.append(template_missing(obj, template))
    return problems


def template_missing(obj: Mapping[str, Any], template: tuple[str, str]) -> str:
    """The message of a VirtualNode whose VkOptionsTemplate does not exist."""
    namespace, name = template
    return (
        f"{_describe(obj)}: VkOptionsTemplate {namespace}/{name} not found: create it or "
        "set spec.vkOptionsTemplateRef to an existing one"
    )


def update_problems(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    *,
    template: tuple[str, str] | None = None,
    template_found: bool = True,
) -> list[str]:
    """Why a change of a VirtualNode is refused (empty: admitted). ``template`` is the
    VkOptionsTemplate the change points at when it changes the reference."""
    if (new.get("metadata") or {}).get("deletionTimestamp"):
        return []
    problems = []
    before, after = spec_of(old).get("clusterID"), spec_of(new).get("clusterID")
    if before and before != after:
        problems.append(
            f"{_describe(new)}: spec.clusterID is immutable ({before!r}, not {after!r}): "
            "delete the VirtualNode and create one for the other cluster"
        )
    if template is not None and not template_found:
        problems.append(template_missing(new, template))
    return problems
