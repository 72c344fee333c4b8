"""CRD structural schemas: defaulting, pruning, validation keywords and CEL rules."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from liqo_core.sandbox.apiserver.patch.shapes import ListShape, Struct
from liqo_core.sandbox.apiserver.schema import (
    CRDValidator,
    FieldError,
    RuleCompileError,
    SchemaError,
)

IMMUTABLE = {"rule": "self == oldSelf", "message": "field is immutable"}

# Shaped after Liqo's NamespaceOffloading and GatewayServer CRDs.
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "required": ["clusterID"],
            "x-kubernetes-validations": [
                {
                    "rule": "self.namespaceMappingStrategy != 'SelectedName' "
                    "|| has(self.remoteNamespaceName)",
                    "message": "remoteNamespaceName is required with SelectedName",
                    "fieldPath": ".remoteNamespaceName",
                    "reason": "FieldValueRequired",
                },
                {
                    "rule": "!(has(self.port) && has(self.ports))",
                    "messageExpression": "'port and ports are exclusive, got ' + string(self.port)",
                },
            ],
            "properties": {
                "clusterID": {
                    "type": "string",
                    "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
                    "maxLength": 20,
                    "minLength": 2,
                    "x-kubernetes-validations": [IMMUTABLE],
                },
                "namespaceMappingStrategy": {
                    "type": "string",
                    "enum": ["DefaultName", "EnforceSameName", "SelectedName"],
                    "default": "DefaultName",
                    "x-kubernetes-validations": [IMMUTABLE],
                },
                "remoteNamespaceName": {"type": "string"},
                "port": {"type": "integer", "format": "int32", "minimum": 1, "maximum": 65535},
                "ports": {
                    "type": "array",
                    "maxItems": 3,
                    "minItems": 1,
                    "x-kubernetes-list-type": "set",
                    "items": {"type": "integer"},
                },
                "mtu": {"type": "integer", "default": 1340, "exclusiveMinimum": True, "minimum": 0},
                "ratio": {"type": "number", "maximum": 1.5, "exclusiveMaximum": True},
                "enabled": {"type": "boolean"},
                "target": {"x-kubernetes-int-or-string": True},
                "cidr": {
                    "type": "string",
                    "x-kubernetes-validations": [
                        {"rule": "isCIDR(self) && cidr(self).prefixLength() <= 24"}
                    ],
                },
                "hosts": {
                    "type": "array",
                    "items": {"type": "string"},
                    "x-kubernetes-validations": [
                        {
                            "rule": "self.all(h, !h.startsWith('-')) && "
                            "self.exists_one(h, h == 'main')",
                            "message": "exactly one main host, none starting with '-'",
                        }
                    ],
                },
                "rules": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                    "items": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {
                            "name": {"type": "string"},
                            "counter": {"type": "boolean", "default": True},
                            "value": {
                                "type": "string",
                                "x-kubernetes-validations": [
                                    {"rule": "self == oldSelf", "message": "value is immutable"}
                                ],
                            },
                        },
                    },
                },
                "template": {
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": True,
                    "properties": {"replicas": {"type": "integer", "default": 1}},
                },
                "labels": {
                    "type": "object",
                    "additionalProperties": {"type": "string", "maxLength": 5},
                    "maxProperties": 2,
                },
                "secretData": {"type": "string", "format": "byte"},
                "since": {"type": "string", "format": "date-time", "nullable": True},
                "endpoint": {
                    "type": "object",
                    "properties": {
                        "address": {"type": "string"},
                        "hostname": {"type": "string"},
                    },
                    "oneOf": [{"required": ["address"]}, {"required": ["hostname"]}],
                },
                "mode": {
                    "type": "string",
                    "anyOf": [{"pattern": "^fast"}, {"pattern": "^slow"}],
                    "not": {"enum": ["fast-forbidden"]},
                },
                "tags": {"type": "array", "uniqueItems": True, "items": {"type": "string"}},
                "nested": {
                    "type": "object",
                    "default": {},
                    "properties": {"inner": {"type": "string", "default": "x"}},
                },
            },
        },
        "status": {"type": "object", "properties": {"phase": {"type": "string"}}},
    },
}

VALIDATOR = CRDValidator(SCHEMA)


def _obj(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"clusterID": "cl-1"}
    base.update(spec)
    return {
        "apiVersion": "offloading.liqo.io/v1beta1",
        "kind": "NamespaceOffloading",
        "metadata": {"name": "offloading", "namespace": "ns"},
        "spec": base,
    }


def _errors(obj: dict[str, Any], old: dict[str, Any] | None = None) -> list[str]:
    return [str(e) for e in VALIDATOR.validate(VALIDATOR.apply_defaults(obj), old)]


def test_valid_object_has_no_errors() -> None:
    obj = _obj(
        port=51840,
        cidr="10.0.0.0/16",
        hosts=["main", "b"],
        rules=[{"name": "a"}, {"name": "b"}],
        target="50%",
        labels={"a": "x"},
        secretData="aGVsbG8=",
        since="2024-01-02T03:04:05Z",
        endpoint={"address": "1.2.3.4"},
        mode="fast",
        tags=["a", "b"],
    )
    assert _errors(obj) == []


def test_defaults_nested_in_items_and_absent_only() -> None:
    obj = _obj(rules=[{"name": "a"}, {"name": "b", "counter": False}], mtu=9000, template={})
    before = copy.deepcopy(obj)
    out = VALIDATOR.apply_defaults(obj)
    assert obj == before
    spec = out["spec"]
    assert spec["namespaceMappingStrategy"] == "DefaultName"
    assert spec["mtu"] == 9000
    assert spec["rules"] == [{"name": "a", "counter": True}, {"name": "b", "counter": False}]
    assert spec["template"] == {"replicas": 1}
    assert spec["nested"] == {"inner": "x"}
    assert "status" not in out
    assert out["metadata"] == {"name": "offloading", "namespace": "ns"}


def test_null_on_non_nullable_field_with_default_is_defaulted() -> None:
    out = VALIDATOR.apply_defaults(_obj(mtu=None))
    assert out["spec"]["mtu"] == 1340


def test_prune_drops_non_nullable_nulls_and_keeps_nullable_ones() -> None:
    obj = _obj(remoteNamespaceName=None, since=None, mtu=None, labels={"a": None})
    out = VALIDATOR.apply_defaults(VALIDATOR.prune(obj))
    assert "remoteNamespaceName" not in out["spec"]
    assert out["spec"]["since"] is None
    assert out["spec"]["mtu"] == 1340
    assert out["spec"]["labels"] == {}
    assert VALIDATOR.validate(out) == []


def test_prune_drops_unknown_fields_but_keeps_preserved_and_root_meta() -> None:
    obj = _obj(bogus=1, template={"anything": {"goes": True}, "replicas": 2})
    obj["metadata"]["labels"] = {"x": "y"}
    obj["extra"] = "gone"
    obj["spec"]["rules"] = [{"name": "a", "junk": 1}]
    obj["spec"]["labels"] = {"free": "form"}
    out = VALIDATOR.prune(obj)
    assert "extra" not in out
    assert "bogus" not in out["spec"]
    assert out["spec"]["template"] == {"anything": {"goes": True}, "replicas": 2}
    assert out["spec"]["rules"] == [{"name": "a"}]
    assert out["spec"]["labels"] == {"free": "form"}
    assert out["metadata"]["labels"] == {"x": "y"}
    assert out["apiVersion"] == "offloading.liqo.io/v1beta1"


def test_prune_embedded_resource_keeps_its_type_meta() -> None:
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "object": {
                        "type": "object",
                        "x-kubernetes-embedded-resource": True,
                        "properties": {"spec": {"type": "object", "properties": {}}},
                    }
                },
            }
        },
    }
    obj = {"spec": {"object": {"apiVersion": "v1", "kind": "Pod", "metadata": {}, "x": 1}}}
    out = CRDValidator(schema).prune(obj)
    assert out["spec"]["object"] == {"apiVersion": "v1", "kind": "Pod", "metadata": {}}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"port": "80"},
            'spec.port: Invalid value: "string": spec.port in body must be of type integer: '
            '"string"',
        ),
        (
            {"port": 0},
            "spec.port: Invalid value: 0: spec.port in body should be greater than or equal to 1",
        ),
        (
            {"port": 70000},
            "spec.port: Invalid value: 70000: spec.port in body should be less than "
            "or equal to 65535",
        ),
        ({"mtu": 0}, "spec.mtu: Invalid value: 0: spec.mtu in body should be greater than 0"),
        (
            {"ratio": 1.5},
            "spec.ratio: Invalid value: 1.5: spec.ratio in body should be less than 1.5",
        ),
        (
            {"enabled": "yes"},
            'spec.enabled: Invalid value: "string": spec.enabled in body must '
            'be of type boolean: "string"',
        ),
        (
            {"target": 1.5},
            'spec.target: Invalid value: "number": spec.target in body must be of '
            'type integer or string: "number"',
        ),
        (
            {"namespaceMappingStrategy": "Other"},
            'spec.namespaceMappingStrategy: Unsupported value: "Other": supported values: '
            '"DefaultName", "EnforceSameName", "SelectedName"',
        ),
        (
            {"clusterID": "A"},
            'spec.clusterID: Invalid value: "A": spec.clusterID in body '
            "should match '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'",
        ),
        ({"clusterID": "a" * 21}, "spec.clusterID: Too long: may not be more than 20 bytes"),
        (
            {"clusterID": "a"},
            'spec.clusterID: Invalid value: "a": spec.clusterID in body should '
            "be at least 2 chars long",
        ),
        ({"ports": [1, 2, 3, 4]}, "spec.ports: Too many: 4: must have at most 3 items"),
        (
            {"ports": []},
            "spec.ports: Invalid value: 0: spec.ports in body should have at least 1 items",
        ),
        ({"ports": [1, 1]}, "spec.ports[1]: Duplicate value: 1"),
        ({"rules": [{"name": "a"}, {"name": "a"}]}, 'spec.rules[1]: Duplicate value: {"name":"a"}'),
        ({"rules": [{"counter": True}]}, "spec.rules[0].name: Required value"),
        (
            {"labels": {"a": "x", "b": "y", "c": "z"}},
            "spec.labels: Too many: 3: must have at most 2 items",
        ),
        ({"labels": {"a": "toolong"}}, "spec.labels[a]: Too long: may not be more than 5 bytes"),
        (
            {"secretData": "not base64!"},
            'spec.secretData: Invalid value: "not base64!": '
            'spec.secretData in body must be of type byte: "not base64!"',
        ),
        (
            {"since": "yesterday"},
            'spec.since: Invalid value: "yesterday": spec.since in body '
            'must be of type date-time: "yesterday"',
        ),
        (
            {"port": 2**31},
            "spec.port: Invalid value: 2147483648: spec.port in body must be of "
            "type int32: 2147483648",
        ),
        (
            {"remoteNamespaceName": None},
            'spec.remoteNamespaceName: Invalid value: "null": '
            'spec.remoteNamespaceName in body must be of type string: "null"',
        ),
        (
            {"endpoint": {"address": "a", "hostname": "h"}},
            "must validate one and only one schema (oneOf)",
        ),
        ({"endpoint": {}}, "must validate one and only one schema (oneOf)"),
        ({"mode": "medium"}, "must validate at least one schema (anyOf)"),
        ({"mode": "fast-forbidden"}, "must not validate the schema (not)"),
        ({"tags": ["a", "a"]}, "spec.tags in body shouldn't contain duplicates"),
    ],
)
def test_keyword_errors(spec: dict[str, Any], expected: str) -> None:
    errors = _errors(_obj(**spec))
    assert any(expected in e for e in errors), errors


def test_required_and_nullable() -> None:
    obj = _obj()
    del obj["spec"]["clusterID"]
    assert _errors(obj) == ["spec.clusterID: Required value"]
    assert _errors(_obj(since=None)) == []


def test_field_error_rendering_and_cause() -> None:
    err = FieldError("spec.replicas", "must be positive", value="x")
    assert str(err) == 'spec.replicas: Invalid value: "x": must be positive'
    assert err.to_cause() == {
        "reason": "FieldValueInvalid",
        "message": 'Invalid value: "x": must be positive',
        "field": "spec.replicas",
    }
    assert str(FieldError("spec.name", "", "Required value")) == "spec.name: Required value"
    unsupported = FieldError("spec.kind", 'supported values: "A", "B"', "Unsupported value", "x")
    assert str(unsupported) == 'spec.kind: Unsupported value: "x": supported values: "A", "B"'
    assert str(FieldError("", "bad")) == "<nil>: Invalid value: bad"


def test_cel_rule_with_reason_and_field_path() -> None:
    errors = VALIDATOR.validate(
        VALIDATOR.apply_defaults(_obj(namespaceMappingStrategy="SelectedName"))
    )
    assert [str(e) for e in errors] == [
        "spec.remoteNamespaceName: Required value: "
        "remoteNamespaceName is required with SelectedName"
    ]
    assert errors[0].reason == "FieldValueRequired"


def test_cel_message_expression() -> None:
    assert _errors(_obj(port=80, ports=[81])) == [
        'spec: Invalid value: "object": port and ports are exclusive, got 80'
    ]


def test_cel_default_message_and_functions() -> None:
    assert _errors(_obj(cidr="10.0.0.0/8")) == []
    errors = _errors(_obj(cidr="10.0.0.0/28"))
    assert errors == [
        'spec.cidr: Invalid value: "string": failed rule: '
        "isCIDR(self) && cidr(self).prefixLength() <= 24"
    ]
    assert _errors(_obj(cidr="nope")) != []


def test_cel_list_macros() -> None:
    assert _errors(_obj(hosts=["main", "x"])) == []
    msg = "spec.hosts: Invalid value: \"array\": exactly one main host, none starting with '-'"
    assert _errors(_obj(hosts=["main", "main"])) == [msg]
    assert _errors(_obj(hosts=["-main", "main"])) == [msg]


def test_transition_rules_only_on_update_with_old_value() -> None:
    created = VALIDATOR.apply_defaults(_obj(rules=[{"name": "a", "value": "v1"}]))
    assert VALIDATOR.validate(created) == []
    changed = copy.deepcopy(created)
    changed["spec"]["clusterID"] = "cl-2"
    changed["spec"]["rules"] = [{"name": "a", "value": "v2"}, {"name": "b", "value": "new"}]
    errors = [str(e) for e in VALIDATOR.validate(changed, created)]
    assert errors == [
        'spec.clusterID: Invalid value: "string": field is immutable',
        'spec.rules[0].value: Invalid value: "string": value is immutable',
    ]
    assert VALIDATOR.validate(created, created) == []


def test_transition_rule_skipped_when_field_was_absent() -> None:
    old = VALIDATOR.apply_defaults(_obj())
    new = copy.deepcopy(old)
    new["spec"]["rules"] = [{"name": "a", "value": "first"}]
    assert VALIDATOR.validate(new, old) == []


def test_cel_evaluation_error_is_reported() -> None:
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "x-kubernetes-validations": [{"rule": "self.missing == 'x'"}],
            }
        },
    }
    errors = CRDValidator(schema).validate({"spec": {}})
    assert len(errors) == 1
    assert "evaluating rule: self.missing == 'x'" in errors[0].message


def test_root_rule_path_is_nil() -> None:
    schema = {
        "type": "object",
        "x-kubernetes-validations": [
            {"rule": "self.metadata.name.startsWith('gw-')", "message": "bad name"}
        ],
        "properties": {"metadata": {"type": "object"}},
    }
    errors = CRDValidator(schema).validate({"metadata": {"name": "x"}})
    assert [str(e) for e in errors] == ['<nil>: Invalid value: "object": bad name']


def test_invalid_rule_fails_at_construction() -> None:
    schema = {"type": "object", "x-kubernetes-validations": [{"rule": "self.a ==="}]}
    with pytest.raises(RuleCompileError):
        CRDValidator(schema)


def test_strings_and_ip_extensions() -> None:
    schema = {
        "type": "object",
        "properties": {
            "s": {
                "type": "string",
                "x-kubernetes-validations": [
                    {"rule": "self.lowerAscii() == 'abc' && self.split('') .size() >= 0"},
                ],
            },
            "addr": {
                "type": "string",
                "x-kubernetes-validations": [
                    {"rule": "isIP(self) && cidr('10.0.0.0/8').containsIP(self)"},
                ],
            },
            "url": {"type": "string", "x-kubernetes-validations": [{"rule": "isURL(self)"}]},
        },
    }
    validator = CRDValidator(schema)
    assert validator.validate({"s": "ABC", "addr": "10.1.2.3", "url": "https://x.io/a"}) == []
    bad = validator.validate({"s": "abd", "addr": "11.0.0.1", "url": "not a url"})
    assert [e.path for e in bad] == ["s", "addr", "url"]


@pytest.mark.parametrize(
    ("schema", "fragment"),
    [
        ({"type": "object", "properties": {"a": {"type": "string", "pattern": "(["}}}, "pattern"),
        ({"type": "object", "properties": {"a": "string"}}, "properties[a]"),
        ({"type": "object", "x-kubernetes-validations": ["self > 1"]}, "openAPIV3Schema"),
        ({"type": "object", "x-kubernetes-validations": [{"rule": ""}]}, "non-empty"),
    ],
)
def test_invalid_schemas_raise_schema_error(schema: dict[str, Any], fragment: str) -> None:
    with pytest.raises(SchemaError) as err:
        CRDValidator(schema)
    assert fragment in str(err.value)
    assert isinstance(err.value, ValueError)


def test_merge_shape_follows_list_types() -> None:
    shape = VALIDATOR.merge_shape
    spec = shape.child("spec")
    assert isinstance(spec, Struct)
    rules = spec.child("rules")
    assert isinstance(rules, ListShape)
    assert (rules.kind, rules.keys) == ("map", ("name",))
    ports = spec.child("ports")
    assert isinstance(ports, ListShape)
    assert ports.kind == "set"
    assert spec.child("hosts") is None
    assert shape.child("metadata") is not None


def test_unchanged_invalid_values_are_ratcheted_on_update() -> None:
    old = VALIDATOR.apply_defaults(_obj(port=0, hosts=["x"]))
    assert len(VALIDATOR.validate(old)) == 2
    new = copy.deepcopy(old)
    new["spec"]["mtu"] = 1400
    assert VALIDATOR.validate(new, old) == []
    new["spec"]["port"] = -1
    assert [e.path for e in VALIDATOR.validate(new, old)] == ["spec.port"]
