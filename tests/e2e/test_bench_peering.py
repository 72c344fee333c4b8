"""The peering benchmark still runs: one small round through its one command (not timed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

# Three clusters and five controller-managers, started one after the other.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

RUNNER = Path(__file__).resolve().parents[2] / "benchmarks" / "run.py"


def test_the_peering_benchmark_completes_and_prints_its_table() -> None:
    command = [sys.executable, str(RUNNER), "--only", "peering", "--no-write"]
    command += ["--providers", "2", "--runs", "1"]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr[-4000:]}"
    lines = proc.stdout.splitlines()
    assert "| measure | value | notes |" in lines, proc.stdout
    measures = [line.split(" | ")[0][2:] for line in lines if line.startswith("| ")]
    assert "1 provider: Tenant applied → slice accepted with its kubeconfig" in measures
    assert "2 providers: all Tenants applied → every slice accepted with its kubeconfig" in measures
    assert "consumer controller-manager RSS with 2 peerings" in measures, proc.stdout
