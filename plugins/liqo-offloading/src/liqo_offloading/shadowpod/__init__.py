"""Provider-side offloaded pods: the ``shadowpod`` controller and its webhooks.

- :mod:`.controller`: ShadowPod → the real Pod (kept, recreated, its phase mirrored);
- :mod:`.forge`: that Pod, forged without the API;
- :mod:`.rules` and :mod:`.webhooks`: creator stamping, origin checks and the Quota.
"""

from __future__ import annotations

import kopf

from liqo_core import LiqoSettings
from liqo_core.controllers import ControllerContext, host_controllers
from liqo_core.kube import Controller


def register(registry: kopf.OperatorRegistry, settings: LiqoSettings, *, webhooks: bool) -> None:
    """Add the shadowpod controller (and its webhooks when ``webhooks``) to ``registry``."""
    from liqo_offloading.shadowpod import controller
    from liqo_offloading.shadowpod import webhooks as admission_webhooks

    admission = admission_webhooks.Admission() if webhooks else None
    if admission is not None:
        admission_webhooks.register(registry, admission)

    def build(context: ControllerContext) -> list[Controller]:
        shadow_pods = context.informers.get(controller.SHADOW_PODS)
        if admission is not None:
            shadow_pods.add_index(admission_webhooks.BY_CREATOR, admission_webhooks.creator_index)
            quotas = context.informers.get(admission_webhooks.QUOTAS)
            quotas.add_index(admission_webhooks.BY_USER, admission_webhooks.quota_user_index)
            namespaces = context.informers.get(admission_webhooks.NAMESPACES)
            admission.attach(admission_webhooks.Caches(shadow_pods, quotas, namespaces))
        return [controller.build_controller(context, shadow_pods)]

    host_controllers(registry, "shadowpod", build)
