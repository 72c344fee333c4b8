"""Protobuf request bodies decode to the JSON form kube-apiserver would store."""

from __future__ import annotations

import pytest

from liqo_core.sandbox.apiserver import protobuf


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _bytes(num: int, payload: bytes) -> bytes:
    return _varint(num << 3 | 2) + _varint(len(payload)) + payload


def _int(num: int, value: int) -> bytes:
    return _varint(num << 3) + _varint(value)


def _envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    type_meta = _bytes(1, api_version.encode()) + _bytes(2, kind.encode())
    return protobuf.MAGIC + _bytes(1, type_meta) + _bytes(2, raw)


def _meta(name: str) -> bytes:
    # Go always encodes non-pointer fields: empty generateName and namespace included.
    return _bytes(1, name.encode()) + _bytes(2, b"") + _bytes(3, b"") + _bytes(8, b"")


def test_deployment_pointer_zero_is_kept_and_empty_strings_dropped():
    container = _bytes(1, b"web") + _bytes(2, b"nginx") + _bytes(8, b"")  # resources {}
    pod_spec = _bytes(2, container)
    template = _bytes(1, _meta("")) + _bytes(2, pod_spec)
    spec = _int(1, 0) + _bytes(3, template) + _bytes(4, b"") + _int(5, 0) + _int(7, 0)
    obj = protobuf.decode(
        _envelope("apps/v1", "Deployment", _bytes(1, _meta("d")) + _bytes(2, spec))
    )
    assert obj["apiVersion"] == "apps/v1"
    assert obj["kind"] == "Deployment"
    assert obj["metadata"] == {"name": "d"}
    assert obj["spec"]["replicas"] == 0  # *int32: an explicit zero
    assert "minReadySeconds" not in obj["spec"]  # int32 omitempty
    assert "paused" not in obj["spec"]  # bool omitempty
    assert obj["spec"]["strategy"] == {}
    assert obj["spec"]["template"]["spec"]["containers"] == [
        {"name": "web", "image": "nginx", "resources": {}}
    ]


def test_inline_members_negative_ints_and_int_or_string():
    # Volume{name, VolumeSource{emptyDir{}}} is inline in JSON; a probe's ProbeHandler too.
    volume = _bytes(1, b"scratch") + _bytes(2, _bytes(2, b""))
    port = _int(1, 1) + _bytes(3, b"http")  # IntOrString{type: String, strVal: http}
    probe = _bytes(1, _bytes(3, _bytes(1, port))) + _int(2, 5)  # tcpSocket, initialDelay
    container = _bytes(1, b"c") + _bytes(10, probe)
    pod_spec = _bytes(1, volume) + _bytes(2, container) + _int(4, -1 & ((1 << 64) - 1))
    obj = protobuf.decode(_envelope("v1", "Pod", _bytes(1, _meta("p")) + _bytes(2, pod_spec)))
    spec = obj["spec"]
    assert spec["volumes"] == [{"name": "scratch", "emptyDir": {}}]
    assert spec["containers"][0]["livenessProbe"] == {
        "tcpSocket": {"port": "http"},
        "initialDelaySeconds": 5,
    }
    assert spec["terminationGracePeriodSeconds"] == -1


def test_quantity_maps_and_bytes():
    quantity = _bytes(1, b"500m")
    entry = _bytes(1, b"cpu") + _bytes(2, quantity)
    spec = _bytes(1, entry)
    obj = protobuf.decode(_envelope("v1", "ResourceQuota", _bytes(1, _meta("q")) + _bytes(2, spec)))
    assert obj["spec"] == {"hard": {"cpu": "500m"}}
    secret = _bytes(1, _meta("s")) + _bytes(2, _bytes(1, b"k") + _bytes(2, b"\x00\xff"))
    assert protobuf.decode(_envelope("v1", "Secret", secret))["data"] == {"k": "AP8="}


def test_group_with_dotted_name_and_meta_kinds():
    rule = _bytes(1, b"get") + _bytes(3, b"pods")
    role = protobuf.decode(
        _envelope("rbac.authorization.k8s.io/v1", "Role", _bytes(1, _meta("r")) + _bytes(2, rule))
    )
    assert role["rules"] == [{"verbs": ["get"], "resources": ["pods"]}]
    opts = protobuf.decode(_envelope("v1", "DeleteOptions", _int(1, 0) + _bytes(4, b"Foreground")))
    assert opts == {
        "gracePeriodSeconds": 0,
        "propagationPolicy": "Foreground",
        "apiVersion": "v1",
        "kind": "DeleteOptions",
    }


def test_kinds_without_protobuf_form_are_refused():
    with pytest.raises(protobuf.ProtobufError, match="Widget"):
        protobuf.decode(_envelope("example.com/v1", "Widget", b""))
    with pytest.raises(protobuf.ProtobufError):
        protobuf.decode(b"{}")


def test_every_served_builtin_kind_has_a_protobuf_form():
    from liqo_core.sandbox.apiserver.builtins import BUILTIN_TYPES, VIRTUAL_TYPES

    aggregated = {"apiextensions.k8s.io", "apiregistration.k8s.io"}
    missing = [
        rt.kind
        for rt in BUILTIN_TYPES + VIRTUAL_TYPES
        if rt.group not in aggregated
        and protobuf.message_name(rt.api_version, rt.kind) not in protobuf.messages()
    ]
    assert missing == []
