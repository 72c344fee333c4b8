"""How built-in kinds merge: list strategies and keys, as Kubernetes' Go types declare them.

Strategic merge patch reads ``patchStrategy``/``patchMergeKey``; server-side apply reads
``listType``/``listMapKeys`` (which for built-in types follow the same struct tags). Only
fields whose lists are not atomic need an entry: everything unlisted merges as a map when
it is an object and is replaced whole when it is a list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Union

__all__ = ["OBJECT_META", "ListShape", "Shape", "Struct", "shape_for"]


@dataclass(frozen=True)
class Struct:
    """An object whose named fields have known shapes (unnamed fields use defaults)."""

    fields: Mapping[str, Shape] = field(default_factory=dict)
    values: Shape | None = None  # the shape of every other key (a map's values)

    def child(self, name: str) -> Shape | None:
        """The shape of field ``name``, if declared."""
        return self.fields.get(name, self.values)


@dataclass(frozen=True)
class ListShape:
    """A list: ``map`` (items keyed by ``keys``), ``set`` (unique scalars) or ``atomic``.

    ``merge_key`` is the strategic-merge key (the first of ``keys`` for built-ins);
    ``key_defaults`` supplies values for key fields left out of an item (e.g. a port's
    ``protocol`` defaults to TCP) so server-side apply can still identify the item.
    """

    kind: str  # map | set | atomic
    keys: tuple[str, ...] = ()
    item: Struct | None = None
    key_defaults: Mapping[str, object] = field(default_factory=dict)
    apply_atomic: bool = False  # strategic merge by key, but atomic for server-side apply

    @property
    def apply_kind(self) -> str:
        """The list type server-side apply uses (``listType``)."""
        return "atomic" if self.apply_atomic else self.kind

    @property
    def merge_key(self) -> str | None:
        """The ``patchMergeKey`` used by strategic merge patch."""
        return self.keys[0] if self.kind == "map" and self.keys else None


Shape = Union[Struct, ListShape]  # noqa: UP007 (a runtime alias used before 3.12)

ATOMIC = ListShape("atomic")


def _by(*keys: str, item: Struct | None = None, **defaults: object) -> ListShape:
    return ListShape("map", keys, item, defaults)


# NodeStatus.addresses: patchMergeKey=type, yet listType=atomic (types may repeat).
_ADDRESSES = ListShape("map", ("type",), apply_atomic=True)


_CONDITIONS = _by("type")

OBJECT_META = Struct(
    {
        "ownerReferences": _by("uid"),
        "finalizers": ListShape("set"),
        "managedFields": ATOMIC,
    }
)

CONTAINER = Struct(
    {
        "ports": _by("containerPort", "protocol", protocol="TCP"),
        "env": _by("name"),
        "volumeMounts": _by("mountPath"),
        "volumeDevices": _by("devicePath"),
    }
)

POD_SPEC = Struct(
    {
        "containers": _by("name", item=CONTAINER),
        "initContainers": _by("name", item=CONTAINER),
        "ephemeralContainers": _by("name", item=CONTAINER),
        "volumes": _by("name"),
        "imagePullSecrets": _by("name"),
        "hostAliases": _by("ip"),
        "topologySpreadConstraints": _by("topologyKey", "whenUnsatisfiable"),
        "schedulingGates": _by("name"),
        "resourceClaims": _by("name"),
    }
)

POD_TEMPLATE = Struct({"metadata": OBJECT_META, "spec": POD_SPEC})

POD = Struct(
    {
        "metadata": OBJECT_META,
        "spec": POD_SPEC,
        "status": Struct(
            {
                "conditions": _CONDITIONS,
                "podIPs": _by("ip"),
                "hostIPs": _by("ip"),
            }
        ),
    }
)

NODE = Struct(
    {
        "metadata": OBJECT_META,
        "status": Struct({"conditions": _CONDITIONS, "addresses": _ADDRESSES}),
    }
)

SERVICE = Struct(
    {
        "metadata": OBJECT_META,
        "spec": Struct({"ports": _by("port", "protocol", protocol="TCP")}),
        "status": Struct({"conditions": _CONDITIONS}),
    }
)


def _workload(with_template: bool = True) -> Struct:
    spec = Struct({"template": POD_TEMPLATE}) if with_template else Struct()
    return Struct(
        {"metadata": OBJECT_META, "spec": spec, "status": Struct({"conditions": _CONDITIONS})}
    )


_PLAIN = Struct({"metadata": OBJECT_META})

_KINDS: dict[str, Struct] = {
    "Pod": POD,
    "PodTemplate": Struct({"metadata": OBJECT_META, "template": POD_TEMPLATE}),
    "Node": NODE,
    "Service": SERVICE,
    "Deployment": _workload(),
    "DaemonSet": _workload(),
    "ReplicaSet": _workload(),
    "StatefulSet": _workload(),
    "Job": _workload(),
    "ReplicationController": _workload(),
    "CronJob": Struct(
        {
            "metadata": OBJECT_META,
            "spec": Struct({"jobTemplate": Struct({"spec": Struct({"template": POD_TEMPLATE})})}),
        }
    ),
    "ServiceAccount": Struct({"metadata": OBJECT_META, "secrets": _by("name")}),
    "Namespace": Struct({"metadata": OBJECT_META, "status": Struct({"conditions": _CONDITIONS})}),
    "CustomResourceDefinition": Struct(
        {"metadata": OBJECT_META, "status": Struct({"conditions": _CONDITIONS})}
    ),
    "CertificateSigningRequest": Struct(
        {"metadata": OBJECT_META, "status": Struct({"conditions": _CONDITIONS})}
    ),
}


def shape_for(api_version: str, kind: str) -> Struct:
    """The merge shape of ``kind``; unknown kinds get object metadata rules only.

    ConfigMap, Secret, Lease, Event, EndpointSlice (``endpoints`` atomic), RBAC kinds
    (``rules``/``subjects`` atomic) and custom resources need nothing beyond metadata.
    """
    del api_version  # shapes are the same in every served version of these kinds
    return _KINDS.get(kind, _PLAIN)
