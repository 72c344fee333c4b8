"""Every controller and webhook of the offloading module, registered in its operator.

Consumer side: VirtualNode (and the ResourceSlice virtual-node creator when the
authentication module is enabled too), NamespaceOffloading and the pod webhook.
Provider side: NamespaceMap and ShadowPod. Each lives in its own package with a
``register(registry, settings)``; the admission server is shared by the module's webhooks.
"""

from __future__ import annotations

import kopf

from liqo_core import LiqoSettings
from liqo_core.webhooks import serve_webhooks
from liqo_offloading import namespacemap, namespaceoffloading, shadowpod, virtualnode
from liqo_offloading.settings import offloading_settings


def register(registry: kopf.OperatorRegistry, settings: LiqoSettings) -> None:
    """Add the module's controllers, and its webhooks when ``offloading.webhook.enabled``."""
    webhooks = serve_webhooks(
        registry, offloading_settings(settings).webhook, settings.namespace, module="offloading"
    )
    for package in (virtualnode, namespaceoffloading, namespacemap, shadowpod):
        package.register(registry, settings, webhooks=webhooks)
