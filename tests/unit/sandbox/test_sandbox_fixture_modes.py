"""The ``sandbox`` fixture starts nothing when real clusters are given."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

INNER = """
def test_real_mode(sandbox):
    assert sandbox.emulated is False
    assert sandbox.sandbox is None
    assert [str(c.kubeconfig) for c in sandbox.clusters] == {expected!r}
    assert [c.name for c in sandbox.clusters] == ["cluster-1", "cluster-2"]
"""


def test_real_clusters_mode_starts_no_emulator(tmp_path: Path) -> None:
    kubeconfigs = [tmp_path / "a.yaml", tmp_path / "b.yaml"]
    for path in kubeconfigs:
        path.write_text("apiVersion: v1\nkind: Config\n")
    test_file = tmp_path / "test_inner.py"
    test_file.write_text(INNER.format(expected=[str(p) for p in kubeconfigs]))
    env = {**os.environ, "LIQO_TEST_KUBECONFIGS": ",".join(str(p) for p in kubeconfigs)}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(test_file),
            "--rootdir",
            str(tmp_path),
            "--basetemp",
            str(tmp_path / "base"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert not list((tmp_path / "base").glob("sandbox*"))
