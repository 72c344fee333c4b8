"""liqoctl as a whole: command discovery, global options, one-line errors, exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from liqo_core.cli import app as app_module
from liqo_core.cli.app import command_modules, hoist_global_options, run


def test_core_command_modules_are_discovered() -> None:
    names = command_modules()
    for name in ("crds", "plugins", "version"):
        assert f"liqo_core.cli.commands.{name}" in names


def test_help_lists_the_core_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("version", "plugins", "crds"):
        assert command in out


@pytest.mark.parametrize(
    ("argv", "hoisted"),
    [
        (["version", "--kubeconfig", "k"], ["--kubeconfig", "k", "version"]),
        (
            ["plugins", "list", "-n", "x", "-o", "json"],
            ["-n", "x", "plugins", "list", "-o", "json"],
        ),
        (["version", "--context=c", "-v"], ["--context=c", "-v", "version"]),
        (["crds", "--", "--config", "f"], ["crds", "--", "--config", "f"]),
        (["--config", "f", "crds"], ["--config", "f", "crds"]),
    ],
)
def test_global_options_are_accepted_after_the_command(argv: list[str], hoisted: list[str]) -> None:
    assert hoist_global_options(argv) == hoisted


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["frobnicate"]) == 2
    assert "No such command 'frobnicate'" in capsys.readouterr().err


def test_invalid_settings_are_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIQO_CONTROLLER_MANAGER__HEALTH_PORT", "70000")
    assert run(["plugins", "list"]) == 1
    captured = capsys.readouterr()
    assert captured.err == (
        "Error: invalid setting controllerManager.healthPort "
        "(LIQO_CONTROLLER_MANAGER__HEALTH_PORT): Input should be less than or equal to 65535\n"
    )
    assert captured.out == ""


def test_missing_config_file_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = tmp_path / "nope.yaml"
    assert run(["plugins", "list", "--config", str(missing)]) == 1
    assert capsys.readouterr().err == f"Error: config file {missing} does not exist\n"


def test_unknown_command_explains_why_plugin_commands_are_missing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIQO_MODULES", "networking,ghost")
    assert run(["ghost-command"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: No such command 'ghost-command'. Plugin commands are unavailable")
    assert "module 'ghost' is not installed" in err
    assert err.count("\n") == 1


def test_unexpected_errors_are_one_line_with_a_hint(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode() -> str:
        raise RuntimeError("disk on fire\nsecond line")

    monkeypatch.setattr("liqo_core.cli.commands.version.client_version", explode)
    assert run(["version", "--client"]) == 1
    captured = capsys.readouterr()
    assert captured.err == (
        "Error: unexpected RuntimeError: disk on fire second line "
        "(run again with --verbose for details)\n"
    )
    assert run(["version", "--client", "-v"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_kubectl_plugin_name_changes_the_program_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["/usr/local/bin/kubectl-liqo"])
    assert app_module._prog_name() == "kubectl liqo"
    monkeypatch.setattr(sys, "argv", ["liqoctl"])
    assert app_module._prog_name() == "liqoctl"


def test_console_scripts_exist_and_run() -> None:
    bindir = Path(sys.executable).parent
    for script, prog in (("liqoctl", "liqoctl"), ("kubectl-liqo", "kubectl liqo")):
        done = subprocess.run(
            [str(bindir / script), "version", "--bogus"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 2
        assert f"Usage: {prog} version" in done.stderr
        assert "Traceback" not in done.stderr
