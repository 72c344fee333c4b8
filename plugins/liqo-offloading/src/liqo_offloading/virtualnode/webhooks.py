"""The VirtualNode admission webhooks (upstream's ``/mutate/virtualnodes``), served by the
module's operator; the rules are in :mod:`liqo_offloading.virtualnode.rules`.

- ``virtualnode.mutate`` (CREATE, UPDATE): defaults ``vkOptionsTemplateRef``,
  ``createNode`` and ``disableNetworkCheck``; on CREATE, adds the template's
  not-reflected label and annotation keys to ``offloadingPatch``;
- ``virtualnode.validate`` (CREATE, UPDATE): refuses a new VirtualNode named like an
  existing Node or pointing at a missing VkOptionsTemplate, and a change of
  ``spec.clusterID``.
"""

from __future__ import annotations

from typing import Any, Literal

import kopf

from liqo_core import LiqoSettings
from liqo_core.kube import JSONObject, Kube, kube_client
from liqo_offloading.settings import offloading_settings
from liqo_offloading.virtualnode import rules
from liqo_offloading.virtualnode.names import NODES, VK_OPTIONS_TEMPLATES, named, namespaced

GROUP, VERSION, PLURAL = "offloading.liqo.io", "v1beta1", "virtualnodes"
OPERATIONS: list[Literal["CREATE", "UPDATE"]] = ["CREATE", "UPDATE"]
INVALID = 422


def defaults_of(settings: LiqoSettings) -> rules.Defaults:
    """The VirtualNode defaults the module's settings give."""
    section = offloading_settings(settings)
    return rules.Defaults(
        liqo_namespace=settings.namespace,
        template=section.default_vk_options_template,
        create_node=section.create_node,
        disable_network_check=section.disable_network_check,
    )


async def read_template(kube: Kube, ref: tuple[str, str]) -> JSONObject | None:
    """The VkOptionsTemplate ``(namespace, name)``, or None."""
    return await kube.get(namespaced(VK_OPTIONS_TEMPLATES, *ref))


async def mutation(
    kube: Kube, body: JSONObject, operation: str, defaults: rules.Defaults
) -> JSONObject:
    """The spec fields to default on ``body``."""
    spec = rules.spec_of(body)
    template = await read_template(kube, rules.template_ref(spec, defaults))
    template_spec = rules.spec_of(template) if template is not None else None
    return rules.defaulted_spec(spec, template_spec, defaults, creating=operation == "CREATE")


async def problems(
    kube: Kube,
    body: JSONObject,
    old: JSONObject | None,
    operation: str,
    defaults: rules.Defaults,
) -> list[str]:
    """Why the webhook refuses this write (empty: admitted)."""
    ref = rules.template_ref(rules.spec_of(body), defaults)
    if operation == "CREATE":
        name = (body.get("metadata") or {}).get("name") or ""
        node = await kube.get(named(NODES, name)) if name else None
        found = await read_template(kube, ref) is not None
        return rules.create_problems(
            body, node_exists=node is not None, template=ref, template_found=found
        )
    if old is None:
        return []
    changed = ref != rules.template_ref(rules.spec_of(old), defaults)
    found = not changed or await read_template(kube, ref) is not None
    return rules.update_problems(old, body, template=ref if changed else None, template_found=found)


def register(registry: kopf.OperatorRegistry, settings: LiqoSettings) -> None:
    """Add the VirtualNode webhooks to ``registry`` (its server is already configured)."""
    defaults = defaults_of(settings)

    @kopf.on.mutate(
        GROUP, VERSION, PLURAL, registry=registry, id="virtualnode.mutate",
        operations=OPERATIONS, persistent=True,
    )  # fmt: skip
    async def default_virtual_node(
        body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **kwargs: Any
    ) -> None:
        if body.metadata.get("deletionTimestamp"):
            return
        async with kube_client(memo.kube_target) as kube:
            changes = await mutation(kube, dict(body), str(kwargs.get("operation") or ""), defaults)
        if changes:
            patch.setdefault("spec", {}).update(changes)

    @kopf.on.validate(
        GROUP, VERSION, PLURAL, registry=registry, id="virtualnode.validate",
        operations=OPERATIONS, persistent=True,
    )  # fmt: skip
    async def validate_virtual_node(body: kopf.Body, memo: kopf.Memo, **kwargs: Any) -> None:
        old = kwargs.get("old")
        async with kube_client(memo.kube_target) as kube:
            found = await problems(
                kube,
                dict(body),
                None if old is None else dict(old),
                str(kwargs.get("operation") or ""),
                defaults,
            )
        if found:
            raise kopf.AdmissionError("; ".join(found), code=INVALID)
