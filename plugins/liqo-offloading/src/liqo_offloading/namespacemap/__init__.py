"""Provider-side namespace mapping: the ``namespacemap`` controller.

- :mod:`.controller`: replicated NamespaceMap → twin namespaces, their RoleBindings and
  ``status.currentMapping``;
- :mod:`.rules`: the twins, bindings and status wanted, computed without the API;
- :mod:`.events`: aggregated Events (one per repeated failure, with a count).
"""

from __future__ import annotations

import kopf

from liqo_core import LiqoSettings
from liqo_core.controllers import host_controllers


def register(registry: kopf.OperatorRegistry, settings: LiqoSettings, *, webhooks: bool) -> None:
    """Add the namespacemap controller to ``registry`` (it has no webhooks)."""
    from liqo_offloading.namespacemap import controller

    host_controllers(registry, "namespacemap", controller.build)
