"""Run every benchmark, print a table, and write the figures into docs/benchmarks.md.

    .venv/bin/python benchmarks/run.py [--quick] [--no-write] [--only NAME]
        [--providers N] [--runs N]

Each suite owns one section of docs/benchmarks.md, between ``<!-- bench:NAME -->`` and
``<!-- /bench:NAME -->`` markers; the rest of the page is prose and is left alone.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import apiserver  # sibling modules, importable once the folder is on sys.path
import cli
import peering
import sandbox_network

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
#: Each suite measures and returns its rendered table.
SUITES: dict[str, Callable[[argparse.Namespace], str]] = {
    "apiserver": lambda args: table(apiserver.run(args.quick)),
    "cli": lambda args: cli.table(cli.run(args.quick, args.runs)),
    "peering": lambda args: peering.table(peering.run(args.quick, args.providers, args.runs)),
    "sandbox-network": lambda args: sandbox_network.table(sandbox_network.run(args.quick)),
}


def table(results: list[apiserver.Result]) -> str:
    """A Markdown table of the results."""
    rows = ["| benchmark | operations | seconds | rate |", "|---|---:|---:|---:|"]
    rows += [
        f"| {r.name} | {r.count} | {r.seconds:.3f} | {r.rate:,.0f} {r.unit} |" for r in results
    ]
    return "\n".join(rows)


def write_section(name: str, body: str) -> None:
    """Replace (or append) the section of one suite in docs/benchmarks.md."""
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{start}\n{body}\n{end}"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _m: block, text) if pattern.search(text) else f"{text}\n{block}\n"
    DOC.write_text(text)


def main() -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts (a smoke run)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--only", choices=sorted(SUITES), action="append", help="run this suite")
    parser.add_argument("--providers", type=int, help="peering: providers of one consumer (20)")
    parser.add_argument(
        "--runs",
        type=int,
        help="peering: runs of the one-provider case (5); cli: runs of each command (11)",
    )
    args = parser.parse_args()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    machine = (
        f"{platform.machine()}, {os.cpu_count()} cores, {memory:.0f} GiB, "
        f"Python {platform.python_version()}"
    )
    for name, suite in SUITES.items():
        if args.only and name not in args.only:
            continue
        rendered = suite(args)
        print(f"\n{name}\n{rendered}")
        if not args.no_write and not args.quick:
            stamp = datetime.now(UTC).strftime("%Y-%m-%d")
            write_section(name, f"Measured {stamp} on {machine}.\n\n{rendered}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
