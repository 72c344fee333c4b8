"""Liqo v1 declarative API: pydantic models of every CR kind and their CRD generator.

Each API group/version has its own module (``core_v1beta1``, ``authentication_v1beta1``,
``offloading_v1beta1``, ``networking_v1beta1``, ``ipam_v1alpha1``) exposing ``MODELS``.
Transport plugins define their own kinds and hand them to ``crd_manifests`` alongside
``CORE_MODELS``.
"""

from __future__ import annotations

from liqo_core.api import (
    authentication_v1beta1,
    core_v1beta1,
    ipam_v1alpha1,
    networking_v1beta1,
    offloading_v1beta1,
)
from liqo_core.api.base import ApiModel
from liqo_core.api.crds import crd_manifest, crd_manifests, dump_crd, write_crds
from liqo_core.api.meta import ObjectMeta, ObjectReference
from liqo_core.api.resource import CRDInfo, CustomResource, PrinterColumn
from liqo_core.api.structural import structural_errors

CORE_MODELS: list[type[CustomResource]] = [
    *core_v1beta1.MODELS,
    *authentication_v1beta1.MODELS,
    *offloading_v1beta1.MODELS,
    *networking_v1beta1.MODELS,
    *ipam_v1alpha1.MODELS,
]
"""Every kind defined by liqo-core, in a stable order (transports add their own)."""


def model_for(api_version: str, kind: str) -> type[CustomResource] | None:
    """The core model serving ``apiVersion``/``kind``, if any."""
    for model in CORE_MODELS:
        if model.crd.api_version == api_version and model.crd.kind == kind:
            return model
    return None


__all__ = [
    "CORE_MODELS",
    "ApiModel",
    "CRDInfo",
    "CustomResource",
    "ObjectMeta",
    "ObjectReference",
    "PrinterColumn",
    "crd_manifest",
    "crd_manifests",
    "dump_crd",
    "model_for",
    "structural_errors",
    "write_crds",
]
