"""The three condition styles of Liqo v1 (ForeignCluster enums, typed conditions, metav1)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from liqo_core.api.base import ApiModel
from liqo_core.api.types import Time

ConditionStatus = Literal["True", "False", "Unknown"]

ForeignClusterConditionType = Literal[
    "APIServerStatus",
    "NetworkConfigurationStatus",
    "NetworkConnectionStatus",
    "NetworkGatewayPresence",
    "NetworkGatewayServerStatus",
    "NetworkGatewayClientStatus",
    "AuthIdentityControlPlaneStatus",
    "AuthTenantStatus",
    "OffloadingVirtualNodeStatus",
    "OffloadingNodeStatus",
]
ForeignClusterConditionStatus = Literal[
    "None", "Pending", "Established", "Error", "Ready", "NotReady", "SomeNotReady"
]


class ForeignClusterCondition(ApiModel):
    """State of one aspect of a peering, as seen from this cluster."""

    type: ForeignClusterConditionType
    """Aspect of the peering the condition describes."""
    status: ForeignClusterConditionStatus = "None"
    """State of that aspect."""
    last_transition_time: Time | None = None
    """When the status last changed."""
    reason: str | None = None
    """Machine-readable cause of the last change."""
    message: str | None = None
    """Human-readable detail of the last change."""


class Condition(ApiModel):
    """A standard Kubernetes condition (``metav1.Condition``)."""

    type: str = Field(max_length=316)
    """Condition type, in CamelCase."""
    status: ConditionStatus
    """Whether the condition holds."""
    observed_generation: int | None = Field(default=None, ge=0)
    """Generation of the object the condition was computed from."""
    last_transition_time: Time
    """When the status last changed."""
    reason: str = Field(
        min_length=1, max_length=1024, pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"
    )
    """Machine-readable CamelCase cause of the last change."""
    message: str = Field(default="", max_length=32768)
    """Human-readable detail of the last change."""


class HostCondition(ApiModel):
    """Outcome of applying a route or firewall configuration on one host."""

    host: str
    """Node or gateway pod that applied the configuration."""
    type: Literal["Applied", "Error"]
    """Whether the configuration was applied or failed."""
    status: ConditionStatus
    """Whether the condition holds."""
    last_transition_time: Time | None = None
    """When the status last changed."""
