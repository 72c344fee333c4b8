"""Decoding of Kubernetes protobuf request bodies for the kinds kubectl sends that way.

kubectl's typed commands (``create configmap|secret|namespace|serviceaccount|token``,
``certificate approve|deny``) send ``application/vnd.kubernetes.protobuf``: the bytes
``k8s\\x00`` followed by a ``runtime.Unknown`` whose ``raw`` field is the object's message.
This module decodes those messages into the JSON form with a small field table per
message (field numbers from Kubernetes' ``generated.proto``). Other kinds are answered
415 so the caller knows to send JSON.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from .types import JSON

MAGIC = b"k8s\x00"

# field number -> (json name, type, repeated). Types: "string", "bytes", "int", "bool",
# "time", "map:<value type>", or a message name from MESSAGES.
Field = tuple[str, str, bool]

_META: dict[int, Field] = {
    1: ("name", "string", False),
    2: ("generateName", "string", False),
    3: ("namespace", "string", False),
    5: ("uid", "string", False),
    6: ("resourceVersion", "string", False),
    7: ("generation", "int", False),
    8: ("creationTimestamp", "time", False),
    9: ("deletionTimestamp", "time", False),
    10: ("deletionGracePeriodSeconds", "int", False),
    11: ("labels", "map:string", False),
    12: ("annotations", "map:string", False),
    13: ("ownerReferences", "OwnerReference", True),
    14: ("finalizers", "string", True),
}

MESSAGES: dict[str, dict[int, Field]] = {
    "ObjectMeta": _META,
    "OwnerReference": {
        1: ("kind", "string", False),
        3: ("name", "string", False),
        4: ("uid", "string", False),
        5: ("apiVersion", "string", False),
        6: ("controller", "bool", False),
        7: ("blockOwnerDeletion", "bool", False),
    },
    "ObjectReference": {
        1: ("kind", "string", False),
        2: ("namespace", "string", False),
        3: ("name", "string", False),
        4: ("uid", "string", False),
        5: ("apiVersion", "string", False),
        6: ("resourceVersion", "string", False),
        7: ("fieldPath", "string", False),
    },
    "LocalObjectReference": {1: ("name", "string", False)},
    "ConfigMap": {
        1: ("metadata", "ObjectMeta", False),
        2: ("data", "map:string", False),
        3: ("binaryData", "map:bytes", False),
        4: ("immutable", "bool", False),
    },
    "Secret": {
        1: ("metadata", "ObjectMeta", False),
        2: ("data", "map:bytes", False),
        3: ("type", "string", False),
        4: ("stringData", "map:string", False),
        5: ("immutable", "bool", False),
    },
    "Namespace": {
        1: ("metadata", "ObjectMeta", False),
        2: ("spec", "NamespaceSpec", False),
        3: ("status", "NamespaceStatus", False),
    },
    "NamespaceSpec": {1: ("finalizers", "string", True)},
    "NamespaceStatus": {1: ("phase", "string", False)},
    "ServiceAccount": {
        1: ("metadata", "ObjectMeta", False),
        2: ("secrets", "ObjectReference", True),
        3: ("imagePullSecrets", "LocalObjectReference", True),
        4: ("automountServiceAccountToken", "bool", False),
    },
    "TokenRequest": {
        1: ("metadata", "ObjectMeta", False),
        2: ("spec", "TokenRequestSpec", False),
    },
    "TokenRequestSpec": {
        1: ("audiences", "string", True),
        3: ("boundObjectRef", "BoundObjectReference", False),
        4: ("expirationSeconds", "int", False),
    },
    "BoundObjectReference": {
        1: ("kind", "string", False),
        2: ("apiVersion", "string", False),
        3: ("name", "string", False),
        4: ("uid", "string", False),
    },
    "CertificateSigningRequest": {
        1: ("metadata", "ObjectMeta", False),
        2: ("spec", "CertificateSigningRequestSpec", False),
        3: ("status", "CertificateSigningRequestStatus", False),
    },
    "CertificateSigningRequestSpec": {
        1: ("request", "bytes", False),
        2: ("username", "string", False),
        3: ("uid", "string", False),
        4: ("groups", "string", True),
        5: ("usages", "string", True),
        7: ("signerName", "string", False),
        8: ("expirationSeconds", "int", False),
    },
    "CertificateSigningRequestStatus": {
        1: ("conditions", "CertificateSigningRequestCondition", True),
        2: ("certificate", "bytes", False),
    },
    "CertificateSigningRequestCondition": {
        1: ("type", "string", False),
        2: ("reason", "string", False),
        3: ("message", "string", False),
        4: ("lastUpdateTime", "time", False),
        5: ("lastTransitionTime", "time", False),
        6: ("status", "string", False),
    },
    "SelfSubjectAccessReview": {
        1: ("metadata", "ObjectMeta", False),
        2: ("spec", "SelfSubjectAccessReviewSpec", False),
    },
    "SelfSubjectAccessReviewSpec": {
        1: ("resourceAttributes", "ResourceAttributes", False),
        2: ("nonResourceAttributes", "NonResourceAttributes", False),
    },
    "SubjectAccessReview": {
        1: ("metadata", "ObjectMeta", False),
        2: ("spec", "SubjectAccessReviewSpec", False),
    },
    "LocalSubjectAccessReview": {
        1: ("metadata", "ObjectMeta", False),
        2: ("spec", "SubjectAccessReviewSpec", False),
    },
    "SubjectAccessReviewSpec": {
        1: ("resourceAttributes", "ResourceAttributes", False),
        2: ("nonResourceAttributes", "NonResourceAttributes", False),
        3: ("user", "string", False),
        4: ("groups", "string", True),
        6: ("uid", "string", False),
    },
    "ResourceAttributes": {
        1: ("namespace", "string", False),
        2: ("verb", "string", False),
        3: ("group", "string", False),
        4: ("version", "string", False),
        5: ("resource", "string", False),
        6: ("subresource", "string", False),
        7: ("name", "string", False),
    },
    "NonResourceAttributes": {1: ("path", "string", False), 2: ("verb", "string", False)},
    "SelfSubjectRulesReview": {
        1: ("metadata", "ObjectMeta", False),
        2: ("spec", "SelfSubjectRulesReviewSpec", False),
    },
    "SelfSubjectRulesReviewSpec": {1: ("namespace", "string", False)},
    "SelfSubjectReview": {1: ("metadata", "ObjectMeta", False)},
    "TokenReview": {
        1: ("metadata", "ObjectMeta", False),
        2: ("spec", "TokenReviewSpec", False),
    },
    "TokenReviewSpec": {1: ("token", "string", False), 2: ("audiences", "string", True)},
    "DeleteOptions": {
        1: ("gracePeriodSeconds", "int", False),
        2: ("preconditions", "Preconditions", False),
        3: ("orphanDependents", "bool", False),
        4: ("propagationPolicy", "string", False),
        5: ("dryRun", "string", True),
    },
    "Preconditions": {1: ("uid", "string", False), 2: ("resourceVersion", "string", False)},
    "Time": {1: ("seconds", "int", False), 2: ("nanos", "int", False)},
}


class ProtobufError(ValueError):
    """The body is not a protobuf message this server can decode."""


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ProtobufError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes) -> list[tuple[int, int, Any]]:
    """(field number, wire type, value) of every field in order."""
    out: list[tuple[int, int, Any]] = []
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        num, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 2:
            size, pos = _varint(buf, pos)
            value = buf[pos : pos + size]
            pos += size
        elif wire == 1:
            value = buf[pos : pos + 8]
            pos += 8
        elif wire == 5:
            value = buf[pos : pos + 4]
            pos += 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
        out.append((num, wire, value))
    return out


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _scalar(kind: str, value: Any) -> Any:
    if kind == "string":
        return bytes(value).decode()
    if kind == "bytes":
        return base64.b64encode(bytes(value)).decode()
    if kind == "int":
        return _signed(int(value))
    if kind == "bool":
        return bool(value)
    if kind == "time":
        t = decode_message("Time", bytes(value))
        if not t.get("seconds"):
            return None
        stamp = dt.datetime.fromtimestamp(int(t.get("seconds", 0)), dt.UTC)
        return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    return decode_message(kind, bytes(value))


def decode_message(name: str, buf: bytes) -> JSON:
    """Decode one message of the table into its JSON form (unknown fields are skipped)."""
    table = MESSAGES[name]
    out: JSON = {}
    for num, _wire, value in _fields(buf):
        spec = table.get(num)
        if spec is None:
            continue
        key, kind, repeated = spec
        if kind.startswith("map:"):
            entry = {n: v for n, _w, v in _fields(bytes(value))}
            k = bytes(entry.get(1, b"")).decode()
            out.setdefault(key, {})[k] = _scalar(kind[4:], entry.get(2, b""))
        elif repeated:
            out.setdefault(key, []).append(_scalar(kind, value))
        else:
            decoded = _scalar(kind, value)
            if decoded in ("", 0, None) and kind in ("string", "bytes", "int", "time"):
                continue
            out[key] = decoded
    return out


def decode(body: bytes) -> JSON:
    """Decode a ``k8s\\x00``-framed protobuf body into a JSON object with apiVersion/kind."""
    if not body.startswith(MAGIC):
        raise ProtobufError("missing protobuf envelope")
    unknown = {n: v for n, _w, v in _fields(body[len(MAGIC) :])}
    type_meta = {n: bytes(v).decode() for n, _w, v in _fields(bytes(unknown.get(1, b"")))}
    api_version, kind = type_meta.get(1, ""), type_meta.get(2, "")
    if kind not in MESSAGES or kind in ("ObjectMeta", "Time"):
        raise ProtobufError(f"protobuf encoding of {kind or 'this kind'} is not supported")
    obj = decode_message(kind, bytes(unknown.get(2, b"")))
    if api_version:
        obj["apiVersion"] = api_version
    obj["kind"] = kind
    return obj
