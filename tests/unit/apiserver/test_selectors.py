"""Label and field selector grammar and matching, as Kubernetes defines them."""

from __future__ import annotations

import pytest

from liqo_core.sandbox.apiserver.selectors import (
    SelectorError,
    label_selector_from_api,
    parse_field_selector,
    parse_label_selector,
)

LABELS = {"app": "web", "tier": "front", "liqo.io/remote-cluster-id": "c1", "n": "5"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", True),
        ("app=web", True),
        ("app==web", True),
        ("app=db", False),
        ("app!=db", True),
        ("app!=web", False),
        ("missing!=x", True),
        ("app in (web,db)", True),
        ("app in (db)", False),
        ("app notin (db, cache)", True),
        ("app notin (web)", False),
        ("missing notin (web)", True),
        ("missing in (web)", False),
        ("app", True),
        ("missing", False),
        ("!missing", True),
        ("!app", False),
        ("app=web,tier=front", True),
        ("app=web, tier=back", False),
        ("  app = web ,  !missing  ", True),
        ("liqo.io/remote-cluster-id=c1", True),
        ("n>4", True),
        ("n<5", False),
        ("app>4", False),
        ("missing=", False),
        ("x in (a,)", False),
    ],
)
def test_label_selector_matching(text: str, expected: bool) -> None:
    assert parse_label_selector(text).matches(LABELS) is expected


def test_empty_value_equality_matches_empty_label() -> None:
    sel = parse_label_selector("a=")
    assert sel.matches({"a": ""})
    assert not sel.matches({})
    assert parse_label_selector("a in (x,)").matches({"a": ""})


def test_empty_property_and_rendering() -> None:
    assert parse_label_selector("").empty
    sel = parse_label_selector("b in (y,x),a,!c")
    assert not sel.empty
    assert str(sel) == "a,b in (x,y),!c"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("app=web,", "end of string"),
        ("app in ()", "can't be empty"),
        ("app in (a", "end of string"),
        ("app in a", "'('"),
        ("=web", "identifier"),
        ("app=web=x", "','"),
        ("a b", "'b'"),
        ("!", "identifier"),
        ("!a=b", "'='"),
        ("-bad=x", "name part"),
        ("a=-bad", "valid label"),
        ("Example.com/a=b", "prefix part"),
        ("/a=b", "prefix part must be non-empty"),
        ("a/=b", "name part must be non-empty"),
        ("a=" + "x" * 64, "no more than 63"),
        ("x" * 64, "no more than 63"),
        ("n>x", "integer"),
        ("a=(b)", "identifier"),
        ("in=x", "identifier"),
        ("a=notin", "identifier"),
        ("a in (in)", "found 'in'"),
    ],
)
def test_label_selector_errors(text: str, fragment: str) -> None:
    with pytest.raises(SelectorError) as err:
        parse_label_selector(text)
    assert fragment in str(err.value)


def test_selector_error_is_value_error() -> None:
    assert issubclass(SelectorError, ValueError)


def test_api_selector_nil_matches_nothing_and_empty_everything() -> None:
    assert not label_selector_from_api(None).matches({})
    assert not label_selector_from_api(None).empty
    assert label_selector_from_api({}).matches({})
    assert label_selector_from_api({}).empty


def test_api_selector_expressions() -> None:
    sel = label_selector_from_api(
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["front", "back"]},
                {"key": "env", "operator": "NotIn", "values": ["prod"]},
                {"key": "liqo.io/remote-cluster-id", "operator": "Exists"},
                {"key": "gone", "operator": "DoesNotExist"},
            ],
        }
    )
    assert sel.matches(LABELS)
    assert not sel.matches({**LABELS, "env": "prod"})
    assert not sel.matches({**LABELS, "gone": ""})
    assert not sel.matches({k: v for k, v in LABELS.items() if k != "tier"})


@pytest.mark.parametrize(
    ("sel", "fragment"),
    [
        ({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]}, "Unsupported"),
        ({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}, "can't be empty"),
        ({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}, "Forbidden"),
        ({"matchLabels": {"a b": "x"}}, "name part"),
        ({"matchLabels": {"a": "x y"}}, "valid label"),
    ],
)
def test_api_selector_errors(sel: dict[str, object], fragment: str) -> None:
    with pytest.raises(SelectorError) as err:
        label_selector_from_api(sel)
    assert fragment in str(err.value)


POD = {
    "metadata": {"name": "p1", "namespace": "default"},
    "spec": {"nodeName": "node-a", "hostNetwork": True, "priority": 7},
    "status": {"phase": "Running"},
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", True),
        ("metadata.name=p1", True),
        ("metadata.name==p1", True),
        ("metadata.name!=p1", False),
        ("spec.nodeName=node-a,status.phase=Running", True),
        ("spec.nodeName=node-a,status.phase!=Running", False),
        ("spec.nodeName=", False),
        ("spec.schedulerName=", True),
        ("spec.schedulerName!=", False),
        ("spec.hostNetwork=true", True),
        ("spec.priority=7", True),
        ("status.phase!=Pending", True),
    ],
)
def test_field_selector_matching(text: str, expected: bool) -> None:
    assert parse_field_selector(text).matches(POD) is expected


def test_field_selector_fields_and_escapes() -> None:
    sel = parse_field_selector(r"metadata.name=a\,b\=c\\d,spec.nodeName!=x")
    assert sel.fields == {"metadata.name", "spec.nodeName"}
    assert sel.matches({"metadata": {"name": "a,b=c\\d"}})
    assert str(sel) == r"metadata.name=a\,b\=c\\d,spec.nodeName!=x"
    assert parse_field_selector("").empty
    assert parse_field_selector("metadata.name=a,,").fields == {"metadata.name"}
    assert parse_field_selector("a=b, c=d").fields == {"a", " c"}


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("metadata.name", "can't understand"),
        ("=x", "field name is empty"),
        (r"metadata.name=a\b", "invalid escape"),
        ("metadata.name=a=b", "unescaped"),
        ("metadata.name=a\\", "unterminated"),
        (" ", "can't understand"),
    ],
)
def test_field_selector_errors(text: str, fragment: str) -> None:
    with pytest.raises(SelectorError) as err:
        parse_field_selector(text)
    assert fragment in str(err.value)
