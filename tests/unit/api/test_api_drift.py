"""The CRDs committed in the chart are exactly what the models generate."""

from __future__ import annotations

from pathlib import Path

from apitest_support import ALL_MODELS, CHART_CRDS

from liqo_core.api.crds import write_crds

REGENERATE = "liqoctl crds --output-dir charts/liqo/crds"


def test_chart_crds_match_the_models(tmp_path: Path) -> None:
    write_crds(ALL_MODELS, tmp_path)
    fresh = {p.name: p.read_text(encoding="utf-8") for p in tmp_path.glob("*.yaml")}
    committed = {p.name: p.read_text(encoding="utf-8") for p in CHART_CRDS.glob("*.yaml")}
    stale = sorted(
        name for name in fresh.keys() | committed.keys() if fresh.get(name) != committed.get(name)
    )
    assert not stale, (
        f"charts/liqo/crds is out of date ({', '.join(stale)}); regenerate it with: {REGENERATE}"
    )
