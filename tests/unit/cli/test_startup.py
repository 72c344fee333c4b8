"""liqoctl starts fast: ``--help`` and core commands load no settings, runtime or client.

Plugin commands still show in ``--help``: a run that loads them records what they are
(liqo_core.cli.commandcache), keyed by everything that could change them; ``--help``
lists them from that record, identical to a listing that loads the plugins.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import liqo_core.settings
from liqo_core.cli import commandcache
from liqo_core.cli.app import command_name, run
from liqo_core.cli.commands import sandbox as sandbox_command
from liqo_core.cli.context import CliState

#: What makes ``liqoctl --help`` take a second: none of it may load for it, nor what
#: only some commands need (the settings, the runtime, the CR models, the sandbox, rich).
HEAVY = (
    "kopf",
    "kubernetes_asyncio",
    "aiohttp",
    "kubernetes",
    "pydantic_settings",
    "liqo_core.settings",
    "liqo_core._runtime",
    "liqo_core.api",
    "liqo_core.sandbox",
    "rich",
)
#: Read before the autouse fixture of conftest.py patches it.
DEFAULT_CONFIG_FILE = liqo_core.settings.DEFAULT_CONFIG_FILE


def loaded_modules(code: str, home: Path) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter; its stdout (JSON) and the heavy modules loaded."""
    probe = (
        f"{code}\nimport json, sys\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIQO_", "XDG_"))}
    env.update(HOME=str(home), COLUMNS="80")
    env.pop("KUBECONFIG", None)
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    *output, last = done.stdout.splitlines()
    return {"output": "\n".join(output), "heavy": json.loads(last)}


def test_importing_the_cli_loads_nothing_heavy(tmp_path: Path) -> None:
    assert loaded_modules("import liqo_core.cli.app", tmp_path)["heavy"] == []


def test_help_and_version_load_nothing_heavy(tmp_path: Path) -> None:
    run_help = "from liqo_core.cli.app import run\nrun(['--help'])"
    cold = loaded_modules(run_help, tmp_path)
    assert "authenticate" in str(cold["output"])  # the plugins were loaded and recorded
    warm = loaded_modules(run_help, tmp_path)
    assert warm["heavy"] == []
    assert warm["output"] == cold["output"]
    version = loaded_modules(
        "from liqo_core.cli.app import run\nrun(['version'])\nrun(['version', '--client'])",
        tmp_path,
    )
    assert version["heavy"] == []
    assert str(version["output"]).startswith("Client version: ")


def test_help_from_the_record_is_the_help_of_the_loaded_plugins(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(["--help"]) == 0
    loaded = capsys.readouterr().out
    assert commandcache.cache_file().is_file()

    def no_runtime(self: CliState) -> None:
        raise AssertionError("--help loaded the runtime")

    monkeypatch.setattr(CliState, "runtime", no_runtime)
    assert run(["--help"]) == 0
    assert capsys.readouterr().out == loaded
    assert run([]) == 2  # no arguments: the same help, as a usage error (click's way)
    assert capsys.readouterr().err == loaded
    assert run(["version", "--client"]) == 0  # a core command loads no plugin either
    capsys.readouterr()


def test_plugin_commands_run_their_real_code_after_a_recorded_help(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(["--help"]) == 0
    assert run(["--help"]) == 0  # from the record
    capsys.readouterr()
    assert run(["get", "--help"]) == 0  # the plugin's real group, with its subcommands
    page = capsys.readouterr().out
    assert "Usage: liqoctl get [OPTIONS] COMMAND [ARGS]..." in page
    assert "nonce" in page


def test_the_record_follows_the_settings(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert run(["--help"]) == 0
    assert "authenticate" in capsys.readouterr().out
    monkeypatch.setenv("LIQO_MODULES", "[]")  # no module: no plugin command
    assert run(["--help"]) == 0
    assert "authenticate" not in capsys.readouterr().out
    config = tmp_path / "config.yaml"
    config.write_text("modules: [authentication]\n")
    monkeypatch.delenv("LIQO_MODULES")
    key = commandcache.fingerprint(config, None)
    config.write_text("modules: []\n")
    assert commandcache.fingerprint(config, None) != key
    assert commandcache.fingerprint(config, "other") != commandcache.fingerprint(config, None)


def test_a_changed_plugin_source_changes_the_fingerprint(tmp_path: Path) -> None:
    source = tmp_path / "module.py"
    source.write_text("x = 1\n")
    before = list(commandcache._sources(str(tmp_path)))
    os.utime(source, ns=(1, 1))
    assert list(commandcache._sources(str(tmp_path))) != before


def test_an_unwritable_cache_is_no_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))  # a file: no directory inside
    assert run(["--help"]) == 0
    assert "authenticate" in capsys.readouterr().out
    assert run(["--help"]) == 0
    assert "authenticate" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        ([], None),
        (["--help"], None),
        (["-n", "x", "-h"], None),
        (["--help", "version"], None),
        (["--kubeconfig", "k", "version"], "version"),
        (["--kubeconfig=k", "-v", "get", "nonce"], "get"),
        (["--", "version"], None),
    ],
)
def test_command_name(argv: list[str], name: str | None) -> None:
    assert command_name(argv) == name


def test_defaults_spelled_in_the_cli_match_their_owners() -> None:
    from liqo_core.sandbox import DEFAULT_DIR

    assert commandcache.DEFAULT_CONFIG_FILE == DEFAULT_CONFIG_FILE
    assert sandbox_command.DEFAULT_DIR == DEFAULT_DIR
