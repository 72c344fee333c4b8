"""Server-side ``Table`` output (what ``kubectl get`` asks for) and printer-column JSONPath."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from . import meta
from .types import JSON

Cell = Callable[[JSON], Any]
Column = tuple[str, str, str, Cell]  # name, type, description, cell


def human_duration(seconds: float) -> str:
    """Kubernetes' ``duration.HumanDuration`` (the AGE column)."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m" if s % 60 == 0 else f"{m}m{s % 60}s"
    if m < 180:
        return f"{m}m"
    h = m // 60
    if h < 8:
        return f"{h}h" if m % 60 == 0 else f"{h}h{m % 60}m"
    if h < 48:
        return f"{h}h"
    if h < 24 * 8:
        return f"{h // 24}d" if h % 24 == 0 else f"{h // 24}d{h % 24}h"
    if h < 24 * 365 * 2:
        return f"{h // 24}d"
    if h < 24 * 365 * 8:
        y = h // (24 * 365)
        d = (h // 24) % 365
        return f"{y}y" if d == 0 else f"{y}y{d}d"
    return f"{h // (24 * 365)}y"


def age(stamp: str | None) -> str:
    """Human age of an RFC 3339 timestamp (``<unknown>`` if absent)."""
    if not stamp:
        return "<unknown>"
    try:
        then = meta.parse_time(stamp)
    except ValueError:
        return "<invalid>"
    return human_duration((dt.datetime.now(dt.UTC) - then).total_seconds())


_TOKEN = re.compile(r"\.([^.\[]+)|\[(\d+|\*)\]|\[\?\(@\.([\w.]+)\s*==\s*['\"]([^'\"]*)['\"]\)\]")


def jsonpath(obj: Any, path: str) -> list[Any]:
    """Evaluate the JSONPath subset used by printer columns (``.a.b``, ``[0]``, ``[*]``,
    ``[?(@.type=="Ready")]``); returns all matches."""
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1]
    path = path.lstrip("$")
    if path and not path.startswith((".", "[")):
        path = "." + path
    current = [obj]
    pos = 0
    while pos < len(path):
        m = _TOKEN.match(path, pos)
        if m is None:
            return []
        pos = m.end()
        nxt: list[Any] = []
        for value in current:
            if m.group(1) is not None:
                if isinstance(value, dict) and m.group(1) in value:
                    nxt.append(value[m.group(1)])
            elif m.group(2) is not None:
                if isinstance(value, list):
                    if m.group(2) == "*":
                        nxt.extend(value)
                    elif int(m.group(2)) < len(value):
                        nxt.append(value[int(m.group(2))])
            elif isinstance(value, list):
                for item in value:
                    found = jsonpath(item, "." + m.group(3))
                    if found and str(found[0]) == m.group(4):
                        nxt.append(item)
        current = nxt
    return current


def _cell(value: Any, ctype: str) -> Any:
    if value is None:
        return None
    if ctype == "date" and isinstance(value, str):
        return age(value)
    if ctype == "integer" and isinstance(value, int | float):
        return int(value)
    if ctype == "number" and isinstance(value, int | float):
        return value
    if ctype == "boolean" and isinstance(value, bool):
        return value
    if isinstance(value, dict | list):
        import orjson

        return orjson.dumps(value).decode()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if ctype == "string" else value


def _name(obj: JSON) -> str:
    return str(obj["metadata"]["name"])


def _age(obj: JSON) -> str:
    return age(obj["metadata"].get("creationTimestamp"))


NAME: Column = ("Name", "string", "Name must be unique within a namespace.", _name)
AGE: Column = ("Age", "string", "CreationTimestamp is a timestamp.", _age)


def _pod_ready(obj: JSON) -> str:
    statuses = (obj.get("status") or {}).get("containerStatuses") or []
    total = len((obj.get("spec") or {}).get("containers") or [])
    ready = sum(1 for c in statuses if c.get("ready"))
    return f"{ready}/{total}"


def _pod_status(obj: JSON) -> str:
    if obj["metadata"].get("deletionTimestamp"):
        return "Terminating"
    status = obj.get("status") or {}
    for c in status.get("containerStatuses") or []:
        waiting = (c.get("state") or {}).get("waiting")
        if waiting and waiting.get("reason"):
            return str(waiting["reason"])
    return str(status.get("reason") or status.get("phase") or "Unknown")


