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


def _loaded_after(imports: str, heavy: tuple[str, ...]) -> str:
    """Which of ``heavy`` a fresh interpreter has loaded after ``import <imports>``."""
    probe = f"import sys, {imports}; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    return out.strip()


def test_importing_the_package_loads_no_heavy_dependency() -> None:
    """The emulator and every component import liqo_core; settings and plugins load lazily."""
    out = _loaded_after("liqo_core", ("pydantic_settings", "stevedore", "kopf"))
    assert out.strip() == "[]"


def test_importing_the_kube_package_loads_no_client() -> None:
    """liqoctl and the sandbox import liqo_core.kube; kopf and kubernetes_asyncio load on use."""
    out = _loaded_after("liqo_core.kube, liqo_core.kube.rest", ("kopf", "kubernetes_asyncio"))
    assert out.strip() == "[]"
