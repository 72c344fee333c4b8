"""Decoding of Kubernetes protobuf request bodies (every served built-in kind).

kubectl's typed commands (``create deployment|job|cronjob|configmap|secret|service|...``,
``create token``, ``certificate approve|deny``) send ``application/vnd.kubernetes.protobuf``
as kube-apiserver accepts it for every built-in kind: the bytes ``k8s\\x00`` followed by a
``runtime.Unknown`` whose ``raw`` field is the object's message. This module decodes those
messages into the JSON form with the field table of ``protobuf_table``. Kinds without a
protobuf form (custom resources) are answered 415, as kube-apiserver does.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import struct
from typing import Any

import orjson

from .protobuf_table import TABLE
from .types import JSON

MAGIC = b"k8s\x00"

Field = tuple[str, str, str]
"""(json name, type, flags) of one field; see ``protobuf_table``."""

_OMITTABLE = frozenset({"string", "bytes", "int", "bool", "double", "float", "intorstring"})
"""Types whose zero value a non-pointer ``omitempty`` field leaves out of the JSON form."""


@functools.cache
def messages() -> dict[str, dict[int, Field]]:
    """The field table, parsed once: message name -> field number -> field."""
    out: dict[str, dict[int, Field]] = {}
    current: dict[int, Field] = {}
    for line in TABLE.splitlines():
        if line.startswith("@"):
            current = out.setdefault(line[1:], {})
        elif line:
            num, name, kind, flags = line.split(" ")
            current[int(num)] = (name, kind, flags)
    return out


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


def _stamp(buf: bytes, micro: bool) -> str | None:
    parts = {n: v for n, _w, v in _fields(buf)}
    seconds, nanos = _signed(int(parts.get(1, 0))), int(parts.get(2, 0))
    if not seconds and not nanos:
        return None
    stamp = dt.datetime.fromtimestamp(seconds, dt.UTC)
    if micro:
        return stamp.strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos // 1000:06d}Z"
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def _duration(nanos: int) -> str:
    """Go's ``time.Duration.String`` form, as ``metav1.Duration`` serializes."""
    if nanos == 0:
        return "0s"
    sign = "-" if nanos < 0 else ""
    nanos = abs(nanos)
    if nanos < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("\u00b5s", 1_000), ("ns", 1)):
            if nanos >= size:
                return f"{sign}{nanos / size:g}{unit}"
    hours, rest = divmod(nanos, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    seconds = f"{rest / 1e9:.9f}".rstrip("0").rstrip(".")
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}s"
    if minutes:
        return f"{sign}{minutes}m{seconds}s"
    return f"{sign}{seconds}s"


def _scalar(kind: str, wire: int, value: Any) -> Any:
    if kind == "string":
        return bytes(value).decode()
    if kind == "bytes":
        return base64.b64encode(bytes(value)).decode()
    if kind == "int":
        return _signed(int(value))
    if kind == "bool":
        return bool(value)
    if kind == "double":
        return struct.unpack("<d", bytes(value))[0] if wire == 1 else float(value)
    if kind == "float":
        return struct.unpack("<f", bytes(value))[0] if wire == 5 else float(value)
    if kind in ("time", "microtime"):
        return _stamp(bytes(value), kind == "microtime")
    parts = {n: v for n, _w, v in _fields(bytes(value))}
    if kind == "duration":
        return _duration(_signed(int(parts.get(1, 0))))
    if kind == "quantity":
        return bytes(parts.get(1, b"")).decode()
    if kind == "intorstring":
        if int(parts.get(1, 0)) == 1:
            return bytes(parts.get(3, b"")).decode()
        return _signed(int(parts.get(2, 0)))
    if kind == "rawjson":
        raw = bytes(parts.get(1, b""))
        try:
            return orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError as exc:
            raise ProtobufError(f"embedded object is not JSON: {exc}") from exc
    return decode_message(kind, bytes(value))


def _packed(kind: str, value: bytes) -> list[Any]:
    out: list[Any] = []
    pos = 0
    while pos < len(value):
        item, pos = _varint(value, pos)
        out.append(_scalar(kind, 0, item))
    return out


def decode_message(name: str, buf: bytes) -> JSON:
    """Decode one message of the table into its JSON form (unknown fields are skipped).

    As kube-apiserver's decode then JSON encode: a zero scalar of a non-pointer
    ``omitempty`` field is left out, a pointer's zero is kept, embedded messages are kept.
    """
    table = messages().get(name)
    if table is None:
        raise ProtobufError(f"no protobuf decoding for {name}")
    out: JSON = {}
    for num, wire, value in _fields(buf):
        spec = table.get(num)
        if spec is None or spec[1] == "skip":
            continue
        key, kind, flags = spec
        if kind.startswith("map:"):
            entry = {n: (w, v) for n, w, v in _fields(bytes(value))}
            k = bytes(entry.get(1, (2, b""))[1]).decode()
            vw, vv = entry.get(2, (2, b""))
            out.setdefault(key, {})[k] = _scalar(kind[4:], vw, vv)
        elif "r" in flags:
            items = out.setdefault(key, [])
            if wire == 2 and kind in ("int", "bool"):
                items.extend(_packed(kind, bytes(value)))
            else:
                items.append(_scalar(kind, wire, value))
        else:
            decoded = _scalar(kind, wire, value)
            if decoded is None:
                continue
            if "i" in flags and isinstance(decoded, dict):
                out.update(decoded)
                continue
            droppable = kind in _OMITTABLE and "p" not in flags and "k" not in flags
            if droppable and decoded in ("", 0):
                continue
            out[key] = decoded
    return out


def message_name(api_version: str, kind: str) -> str:
    """The table's message for a kind (``meta.v1.<kind>`` for the meta kinds)."""
    group, _, version = api_version.rpartition("/")
    package = (group.split(".", 1)[0] or "core") + "." + version
    name = f"{package}.{kind}"
    return name if name in messages() else f"meta.v1.{kind}"


def decode(body: bytes) -> JSON:
    """Decode a ``k8s\\x00``-framed protobuf body into a JSON object with apiVersion/kind."""
    if not body.startswith(MAGIC):
        raise ProtobufError("missing protobuf envelope")
    unknown = {n: v for n, _w, v in _fields(body[len(MAGIC) :])}
    type_meta = {n: bytes(v).decode() for n, _w, v in _fields(bytes(unknown.get(1, b"")))}
    api_version, kind = type_meta.get(1, ""), type_meta.get(2, "")
    name = message_name(api_version, kind)
    if not kind or name not in messages():
        raise ProtobufError(f"protobuf encoding of {kind or 'this kind'} is not supported")
    obj = decode_message(name, bytes(unknown.get(2, b"")))
    if api_version:
        obj["apiVersion"] = api_version
    obj["kind"] = kind
    return obj
