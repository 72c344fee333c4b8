"""The offloading module's settings section (key ``offloading`` of the settings file).

The chart renders it from Helm ``offloading.*`` (and ``webhook.*``). Each controller
reads only its part: the VirtualNode controller the virtual-kubelet defaults, the
webhooks their server, the shadow-pod and namespace-map controllers their workers.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from liqo_core.settings import DNS1123Subdomain, LiqoSettings, SettingsSection, WebhookSettings


def _offloading_webhook() -> WebhookSettings:
    return WebhookSettings(port=9444, configuration="liqo-offloading-webhook")


class OffloadingSettings(SettingsSection):
    """Offloading module (upstream Helm ``offloading.*``)."""

    key: ClassVar[str] = "offloading"

    #: Default of ``VirtualNode.spec.createNode``: the virtual kubelet registers a Node.
    create_node: bool = True
    #: Default of ``VirtualNode.spec.disableNetworkCheck``: the Node's readiness ignores
    #: the peer's network status.
    disable_network_check: bool = False
    #: The VkOptionsTemplate (in the Liqo namespace) a VirtualNode gets by default.
    default_vk_options_template: DNS1123Subdomain = "virtual-kubelet-default"
    #: Concurrent reconciles of each controller of the module.
    workers: int = Field(default=2, ge=1, le=64)
    #: The module's admission webhooks (VirtualNode, NamespaceOffloading, ShadowPod, Pod).
    webhook: WebhookSettings = Field(default_factory=_offloading_webhook)
    #: The Liqo RuntimeClass (Helm ``offloading.runtimeClass.name``): the pod webhook leaves
    #: pods that ask for it alone, the RuntimeClass pins them to virtual nodes.
    runtime_class_name: DNS1123Subdomain = "liqo"


def offloading_settings(settings: LiqoSettings) -> OffloadingSettings:
    """The offloading section of ``settings`` (validated once)."""
    return settings.section(OffloadingSettings)
