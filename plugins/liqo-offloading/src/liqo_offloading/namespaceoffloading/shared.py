"""The caches the controller and the pod webhook share inside one operator.

The controller's build fills :class:`Caches` with the operator's shared informers
(Namespaces, NamespaceOffloadings); the pod webhook reads them, so that admitting a pod
costs two dictionary lookups, not API calls (until they have listed, at operator start,
the webhook asks the API).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from liqo_core.kube import Informer
from liqo_offloading.namespaceoffloading.rules import OFFLOADING_NAME


@dataclass
class Caches:
    """Namespaces and NamespaceOffloadings of the cluster, as the informers hold them."""

    namespaces: Informer | None = None
    offloadings: Informer | None = None

    @property
    def synced(self) -> bool:
        """Whether both informers exist and listed their collections."""
        return all(i is not None and i.has_synced for i in (self.namespaces, self.offloadings))

    def namespace_labels(self, namespace: str) -> Mapping[str, str]:
        """The labels of ``namespace`` (empty when unknown); needs :attr:`synced`."""
        assert self.namespaces is not None
        obj = self.namespaces.cache.get(namespace) or {}
        return dict((obj.get("metadata") or {}).get("labels") or {})

    def offloading(self, namespace: str) -> Mapping[str, Any] | None:
        """The NamespaceOffloading of ``namespace``, if any; needs :attr:`synced`."""
        assert self.offloadings is not None
        return self.offloadings.cache.get(f"{namespace}/{OFFLOADING_NAME}")
