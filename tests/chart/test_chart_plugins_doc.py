"""docs/plugins.md: the transport options it shows, as a settings file and as Helm values, agree.

The Helm values are rendered with Helm's own engine (schema included) and the settings file
the chart renders must carry the same transport options as the documented file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml

from liqo_core.settings import load_settings

from .conftest import RenderFn

DOC = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"
_BLOCK = re.compile(r"```yaml\n# (?P<title>[^\n]+)\n(?P<body>.*?)```", re.DOTALL)


def documented(title: str) -> dict[str, Any]:
    """The YAML block of docs/plugins.md whose first line is the comment ``# <title>``."""
    blocks = {m["title"]: m["body"] for m in _BLOCK.finditer(DOC.read_text())}
    assert title in blocks, f"docs/plugins.md has no yaml block starting with '# {title}'"
    document: dict[str, Any] = yaml.safe_load(blocks[title])
    return document


def test_documented_settings_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(documented("settings file")))
    settings = load_settings(path)
    assert settings.networking.transport == "ipsec"
    assert settings.networking.transport_options("ipsec") == {"mode": "tunnel"}


def test_documented_helm_values_render_the_documented_settings(render: RenderFn) -> None:
    file = documented("settings file")
    rendered = render(documented("Helm values")).settings()
    assert rendered["networking"]["transport"] == file["networking"]["transport"]
    assert rendered["networking"]["transports"] == file["networking"]["transports"]
    assert rendered["modules"] == file["modules"]


def test_settings_file_keys_are_not_helm_values(render: RenderFn) -> None:
    # What the doc used to say: the chart's schema refuses it, so the doc must not.
    with pytest.raises(helm.errors.HelmValuesError, match="'transports' not allowed"):
        render({"networking": {"transport": "ipsec", "transports": {"ipsec": {"mode": "x"}}}})
