"""Consumer-side namespace offloading: the ``namespaceoffloading`` controller and the
NamespaceOffloading and pod admission webhooks (upstream §5.6).

- :mod:`.controller`: NamespaceOffloading → the peers' NamespaceMaps, the namespace's
  scheduling label, the status;
- :mod:`.naming`, :mod:`.selector`, :mod:`.status`: the twin's name, the cluster
  selection, the status derivation (pure);
- :mod:`.rules` and :mod:`.webhooks`: the pod policy and the NamespaceOffloading checks;
  :mod:`.webhookconfig` keeps the pod webhook scoped to offloaded namespaces.
"""

from __future__ import annotations

from functools import partial

import kopf

from liqo_core import LiqoSettings
from liqo_core.controllers import host_controllers


def register(registry: kopf.OperatorRegistry, settings: LiqoSettings, *, webhooks: bool) -> None:
    """Add the controller (and its webhooks when ``webhooks``) to ``registry``."""
    from liqo_offloading.namespaceoffloading import controller
    from liqo_offloading.namespaceoffloading.shared import Caches

    caches = Caches()
    host_controllers(registry, "namespaceoffloading", partial(controller.build, caches=caches))
    if webhooks:
        from liqo_offloading.namespaceoffloading import webhookconfig
        from liqo_offloading.namespaceoffloading import webhooks as admission
        from liqo_offloading.settings import offloading_settings

        admission.register(registry, settings, caches)
        configuration = offloading_settings(settings).webhook.configuration
        host_controllers(
            registry,
            "namespaceoffloading-webhook-selector",
            partial(
                webhookconfig.build,
                configuration=configuration,
                handler_id=admission.POD_WEBHOOK_ID,
            ),
        )
