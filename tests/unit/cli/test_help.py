"""Every liqoctl help page is readable at 80 columns: whole option names, no ``<bool>``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import typer

from liqo_core.cli.app import build_app, run
from liqo_core.cli.context import CliState

Command = Any  # typer's own click objects: a group is a command with ``commands``


def walk(command: Command, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Command]]:
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from walk(sub, (*path, name))


def every_command() -> list[tuple[tuple[str, ...], Command]]:
    return list(walk(typer.main.get_command(build_app(CliState()))))


def test_every_help_page_fits_80_columns_with_whole_option_names(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    commands = every_command()
    assert len(commands) > 20  # core and plugin commands, groups and leaves
    for path, command in commands:
        assert run([*path, "--help"]) == 0, path
        page = capsys.readouterr().out
        where = f"liqoctl {' '.join(path)} --help"
        assert "<bool>" not in page, where
        assert max(len(line) for line in page.splitlines()) <= 80, where
        for param in command.params:
            for name in [*param.opts, *param.secondary_opts]:
                if name.startswith("-"):
                    assert name in page, f"{where}: {name} is missing or cut"
        for line in page.splitlines():
            assert "…" not in line, f"{where}: {line!r} is cut"


def test_peer_help_shows_flags_as_flags(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    assert run(["peer", "--help"]) == 0
    page = capsys.readouterr().out
    assert "--create-resource-slice / --no-create-resource-slice" in page
    assert "--networking-disabled " in page  # a flag: no value type after it
    assert "--resource NAME=QUANTITY" in page
    assert "╭" not in page  # plain help, no rich panel
