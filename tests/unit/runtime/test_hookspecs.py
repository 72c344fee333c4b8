"""The hook specifications are documented and exposed as the public API promises."""

from __future__ import annotations

import inspect

import pytest

import liqo_core
from liqo_core import hookspecs

SPECS = [
    (name, function)
    for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
    if name.startswith("liqo_")
]


def test_every_spec_is_marked_for_the_liqo_project() -> None:
    assert SPECS
    for name, function in SPECS:
        assert hasattr(function, "liqo_spec"), name


@pytest.mark.parametrize(("name", "function"), SPECS, ids=[name for name, _ in SPECS])
def test_every_spec_documents_each_parameter_and_its_return(name: str, function: object) -> None:
    doc = inspect.getdoc(function) or ""
    signature = inspect.signature(function)  # type: ignore[arg-type]
    for parameter in signature.parameters:
        assert f":param {parameter}:" in doc, f"{name} does not document {parameter}"
    if signature.return_annotation not in ("None", None):
        assert ":return:" in doc, f"{name} does not document its return value"


def test_public_names_resolve() -> None:
    for name in liqo_core.__all__:
        assert getattr(liqo_core, name) is not None
    assert liqo_core.hookimpl is hookspecs.hookimpl
