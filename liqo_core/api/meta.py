"""Object metadata and references, the subset of ``meta/v1`` and ``core/v1`` Liqo relies on."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from liqo_core.api.base import ApiModel
from liqo_core.api.types import Time


class OwnerReference(ApiModel):
    """An object that owns this one; the owner's deletion garbage-collects it."""

    api_version: str
    """API version of the owner."""
    kind: str
    """Kind of the owner."""
    name: str
    """Name of the owner."""
    uid: str
    """UID of the owner."""
    controller: bool | None = None
    """Whether the owner is the managing controller."""
    block_owner_deletion: bool | None = None
    """Whether the owner cannot be deleted before this object (foreground deletion)."""


class ObjectMeta(ApiModel):
    """Standard Kubernetes object metadata (fields Liqo reads; others are kept as they are)."""

    model_config = ConfigDict(extra="allow")

    name: str | None = None
    """Name, unique within the namespace (or the cluster, for cluster-scoped kinds)."""
    generate_name: str | None = None
    """Prefix from which the server generates a unique name when name is empty."""
    namespace: str | None = None
    """Namespace of a namespaced object."""
    labels: dict[str, str] | None = None
    """Labels used to select and join objects."""
    annotations: dict[str, str] | None = None
    """Non-identifying annotations."""
    uid: str | None = None
    """Unique identifier assigned by the server."""
    resource_version: str | None = None
    """Opaque version used for optimistic concurrency."""
    generation: int | None = None
    """Sequence number of the desired state, bumped on spec changes."""
    finalizers: list[str] | None = None
    """Finalizers that must be removed before the object is deleted."""
    owner_references: list[OwnerReference] | None = None
    """Owners of this object."""
    creation_timestamp: Time | None = None
    """When the object was created."""
    deletion_timestamp: Time | None = None
    """When deletion was requested, if it was."""


class ObjectReference(ApiModel):
    """A reference to another object (Kubernetes ``core/v1.ObjectReference``)."""

    api_version: str | None = None
    """API version of the referent."""
    kind: str | None = None
    """Kind of the referent."""
    name: str | None = None
    """Name of the referent."""
    namespace: str | None = None
    """Namespace of the referent."""
    uid: str | None = None
    """UID of the referent."""
    resource_version: str | None = None
    """Resource version of the referent."""
    field_path: str | None = None
    """Path of a part of the referent, if the reference points inside it."""


class LocalObjectReference(ApiModel):
    """A reference to an object, by name, in the same namespace."""

    name: str = Field(default="")
    """Name of the referent."""


class TemplateMetadata(ApiModel):
    """Metadata of an object rendered from a template."""

    model_config = ConfigDict(extra="allow")

    name: str | None = None
    """Name of the rendered object."""
    namespace: str | None = None
    """Namespace of the rendered object."""
    labels: dict[str, str] | None = None
    """Labels of the rendered object."""
    annotations: dict[str, str] | None = None
    """Annotations of the rendered object."""
