"""The structural-schema checker finds what the API server would refuse."""

from __future__ import annotations

from typing import Any

import pytest

from liqo_core.api import ApiModel, CRDInfo, CustomResource, crd_manifest, structural_errors
from liqo_core.api.schema import SchemaError, openapi_schema


def _root(**props: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props}


def test_a_good_schema_passes() -> None:
    schema = _root(
        metadata={"type": "object"},
        spec={
            "type": "object",
            "properties": {
                "q": {
                    "anyOf": [{"type": "integer"}, {"type": "string"}],
                    "x-kubernetes-int-or-string": True,
                },
                "raw": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "m": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        },
    )
    assert structural_errors(schema) == []


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"type": "array", "items": {"type": "string"}}, "type must be object"),
        ({**_root(), "nullable": True}, "must not be nullable"),
        (_root(spec={"properties": {}}), "<root>.spec: type is missing"),
        (_root(spec={"$ref": "#/definitions/x"}), "'$ref' is not allowed"),
        (_root(spec={"type": "thing"}), "unknown type"),
        (
            _root(
                spec={
                    "type": "object",
                    "properties": {},
                    "additionalProperties": {"type": "string"},
                }
            ),
            "exclusive",
        ),
        (_root(spec={"type": "object", "additionalProperties": True}), "must be a schema"),
        (_root(spec={"type": "array"}), "single items schema"),
        (_root(spec={"type": "object", "required": ["x"]}), "'x' is not a property"),
        (_root(spec={"type": "object", "anyOf": [{"type": "string"}]}), "not allowed inside"),
        (
            _root(
                spec={"type": "object", "allOf": [{"x-kubernetes-preserve-unknown-fields": True}]}
            ),
            "extensions",
        ),
        (
            _root(metadata={"type": "object", "properties": {"labels": {"type": "object"}}}),
            "metadata",
        ),
        (_root(spec={"type": "string", "x-kubernetes-embedded-resource": True}), "embedded"),
    ],
)
def test_violations_are_reported(schema: dict[str, Any], message: str) -> None:
    errors = structural_errors(schema)
    assert any(message in e for e in errors), errors


class _Spec(ApiModel):
    value: int | str


class _Bad(CustomResource):
    crd = CRDInfo("example.liqo.io", "v1", "Bad", "bads")
    spec: _Spec


class _Node(ApiModel):
    children: list[_Node] | None = None


def test_unsupported_python_types_are_refused() -> None:
    with pytest.raises(SchemaError, match="unions"):
        crd_manifest(_Bad)
    with pytest.raises(SchemaError, match="recursive"):
        openapi_schema(_Node)


def test_liqo_is_always_a_category() -> None:
    info = CRDInfo("example.liqo.io", "v1", "Thing", "things", categories=("extra",))
    assert info.categories == ("liqo", "extra")
