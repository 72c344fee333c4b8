"""Garbage in, clear error out: random documents never escape as anything but API errors."""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from typing import Any

import pytest

from liqo_core.sandbox.apiserver.patch import (
    ApplyConflict,
    PatchError,
    apply_json_patch,
    apply_merge_patch,
    apply_server_side,
    apply_strategic_merge_patch,
    update_managed_fields,
)
from liqo_core.sandbox.apiserver.selectors import (
    SelectorError,
    label_selector_from_api,
    parse_field_selector,
    parse_label_selector,
)

KEYS = [
    "a",
    "name",
    "$patch",
    "containers",
    "metadata",
    "labels",
    "finalizers",
    "spec",
    "ports",
    "port",
    "$retainKeys",
    "$setElementOrder/containers",
    "$deleteFromPrimitiveList/finalizers",
    "matchLabels",
    "matchExpressions",
    "operator",
    "values",
]
EXPECTED = (PatchError, ApplyConflict, SelectorError)


def _random_json(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 3 or roll < 0.3:
        return rng.choice([None, 1, "x", "In", True, 2.5, [], {}])
    if roll < 0.65:
        return {rng.choice(KEYS): _random_json(rng, depth + 1) for _ in range(rng.randint(0, 3))}
    return [_random_json(rng, depth + 1) for _ in range(rng.randint(0, 3))]


def _calls(live: dict[str, Any], doc: Any) -> list[Callable[[], object]]:
    applied = {"apiVersion": "v1", "kind": "Pod", **(doc if isinstance(doc, dict) else {})}
    return [
        lambda: apply_merge_patch(live, doc),
        lambda: apply_json_patch(live, doc),
        lambda: apply_strategic_merge_patch(live, doc, "v1", "Pod"),
        lambda: apply_strategic_merge_patch(live, doc, "apps/v1", "Deployment"),
        lambda: apply_server_side(live, applied, "fuzz", False),
        lambda: update_managed_fields(live, {**applied, "metadata": {"name": "n"}}, "m", "Update"),
        lambda: label_selector_from_api(doc),
    ]


def _outcome(call: Callable[[], object]) -> str:
    """``ok`` or ``error``; anything but an API error escapes and fails the test."""
    try:
        call()
    except EXPECTED:
        return "error"
    return "ok"


@pytest.mark.parametrize("seed", range(4))
def test_random_documents_fail_cleanly(seed: int) -> None:
    rng = random.Random(seed)
    seen: set[str] = set()
    for _ in range(600):
        body = _random_json(rng)
        live = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "n"}}
        if isinstance(body, dict):
            live.update({k: v for k, v in body.items() if k != "metadata"})
        doc = _random_json(rng)
        seen.update(_outcome(call) for call in _calls(live, doc))
    assert seen == {"ok", "error"}


def _select_labels(text: str) -> bool:
    return parse_label_selector(text).matches({"a": "b", "x": "1"})


def _select_fields(text: str) -> bool:
    return parse_field_selector(text).matches({"a": {"b": 1}})


@pytest.mark.parametrize("seed", range(2))
def test_random_selector_strings_fail_cleanly(seed: int) -> None:
    rng = random.Random(seed)
    alphabet = "ab=!(),<> \\in notin.-/_x1"
    seen: set[str] = set()
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        seen.add(_outcome(functools.partial(_select_labels, text)))
        seen.add(_outcome(functools.partial(_select_fields, text)))
    assert seen == {"ok", "error"}
