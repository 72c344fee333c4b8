"""Scalar and pass-through types shared by the Liqo API groups.

Kubernetes-owned structures (PodSpec, DeploymentSpec, NodeSelector, ...) are carried as
objects whose content the API server keeps unpruned: Liqo does not redefine them.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer, WithJsonSchema

DNS1123_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
QUANTITY_PATTERN = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
    r"(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
_QUANTITY_RE = re.compile(QUANTITY_PATTERN)


def _check_quantity(value: int | str) -> int | str:
    if isinstance(value, str) and not _QUANTITY_RE.match(value):
        raise ValueError(f"{value!r} is not a Kubernetes quantity (e.g. 500m, 4, 8Gi)")
    return value


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be an integer or a string, not a boolean")
    return value


Quantity = Annotated[
    int | str,
    BeforeValidator(_no_bool),
    AfterValidator(_check_quantity),
    WithJsonSchema(
        {
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "pattern": QUANTITY_PATTERN,
            "x-kubernetes-int-or-string": True,
        }
    ),
]
"""A Kubernetes resource quantity (``4``, ``500m``, ``8Gi``)."""

ResourceList = dict[str, Quantity]
"""Resource name to quantity, as Kubernetes' ``ResourceList``."""

IntOrString = Annotated[
    int | str,
    BeforeValidator(_no_bool),
    WithJsonSchema(
        {"anyOf": [{"type": "integer"}, {"type": "string"}], "x-kubernetes-int-or-string": True}
    ),
]

KubeObject = Annotated[
    dict[str, Any],
    WithJsonSchema({"type": "object", "x-kubernetes-preserve-unknown-fields": True}),
]
"""A Kubernetes-owned structure kept as is (validated by Kubernetes, not by Liqo)."""


def _check_cidr(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError as err:
        raise ValueError(f"{value!r} is not a CIDR (e.g. 10.0.0.0/16)") from err
    if "/" not in value:
        raise ValueError(f"{value!r} is not a CIDR: the prefix length is missing")
    return value


def _check_ipv4(value: str) -> str:
    try:
        ipaddress.IPv4Address(value)
    except ValueError as err:
        raise ValueError(f"{value!r} is not an IPv4 address") from err
    return value


CIDR = Annotated[
    str, AfterValidator(_check_cidr), WithJsonSchema({"type": "string", "format": "cidr"})
]
"""A network prefix such as ``10.0.0.0/16``."""

IPv4 = Annotated[
    str, AfterValidator(_check_ipv4), WithJsonSchema({"type": "string", "format": "ipv4"})
]
"""An IPv4 address."""

ClusterID = Annotated[str, Field(min_length=1, max_length=63, pattern=DNS1123_LABEL_PATTERN)]
"""A Liqo cluster identity: a DNS-1123 label (lower case letters, digits and dashes)."""

Base64 = Annotated[str, WithJsonSchema({"type": "string", "format": "byte"})]
"""Binary data, base64-encoded on the wire (PEM certificates, keys, signatures)."""

Port = Annotated[int, Field(ge=1, le=65535)]
"""A TCP/UDP port number."""


def _format_time(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


Time = Annotated[
    datetime,
    PlainSerializer(_format_time, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
"""A point in time, RFC 3339 with second precision on the wire (Kubernetes ``metav1.Time``)."""
