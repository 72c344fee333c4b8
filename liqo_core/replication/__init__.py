"""CRD replication between peers (upstream's ``crdreplicator``), owned by no single module.

Modules declare the kinds they need replicated through the
:func:`~liqo_core.hookspecs.liqo_replicated_resources` hook (authentication:
ResourceSlice and Renew; offloading: NamespaceMap); the controller-manager's always-on
``core`` operator runs the replicator when any enabled module declares one
(:func:`liqo_core.replication.controller.register`).

Per Secret labelled ``liqo.io/identity-type=ControlPlane`` and
``liqo.io/remote-cluster-id=<peer>``, annotated ``liqo.io/remote-tenant-namespace``, with a
kubeconfig in key ``kubeconfig``, a reflector copies the local objects labelled
``liqo.io/replication=true`` and ``liqo.io/remoteID=<peer>`` into the peer's tenant
namespace: spec and labels local -> remote, status remote -> local. The copy's
annotations belong to the peer (the provider cordons a slice there with ``liqo.io/cordon``):
the replicator never writes them. See :mod:`.manager` and :mod:`.reflector`; the pure
rules are in :mod:`.logic`.

Limits: a Secret that stops matching the labels keeps its reflector until it is deleted
or the process restarts; objects are matched to their copies by name, so two local
objects of one kind with the same name for the same peer (in different namespaces)
collide, as they would in the peer's single tenant namespace.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from liqo_core.api.resource import CustomResource


@dataclass(frozen=True)
class ReplicatedResource:
    """A kind whose objects are copied to peers (spec out, status back).

    :param group: API group (``authentication.liqo.io``).
    :param version: API version (``v1beta1``).
    :param resource: Plural resource name (``resourceslices``).
    :param kind: Kind (``ResourceSlice``).
    """

    group: str
    version: str
    resource: str
    kind: str

    @classmethod
    def of(cls, model: type[CustomResource]) -> ReplicatedResource:
        """The replicated resource of a custom-resource model (``ResourceSlice``)."""
        crd = model.crd
        return cls(crd.group, crd.version, crd.plural, crd.kind)

    @property
    def api_version(self) -> str:
        """``group/version``."""
        return f"{self.group}/{self.version}"

    def path(self, namespace: str | None, name: str | None = None, sub: str = "") -> str:
        """REST path of the collection (``namespace=None``: every namespace), of one
        object, or of one of its subresources (``sub="status"``)."""
        path = f"/apis/{self.group}/{self.version}"
        if namespace is not None:
            path += f"/namespaces/{quote(namespace)}"
        path += f"/{self.resource}"
        if name is not None:
            path += f"/{quote(name)}"
        return path + (f"/{sub}" if sub else "")


__all__ = ["ReplicatedResource"]
