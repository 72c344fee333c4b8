"""The authentication module's settings section (key ``authentication`` of the settings file).

Besides the module's own values (upstream Helm ``authentication.*``) it holds the
install-wide values that only this module reads: the API server offered to consumers
(``apiServer.*``), the labels offered to them (``discovery.config.clusterLabels``), the
resources granted by default (``offloading.defaultNodeResources``) and the enforcement
stamped on Quotas (``controllerManager.config.defaultLimitsEnforcement``); the chart
renders them all here.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from liqo_core.kube.quantity import is_quantity
from liqo_core.settings import (
    LiqoSettings,
    PluginName,
    Seconds,
    SettingsSection,
    WebhookSettings,
)


def _default_node_resources() -> dict[str, str]:
    return {"cpu": "4", "memory": "8Gi", "pods": "110", "ephemeral-storage": "20Gi"}


class ApiServerSettings(BaseModel):
    """How consumers reach this cluster's API server (upstream Helm ``apiServer.*``)."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        extra="forbid",
        frozen=True,
    )

    #: URL given to consumers in ``authParams.apiServer``; empty means the URL the
    #: controller-manager itself uses.
    address: str | None = None
    #: CA (PEM) given to consumers in ``authParams.ca``; empty means the CA the
    #: controller-manager trusts, else ``kube-root-ca.crt``.
    ca: str | None = None


class AuthenticationSettings(SettingsSection):
    """Authentication module (upstream Helm ``authentication.*``)."""

    key: ClassVar[str] = "authentication"

    tls_compatibility_mode: bool = False
    default_resource_slice_class_enabled: bool = True
    #: Which identity provider issues consumers' credentials: ``kubernetes-csr`` (the
    #: Kubernetes CSR API, the default), ``serviceaccount-token`` (ServiceAccount tokens,
    #: for API servers that sign no client certificates, as on EKS), or the name a
    #: third-party plugin answers to in ``liqo_identity_provider``.
    identity_provider: PluginName = "kubernetes-csr"
    #: Lifetime asked for consumers' credentials (CSR ``expirationSeconds``, token
    #: ``expirationSeconds``); empty means the signer's default. Credentials are renewed
    #: at 2/3 of their lifetime. Real signers refuse less than 600 seconds.
    credential_lifetime: Seconds | None = None
    #: How consumers reach this cluster's API server.
    api_server: ApiServerSettings = Field(default_factory=ApiServerSettings)
    #: Labels offered to consumers (``ResourceSlice.status.nodeLabels``, virtual-node labels).
    cluster_labels: dict[str, str] = Field(default_factory=dict)
    #: Resources granted by the default ResourceSlice class where a slice asks for none.
    default_node_resources: dict[str, str] = Field(default_factory=_default_node_resources)
    #: ``limitsEnforcement`` stamped on the Quotas of granted ResourceSlices.
    default_limits_enforcement: Literal["None", "Soft", "Hard"] = "None"
    #: The Tenant and ResourceSlice admission webhooks.
    webhook: WebhookSettings = Field(default_factory=WebhookSettings)

    @field_validator("default_node_resources")
    @classmethod
    def _quantities(cls, value: dict[str, str]) -> dict[str, str]:
        for resource, quantity in value.items():
            if not is_quantity(quantity):
                raise ValueError(f"{resource}: {quantity!r} is not a Kubernetes quantity")
        return value


def auth_settings(settings: LiqoSettings) -> AuthenticationSettings:
    """The authentication section of ``settings`` (validated once)."""
    return settings.section(AuthenticationSettings)