def _restarts(obj: JSON) -> int:
    statuses = (obj.get("status") or {}).get("containerStatuses") or []
    return sum(int(c.get("restartCount", 0)) for c in statuses)


def _node_status(obj: JSON) -> str:
    ready = "Unknown"
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            ready = "Ready" if c.get("status") == "True" else "NotReady"
    if (obj.get("spec") or {}).get("unschedulable"):
        ready += ",SchedulingDisabled"
    return ready


def _node_roles(obj: JSON) -> str:
    prefix = "node-role.kubernetes.io/"
    roles = sorted(
        k[len(prefix) :] for k in obj["metadata"].get("labels") or {} if k.startswith(prefix)
    )
    return ",".join(roles) or "<none>"


def _ports(obj: JSON) -> str:
    out = []
    for p in (obj.get("spec") or {}).get("ports") or []:
        text = f"{p.get('port')}"
        if p.get("nodePort"):
            text += f":{p['nodePort']}"
        out.append(f"{text}/{p.get('protocol', 'TCP')}")
    return ",".join(out) or "<none>"


def _external_ip(obj: JSON) -> str:
    spec = obj.get("spec") or {}
    ingress = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    ips = [i.get("ip") or i.get("hostname") for i in ingress] + list(spec.get("externalIPs") or [])
    if ips:
        return ",".join(str(i) for i in ips)
    if spec.get("type") == "ExternalName":
        return str(spec.get("externalName", ""))
    return "<pending>" if spec.get("type") == "LoadBalancer" else "<none>"


def _deployment_ready(obj: JSON) -> str:
    ready = (obj.get("status") or {}).get("readyReplicas", 0)
    return f"{ready}/{(obj.get('spec') or {}).get('replicas', 0)}"


def _get(path: str, default: Any = None) -> Cell:
    def cell(obj: JSON) -> Any:
        found = jsonpath(obj, path)
        return found[0] if found else default

    return cell


def _s(name: str, cell: Cell, ctype: str = "string") -> Column:
    return (name, ctype, "", cell)


def _csr_condition(obj: JSON) -> str:
    status = obj.get("status") or {}
    conds = [
        str(c.get("type"))
        for c in status.get("conditions") or []
        if c.get("status", "True") == "True"
    ]
    if status.get("certificate"):
        conds.append("Issued")
    return ",".join(conds) or "Pending"


def _duration(obj: JSON) -> str:
    seconds = (obj.get("spec") or {}).get("expirationSeconds")
    return human_duration(seconds) if seconds else "<none>"


def _event_object(obj: JSON) -> str:
    ref = obj.get("involvedObject") or obj.get("regarding") or {}
    return f"{str(ref.get('kind', '')).lower()}/{ref.get('name', '')}"


def _event_last_seen(obj: JSON) -> str:
    stamp = (
        obj.get("lastTimestamp") or obj.get("eventTime") or obj["metadata"].get("creationTimestamp")
    )
    return age(stamp)


