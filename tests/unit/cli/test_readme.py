"""README.md stays true: its first two commands, PATH after setup, its liqoctl invocations.

The first command installs and starts the sandbox, the second is the one CI runs. What the
first one puts on the PATH (``. .venv/bin/activate``) must give a shell ``liqoctl`` and
``kubectl liqo``; every ``liqoctl`` invocation the page shows must name existing commands
and options.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer

from liqo_core.cli.app import build_app
from liqo_core.cli.context import CliState

REPO = Path(__file__).resolve().parents[3]
README = REPO / "README.md"
SETUP_COMMAND = "./scripts/setup && . .venv/bin/activate && liqoctl sandbox up"


def commands() -> list[str]:
    """The README's indented code lines, continuation lines joined."""
    text = README.read_text().replace("\\\n", " ")
    lines = re.findall(r"^(?: {4}| {6})(\S.*)$", text, flags=re.MULTILINE)
    return [" ".join(line.split()) for line in lines]


def test_the_first_two_commands_run_the_sandbox_and_the_tests() -> None:
    found = commands()
    assert found[:2] == [SETUP_COMMAND, "./scripts/test"]
    # The venv the first command activates is the one scripts/setup creates.
    assert "-m venv .venv" in (REPO / "scripts" / "setup").read_text()


def _shell(command: str) -> subprocess.CompletedProcess[str]:
    """``command`` in a fresh bash with a bare PATH, after the README's activation."""
    activate = Path(sys.prefix) / "bin" / "activate"
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/tmp"),
        "COLUMNS": "80",
    }
    return subprocess.run(
        ["bash", "-c", f". {shlex.quote(str(activate))} && {command}"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
        check=False,
    )


def test_activation_puts_liqoctl_and_the_kubectl_plugin_on_the_path() -> None:
    bindir = Path(sys.prefix) / "bin"
    found = _shell("command -v liqoctl kubectl-liqo liqo")
    assert found.returncode == 0, found.stderr
    assert found.stdout.split() == [str(bindir / n) for n in ("liqoctl", "kubectl-liqo", "liqo")]
    version = _shell("liqoctl version --client")
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("Client version: ")


def test_kubectl_liqo_runs_liqoctl_after_activation() -> None:
    if shutil.which("kubectl") is None:
        pytest.fail("kubectl is not installed: CI installs it (scripts/setup-host)")
    done = _shell("kubectl liqo version --client")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Client version: ")
    usage = _shell("kubectl liqo version --bogus")
    assert usage.returncode == 2
    assert "Usage: kubectl liqo version" in usage.stderr


Command = Any


def _options(command: Command) -> set[str]:
    return {
        name
        for param in command.params
        for name in [*param.opts, *param.secondary_opts]
        if name.startswith("-")
    }


def test_documented_liqoctl_invocations_exist(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("liqo_core.settings.DEFAULT_CONFIG_FILE", REPO / "absent.yaml")
    root: Command = typer.main.get_command(build_app(CliState()))
    invocations = [
        shlex.split(line.split("liqoctl", 1)[1])
        for line in commands()
        if "liqoctl " in line and not line.startswith("./")
    ]
    invocations += [shlex.split(m) for m in re.findall(r"`liqoctl ([^`|<]+)`", README.read_text())]
    assert len(invocations) >= 5
    for args in invocations:
        command, rest = root, list(args)
        while rest:
            arg = rest.pop(0)
            if arg.startswith("-"):
                name = arg.split("=", 1)[0]
                assert name in _options(command) | _options(root), f"{args}: unknown {arg}"
                param = next((p for p in [*command.params, *root.params] if name in p.opts), None)
                if param is not None and not getattr(param, "is_flag", False) and "=" not in arg:
                    rest.pop(0)
            elif hasattr(command, "commands") and arg in command.commands:
                command = command.commands[arg]
            else:
                assert not hasattr(command, "commands") or command.invoke_without_command, (
                    f"liqoctl {' '.join(args)}: no command {arg!r}"
                )
