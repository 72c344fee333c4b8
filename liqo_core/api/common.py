"""Pieces shared by several Liqo API groups: class offers and object templates."""

from __future__ import annotations

from pydantic import Field

from liqo_core.api.base import ApiModel
from liqo_core.api.meta import TemplateMetadata
from liqo_core.api.types import KubeObject


class StorageType(ApiModel):
    """A storage class the provider offers to the consumer."""

    storage_class_name: str
    """Name of the StorageClass."""
    default: bool | None = None
    """Whether this is the default storage class."""


class IngressType(ApiModel):
    """An ingress class the provider offers to the consumer."""

    ingress_class_name: str
    """Name of the IngressClass."""
    default: bool | None = None
    """Whether this is the default ingress class."""


class LoadBalancerType(ApiModel):
    """A load balancer class the provider offers to the consumer."""

    load_balancer_class_name: str
    """Name of the load balancer class."""
    default: bool | None = None
    """Whether this is the default load balancer class."""


class DeploymentTemplate(ApiModel):
    """Metadata and Kubernetes DeploymentSpec of a Deployment Liqo creates."""

    metadata: TemplateMetadata = Field(default_factory=TemplateMetadata)
    """Metadata of the Deployment."""
    spec: KubeObject = Field(default_factory=dict)
    """Kubernetes DeploymentSpec of the Deployment."""


class ServiceTemplate(ApiModel):
    """Metadata and Kubernetes ServiceSpec of a Service Liqo creates."""

    metadata: TemplateMetadata = Field(default_factory=TemplateMetadata)
    """Metadata of the Service."""
    spec: KubeObject = Field(default_factory=dict)
    """Kubernetes ServiceSpec of the Service."""