BUILTIN_COLUMNS: dict[tuple[str, str], list[Column]] = {
    ("", "events"): [
        _s("Last Seen", _event_last_seen),
        _s("Type", _get(".type", "")),
        _s("Reason", _get(".reason", "")),
        _s("Object", _event_object),
        _s("Message", _get(".message", "")),
    ],
    ("", "serviceaccounts"): [
        NAME,
        _s("Secrets", lambda o: len(o.get("secrets") or []), "integer"),
        AGE,
    ],
    ("apps", "replicasets"): [
        NAME,
        _s("Desired", _get(".spec.replicas", 0), "integer"),
        _s("Current", _get(".status.replicas", 0), "integer"),
        _s("Ready", _get(".status.readyReplicas", 0), "integer"),
        AGE,
    ],
    ("", "replicationcontrollers"): [
        NAME,
        _s("Desired", _get(".spec.replicas", 0), "integer"),
        _s("Current", _get(".status.replicas", 0), "integer"),
        _s("Ready", _get(".status.readyReplicas", 0), "integer"),
        AGE,
    ],
    ("coordination.k8s.io", "leases"): [
        NAME,
        _s("Holder", _get(".spec.holderIdentity", "")),
        AGE,
    ],
    ("certificates.k8s.io", "certificatesigningrequests"): [
        NAME,
        AGE,
        _s("SignerName", _get(".spec.signerName", "")),
        _s("Requestor", _get(".spec.username", "")),
        _s("RequestedDuration", _duration),
        _s("Condition", _csr_condition),
    ],
    ("", "pods"): [
        NAME,
        _s("Ready", _pod_ready),
        _s("Status", _pod_status),
        _s("Restarts", _restarts, "integer"),
        AGE,
        _s("IP", _get(".status.podIP", "<none>")),
        _s("Node", _get(".spec.nodeName", "<none>")),
        _s("Nominated Node", _get(".status.nominatedNodeName", "<none>")),
        _s("Readiness Gates", lambda o: "<none>"),
    ],
    ("", "namespaces"): [NAME, _s("Status", _get(".status.phase", "")), AGE],
    ("", "nodes"): [
        NAME,
        _s("Status", _node_status),
        _s("Roles", _node_roles),
        AGE,
        _s("Version", _get(".status.nodeInfo.kubeletVersion", "")),
    ],
    ("", "services"): [
        NAME,
        _s("Type", _get(".spec.type", "")),
        _s("Cluster-IP", _get(".spec.clusterIP", "<none>")),
        _s("External-IP", _external_ip),
        _s("Port(s)", _ports),
        AGE,
    ],
    ("", "configmaps"): [
        NAME,
        _s("Data", lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {}), "integer"),
        AGE,
    ],
    ("", "secrets"): [
        NAME,
        _s("Type", _get(".type", "")),
        _s("Data", lambda o: len(o.get("data") or {}), "integer"),
        AGE,
    ],
    ("apps", "deployments"): [
        NAME,
        _s("Ready", _deployment_ready),
        _s("Up-to-date", _get(".status.updatedReplicas", 0), "integer"),
        _s("Available", _get(".status.availableReplicas", 0), "integer"),
        AGE,
    ],
    ("apiextensions.k8s.io", "customresourcedefinitions"): [
        NAME,
        ("Created At", "date", "", lambda o: o["metadata"].get("creationTimestamp")),
    ],
}


BUILTIN_PRIORITIES: dict[tuple[str, str], list[int]] = {
    ("", "pods"): [0, 0, 0, 0, 0, 1, 1, 1, 1],
}
"""Column priorities of built-in tables (1 = shown only with ``-o wide``)."""


def custom_columns(printer_columns: list[JSON]) -> list[Column]:
    """Columns of a custom resource from its CRD's ``additionalPrinterColumns``."""
    if not printer_columns:
        return [NAME, AGE]
    cols: list[Column] = [NAME]
    for pc in printer_columns:
        path = str(pc.get("jsonPath", ""))
        ctype = str(pc.get("type", "string"))

        def cell(obj: JSON, path: str = path) -> Any:
            found = jsonpath(obj, path)
            return found[0] if found else None

        cols.append((str(pc.get("name", "")), ctype, str(pc.get("description", "")), cell))
    return cols


def priorities(printer_columns: list[JSON]) -> list[int]:
    """Column priorities (0 = shown by default, 1 = ``-o wide``)."""
    return [0] + [int(pc.get("priority", 0)) for pc in printer_columns]


def to_table(
    objects: list[JSON],
    columns: list[Column],
    include: str,
    list_meta: JSON,
    column_priorities: list[int] | None = None,
) -> JSON:
    """A ``meta.k8s.io/v1`` Table of ``objects``; ``include`` is None|Metadata|Object."""
    defs = []
    for i, (name, ctype, desc, _cell_fn) in enumerate(columns):
        fmt = "name" if name == "Name" else ""
        prio = column_priorities[i] if column_priorities and i < len(column_priorities) else 0
        defs.append(
            {"name": name, "type": ctype, "format": fmt, "description": desc, "priority": prio}
        )
    rows = []
    for obj in objects:
        cells = [_cell(fn(obj), ctype) for (_n, ctype, _d, fn) in columns]
        row: JSON = {"cells": cells}
        if include == "Object":
            row["object"] = obj
        elif include != "None":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj["metadata"],
            }
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": defs,
        "rows": rows,
    }
