"""Consumer-side virtual nodes: the ``virtualnode`` controller, its admission webhooks,
and the ``resourceslice_vncreator`` controller (with the authentication module).

- :mod:`.controller`: VirtualNode → ServiceAccount, ClusterRoleBinding, virtual kubelet
  Deployment, the peer's NamespaceMap, Node lifecycle, conditions;
- :mod:`.forge`: those objects, forged from a VirtualNode and its VkOptionsTemplate;
- :mod:`.rules` and :mod:`.webhooks`: defaults and refusals;
- :mod:`.vncreator`: ResourceSlice → VirtualNode.
"""

from __future__ import annotations

import kopf

from liqo_core import LiqoSettings
from liqo_core.controllers import host_controllers


def register(registry: kopf.OperatorRegistry, settings: LiqoSettings, *, webhooks: bool) -> None:
    """Add the virtualnode controller (and its webhooks when ``webhooks``) to ``registry``;
    with the authentication module enabled, the ResourceSlice virtual-node creator too."""
    from liqo_offloading.virtualnode import controller, vncreator

    host_controllers(registry, "virtualnode", controller.build)
    if settings.module_enabled("authentication"):
        host_controllers(registry, "resourceslice_vncreator", vncreator.build)
    if webhooks:
        from liqo_offloading.virtualnode import webhooks as admission

        admission.register(registry, settings)
