"""liqoctl start-up: ``--help`` and ``version`` as whole processes, beside kubectl's.

Each command runs as a user types it (a new process, the console script on the PATH), in
an environment without a kubeconfig (so ``version`` prints the client's version only)
and with its own cache directory. Figures are the median and the fastest of several
runs, and the median CPU time (user + system: what the machine's other load does not
inflate). ``--help`` is measured twice: with the record of the plugins' commands that any
earlier run leaves (the usual case), and with no record (the first run after installing
or changing plugins or settings, which loads them).
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

BIN = Path(sys.executable).parent
#: What the issue asks of ``liqoctl --help`` and ``liqoctl version``, in seconds.
TARGET = 0.3


@dataclass(frozen=True)
class Timing:
    """Wall-clock and CPU (user + system) seconds of the runs of one command."""

    name: str
    seconds: list[float]
    cpu: list[float]
    target: float | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def fastest(self) -> float:
        return min(self.seconds)

    @property
    def median_cpu(self) -> float:
        return statistics.median(self.cpu)


def _environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIQO_", "XDG_"))}
    env.pop("KUBECONFIG", None)
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / "cache"), COLUMNS="80")
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _once(argv: Sequence[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one run of ``argv``."""
    cpu, start = _cpu(), time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, timeout=60, check=False)
    seconds, cpu = time.perf_counter() - start, _cpu() - cpu
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr.decode().strip()}")
    return seconds, cpu


def measure(
    name: str,
    argv: Sequence[str],
    runs: int,
    home: Path,
    *,
    fresh_cache: bool = False,
    target: float | None = None,
) -> Timing:
    """Run ``argv`` once to warm the page cache, then ``runs`` times."""
    env = _environment(home)
    _once(argv, env)
    seconds, cpu = [], []
    for _ in range(runs):
        if fresh_cache:
            shutil.rmtree(home / "cache", ignore_errors=True)
        wall, used = _once(argv, env)
        seconds.append(wall)
        cpu.append(used)
    return Timing(name, seconds, cpu, target)


def run(quick: bool = False, runs: int | None = None) -> list[Timing]:
    """Measure liqoctl's start-up commands and ``kubectl version --client``."""
    count = runs or (3 if quick else 11)
    liqoctl = str(BIN / "liqoctl")
    with tempfile.TemporaryDirectory(prefix="liqo-bench-cli-") as tmp:
        home = Path(tmp)
        results = [
            measure("liqoctl --help", [liqoctl, "--help"], count, home, target=TARGET),
            measure("liqoctl version", [liqoctl, "version"], count, home, target=TARGET),
            measure("liqoctl version --client", [liqoctl, "version", "--client"], count, home),
            measure(
                "liqoctl --help, no record of plugin commands yet",
                [liqoctl, "--help"],
                max(3, count // 3),
                home,
                fresh_cache=True,
            ),
        ]
        kubectl = shutil.which("kubectl")
        if kubectl is not None:
            results.append(
                measure("kubectl version --client", [kubectl, "version", "--client"], count, home)
            )
    return results


def table(results: list[Timing]) -> str:
    """A Markdown table of the results."""
    rows = [
        "| command | runs | median (s) | fastest (s) | median CPU (s) | target (s) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        target = "-" if r.target is None else f"≤ {r.target:.1f}"
        rows.append(
            f"| {r.name} | {len(r.seconds)} | {r.median:.3f} | {r.fastest:.3f} "
            f"| {r.median_cpu:.3f} | {target} |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    print(table(run(quick="--quick" in sys.argv)))
