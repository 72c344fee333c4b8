"""Printer-column JSONPath and the AGE column format."""

from __future__ import annotations

import pytest

from liqo_core.sandbox.apiserver.table import custom_columns, human_duration, jsonpath, to_table

OBJ = {
    "metadata": {"name": "x", "creationTimestamp": "2020-01-01T00:00:00Z"},
    "spec": {"size": 3, "items": [{"n": 1}, {"n": 2}]},
    "status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "X", "status": "F"}]},
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (".spec.size", [3]),
        (".spec.items[1].n", [2]),
        (".spec.items[*].n", [1, 2]),
        ('.status.conditions[?(@.type=="Ready")].status', ["True"]),
        (".spec.missing", []),
        ("{.metadata.name}", ["x"]),
    ],
)
def test_jsonpath_subset(path, expected):
    assert jsonpath(OBJ, path) == expected


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (5, "5s"),
        (119, "119s"),
        (150, "2m30s"),
        (600, "10m"),
        (3 * 3600, "3h"),
        (9 * 3600, "9h"),
        (3 * 86400 + 3600, "3d1h"),
        (30 * 86400, "30d"),
    ],
)
def test_human_duration(seconds, text):
    assert human_duration(seconds) == text


def test_custom_columns_render_typed_cells():
    cols = custom_columns(
        [
            {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
            {
                "name": "Ready",
                "type": "string",
                "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
            },
        ]
    )
    table = to_table([OBJ], cols, "None", {"resourceVersion": "1"})
    assert table["rows"] == [{"cells": ["x", 3, "True"]}]
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Size", "Ready"]
