"""Run every benchmark, print a table, and write the figures into docs/benchmarks.md.

    .venv/bin/python benchmarks/run.py [--quick] [--no-write]

Each suite owns one section of docs/benchmarks.md, between ``<!-- bench:NAME -->`` and
``<!-- /bench:NAME -->`` markers; the rest of the page is prose and is left alone.
"""

from __future__ import annotations

import argparse
import platform
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import apiserver  # a sibling module, importable once the folder is on sys.path

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
SUITES: dict[str, Callable[[bool], list[apiserver.Result]]] = {"apiserver": apiserver.run}


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
    args = parser.parse_args()
    machine = f"{platform.machine()}, Python {platform.python_version()}"
    for name, suite in SUITES.items():
        results = suite(args.quick)
        rendered = table(results)
        print(f"\n{name}\n{rendered}")
        if not args.no_write and not args.quick:
            stamp = datetime.now(UTC).strftime("%Y-%m-%d")
            write_section(name, f"Measured {stamp} on {machine}.\n\n{rendered}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
