"""The public names of liqo_core resolve, and importing the package stays cheap."""

from __future__ import annotations

import subprocess
import sys

import pytest

import liqo_core


@pytest.mark.parametrize("name", liqo_core.__all__)
def test_every_public_name_resolves(name: str) -> None:
    assert getattr(liqo_core, name) is not None


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = liqo_core.nope  # type: ignore[attr-defined]


def test_importing_the_package_loads_no_heavy_dependency() -> None:
    """The emulator and every component import liqo_core; settings and plugins load lazily."""
    probe = (
        "import sys, liqo_core; "
        "print(sorted(m for m in ('pydantic_settings', 'stevedore', 'kopf') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
