"""The status of built-in kinds in the form kube-apiserver serializes it.

kube-apiserver decodes every write into its Go type and encodes it back: a status integer
without ``omitempty`` is always there (``0`` when unset: a new ReplicaSet answers
``status.replicas: 0``, a DaemonSet its four ``*NumberScheduled``/``numberReady``
counters), one with ``omitempty`` disappears when zero (``numberUnavailable: 0`` is never
shown), and a non-pointer ``status`` struct is ``{}`` rather than absent. The field rules
come from the protobuf table, which records each field's ``omitempty``.
"""

from __future__ import annotations

from .protobuf import message_name, messages
from .types import JSON, ResourceType


def canonical_status(rt: ResourceType, obj: JSON) -> None:
    """Bring the top-level integers of ``obj``'s status to kube-apiserver's serialized form."""
    table = messages()
    top = table.get(message_name(rt.api_version, rt.kind))
    if top is None:
        return
    field = next((f for f in top.values() if f[0] == "status"), None)
    if field is None or field[1] not in table:
        return
    status = obj.get("status")
    if status is None:
        if "p" in field[2]:
            return
        status = obj["status"] = {}
    if not isinstance(status, dict):
        return
    for key, kind, flags in table[field[1]].values():
        if kind != "int" or "p" in flags:
            continue
        if "k" in flags:
            status.setdefault(key, 0)
        elif key in status and status[key] == 0:
            del status[key]
