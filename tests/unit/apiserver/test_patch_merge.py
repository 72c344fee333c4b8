"""JSON merge patch (RFC 7386) and JSON patch (RFC 6902)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from liqo_core.sandbox.apiserver.patch import PatchError, apply_json_patch, apply_merge_patch
from liqo_core.sandbox.apiserver.types import APIError

LIVE = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "cm", "labels": {"a": "1", "b": "2"}},
    "data": {"k": "v"},
    "list": [1, 2, 3],
}


def test_merge_patch_rfc7386() -> None:
    before = copy.deepcopy(LIVE)
    patch: dict[str, Any] = {
        "metadata": {"labels": {"a": None, "c": "3"}},
        "list": [9],
        "new": {"x": None},
    }
    out = apply_merge_patch(LIVE, patch)
    assert out["metadata"]["labels"] == {"b": "2", "c": "3"}
    assert out["list"] == [9]
    assert out["new"] == {}
    assert out["data"] == {"k": "v"}
    assert before == LIVE
    assert patch["metadata"]["labels"]["a"] is None


def test_merge_patch_replaces_scalar_with_map_and_deletes_missing_key() -> None:
    out = apply_merge_patch({"a": "x"}, {"a": {"b": 1}, "gone": None})
    assert out == {"a": {"b": 1}}


def test_merge_patch_result_does_not_alias_patch() -> None:
    patch = {"data": {"nested": {"x": 1}}}
    out = apply_merge_patch(LIVE, patch)
    out["data"]["nested"]["x"] = 2
    assert patch["data"]["nested"]["x"] == 1


def test_merge_patch_rejects_non_object() -> None:
    with pytest.raises(PatchError) as err:
        apply_merge_patch(LIVE, ["x"])  # type: ignore[arg-type]
    assert err.value.code == 400


def test_json_patch_ops() -> None:
    ops = [
        {"op": "add", "path": "/metadata/labels/c", "value": "3"},
        {"op": "remove", "path": "/metadata/labels/a"},
        {"op": "replace", "path": "/data/k", "value": "w"},
        {"op": "add", "path": "/list/-", "value": 4},
        {"op": "move", "from": "/list/0", "path": "/first"},
        {"op": "copy", "from": "/data", "path": "/data2"},
        {"op": "test", "path": "/data/k", "value": "w"},
    ]
    before = copy.deepcopy(LIVE)
    out = apply_json_patch(LIVE, ops)
    assert out["metadata"]["labels"] == {"b": "2", "c": "3"}
    assert out["list"] == [2, 3, 4]
    assert out["first"] == 1
    assert out["data2"] == {"k": "w"}
    assert before == LIVE


@pytest.mark.parametrize(
    "ops",
    [
        [{"op": "test", "path": "/data/k", "value": "nope"}],
        [{"op": "remove", "path": "/metadata/labels/zzz"}],
        [{"op": "replace", "path": "/missing/x", "value": 1}],
    ],
)
def test_json_patch_failures_are_422(ops: list[dict[str, object]]) -> None:
    with pytest.raises(PatchError) as err:
        apply_json_patch(LIVE, ops)
    assert err.value.code == 422
    assert err.value.reason == "Invalid"
    assert isinstance(err.value, APIError)
    assert err.value.to_status()["code"] == 422


@pytest.mark.parametrize(
    "ops",
    [
        {"op": "add"},
        [{"path": "/a"}],
        [{"op": "frobnicate", "path": "/a", "value": 1}],
        ["x"],
    ],
)
def test_json_patch_malformed_is_400(ops: object) -> None:
    with pytest.raises(PatchError) as err:
        apply_json_patch(LIVE, ops)  # type: ignore[arg-type]
    assert err.value.code == 400
    assert err.value.reason == "BadRequest"
