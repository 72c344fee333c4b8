"""Keeps upstream's ``namespaceSelector`` on the pod webhook of the module's
MutatingWebhookConfiguration.

kopf writes its configurations without namespace selectors (and rewrites the webhook list
whole when it reconfigures). This controller watches the configuration and adds
``namespaceSelector: {matchLabels: {liqo.io/scheduling-enabled: "true"}}`` to the pod
webhook whenever it lacks it, with a test-and-set JSON patch (the webhook is found by
name, and the patch fails harmlessly if kopf moved it meanwhile: the next event retries).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

from liqo_core.api.consts import SCHEDULING_ENABLED_LABEL
from liqo_core.controllers import ControllerContext
from liqo_core.kube import Controller, Kube, KubeError
from liqo_offloading.namespaceoffloading.paths import MUTATING_WEBHOOKS, named

log = logging.getLogger(__name__)

NAMESPACE_SELECTOR: Final[Mapping[str, Any]] = {"matchLabels": {SCHEDULING_ENABLED_LABEL: "true"}}


def webhook_name(handler_id: str, configuration: str) -> str:
    """The name kopf gives the webhook of handler ``handler_id`` in ``configuration``."""
    return f"{handler_id}.{configuration}"


def selector_patch(configuration: Mapping[str, Any], webhook: str) -> list[dict[str, Any]]:
    """The JSON patch giving ``webhook`` the namespace selector (empty: it has it, or the
    configuration has no such webhook)."""
    for index, entry in enumerate(configuration.get("webhooks") or []):
        if entry.get("name") != webhook:
            continue
        if entry.get("namespaceSelector") == NAMESPACE_SELECTOR:
            return []
        return [
            {"op": "test", "path": f"/webhooks/{index}/name", "value": webhook},
            {"op": "add", "path": f"/webhooks/{index}/namespaceSelector",
             "value": dict(NAMESPACE_SELECTOR)},
        ]  # fmt: skip
    return []


class SelectorKeeper:
    """Reconciles the one configuration ``configuration``."""

    def __init__(self, kube: Kube, configuration: str, webhook: str) -> None:
        self.kube = kube
        self.configuration = configuration
        self.webhook = webhook

    async def reconcile(self, key: str) -> float | None:
        """Add the selector to the pod webhook of configuration ``key`` if it lacks it."""
        path = named(MUTATING_WEBHOOKS, key)
        live = await self.kube.get(path)
        if live is None:
            return None
        operations = selector_patch(live, self.webhook)
        if not operations:
            return None
        try:
            await self.kube.json_patch(path, operations)
        except KubeError as err:
            if err.status in (404, 409, 422):
                return 1.0  # rewritten meanwhile: look again
            raise
        log.info("webhook %s: namespaceSelector %s set", self.webhook, dict(NAMESPACE_SELECTOR))
        return None


def build(context: ControllerContext, configuration: str, handler_id: str) -> list[Controller]:
    """The keeper of the pod webhook of ``configuration``."""
    keeper = SelectorKeeper(context.kube, configuration, webhook_name(handler_id, configuration))
    informer = context.informers.get(
        MUTATING_WEBHOOKS, field_selector=f"metadata.name={configuration}"
    )
    controller = Controller("namespaceoffloading-webhook-selector", keeper.reconcile)
    controller.watch(informer)
    return [controller]
