"""The import-linter contracts hold, and would catch the upward imports the core once had.

Each case copies ``liqo_core`` to a temporary directory, adds one import that breaks a
layer, and runs ``lint-imports`` with the project's own contracts over the copy.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[3]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(tmp_path: Path, edits: dict[str, str]) -> subprocess.CompletedProcess[str]:
    copy = tmp_path / "src"
    shutil.copytree(ROOT / "liqo_core", copy / "liqo_core", ignore=shutil.ignore_patterns("*.pyc"))
    for module, line in edits.items():
        path = copy / "liqo_core" / module
        path.write_text(path.read_text() + f"\n{line}\n")
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    environment = {**os.environ, "PYTHONPATH": str(copy)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _broken(output: str) -> set[str]:
    return {match.strip() for match in re.findall(r"^(.*) BROKEN$", output, re.MULTILINE)}


def test_the_contracts_hold_on_the_copy(tmp_path: Path) -> None:
    result = _lint(tmp_path, {})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout


@pytest.mark.parametrize(
    ("edits", "contract"),
    [
        # Public contracts once imported the private runtime.
        ({"transport.py": "import liqo_core._runtime.plugins"}, "Core layers"),
        ({"peers/controller.py": "import liqo_core._runtime.operator"}, "Core layers"),
        # The runtime once depended on the test bed's manager.
        ({"_runtime/operator.py": "import liqo_core.sandbox.liqo"}, "Core layers"),
        # The toolkit must stay below the settings.
        ({"kube/rest.py": "import liqo_core.settings"}, "Core layers"),
        # The sandbox is product code, but never a dependency of a controller.
        (
            {"peers/derive.py": "import liqo_core.sandbox.state"},
            "Controllers and components never import the sandbox",
        ),
        # Production code never imports the test kit.
        (
            {"kube/client.py": "import liqo_core.testing.waiting"},
            "Production code never imports the test kit",
        ),
    ],
)
def test_an_upward_import_breaks_a_contract(
    tmp_path: Path, edits: dict[str, str], contract: str
) -> None:
    result = _lint(tmp_path, edits)
    assert result.returncode != 0
    assert any(name.startswith(contract) for name in _broken(result.stdout)), result.stdout
