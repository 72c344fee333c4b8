"""What ``liqoctl --help`` lists of the plugins' commands, kept between runs.

Plugin commands come from the enabled plugins' ``liqo_cli_commands`` hook: listing them
means loading settings, the runtime and the plugins' CLI modules (about a second). So a
run that loaded them records each top-level plugin command's name and help texts here,
and ``liqoctl --help`` lists them from this record without loading anything, as kubectl
lists API resources from its discovery cache. Running a plugin command always loads the
plugins themselves.

The record is keyed by a fingerprint of everything that can change the answer: the
installed ``liqo.modules`` and ``liqo.network.transports`` entry points (distribution,
version, target), the modification times of their packages' sources (editable installs),
the settings inputs (the config file's content, ``LIQO_*`` variables, ``--namespace``) and
the interpreter. A change of any of them means a new fingerprint, so a stale listing is
never shown. The record lives in ``$XDG_CACHE_HOME/liqo`` (default ``~/.cache/liqo``); when
that cannot be written ``--help`` simply loads the plugins every time.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from typer.core import TyperCommand

from liqo_core.cli.context import CommandError

#: Entry-point groups whose plugins may add commands (see liqo_core._runtime.plugins).
PLUGIN_GROUPS = ("liqo.modules", "liqo.network.transports")
#: Settings file read when neither ``--config`` nor ``$LIQO_CONFIG_FILE`` names one
#: (``liqo_core.settings.DEFAULT_CONFIG_FILE``, not imported: it costs pydantic-settings).
DEFAULT_CONFIG_FILE = Path("/etc/liqo/config.yaml")
#: Fingerprints kept; older ones are dropped (several venvs or configs on one machine).
MAX_ENTRIES = 16
FILE_NAME = "cli-commands.json"
_FORMAT = 1


@dataclass(frozen=True)
class CommandSummary:
    """What the root help shows of one plugin command."""

    name: str
    help: str | None
    short_help: str | None
    hidden: bool
    deprecated: bool | str

    @classmethod
    def of(cls, name: str, command: Any) -> CommandSummary:
        """The summary of ``command`` (a typer command or group), listed as ``name``."""
        return cls(name, command.help, command.short_help, command.hidden, command.deprecated)

    def placeholder(self) -> TyperCommand:
        """A command that only describes itself: for the help listing, never invoked."""

        def not_loaded() -> None:  # the root builds the real command before running one
            raise CommandError(f"plugin command {self.name!r} was not loaded")

        return TyperCommand(
            self.name,
            callback=not_loaded,
            help=self.help,
            short_help=self.short_help,
            hidden=self.hidden,
            deprecated=self.deprecated,  # type: ignore[arg-type]  # click takes a message too
            rich_markup_mode=None,
        )


def cache_file() -> Path:
    """``$XDG_CACHE_HOME/liqo/cli-commands.json``, else under ``~/.cache``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "liqo" / FILE_NAME


def _config_file(config_file: Path | None) -> Path:
    if config_file is not None:
        return config_file
    named = os.environ.get("LIQO_CONFIG_FILE")
    return Path(named) if named else DEFAULT_CONFIG_FILE


def _sources(package_dir: str) -> Iterable[str]:
    for root, dirs, files in os.walk(package_dir):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(root, name)
                stat = os.stat(path)
                yield f"{path}:{stat.st_mtime_ns}:{stat.st_size}"


def fingerprint(config_file: Path | None, namespace: str | None) -> str:
    """Hash of everything that decides which plugin commands exist and their help."""
    import importlib.metadata
    import importlib.util

    parts: list[str] = [f"format={_FORMAT}", sys.executable, sys.version]
    points = importlib.metadata.entry_points()
    packages: set[str] = set()
    for group in PLUGIN_GROUPS:
        for ep in sorted(points.select(group=group), key=lambda ep: (ep.name, ep.value)):
            dist = ep.dist
            where = str(getattr(dist, "_path", "")) if dist is not None else ""
            version = dist.version if dist is not None else ""
            parts.append(f"{group}:{ep.name}={ep.value}@{version}:{where}")
            packages.add(ep.value.split(":", 1)[0].split(".", 1)[0])
    for package in sorted(packages):
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            continue
        if spec.submodule_search_locations:
            for location in spec.submodule_search_locations:
                parts.extend(_sources(location))
        elif spec.origin and os.path.isfile(spec.origin):
            parts.append(f"{spec.origin}:{os.stat(spec.origin).st_mtime_ns}")
    path = _config_file(config_file)
    try:
        content = path.read_bytes()
    except OSError:
        content = b"<absent>"
    parts.append(f"config={path}:{hashlib.sha256(content).hexdigest()}")
    parts.extend(f"env:{k}={v}" for k, v in sorted(os.environ.items()) if k.startswith("LIQO_"))
    parts.append(f"namespace={namespace}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def load(key: str, path: Path | None = None) -> list[CommandSummary] | None:
    """The plugin commands recorded under ``key``, or None if there is no such record."""
    entry = _read(path or cache_file()).get(key)
    if not isinstance(entry, dict) or not isinstance(entry.get("commands"), list):
        return None
    try:
        return [CommandSummary(**item) for item in entry["commands"]]
    except TypeError:
        return None


def save(key: str, commands: Mapping[str, Any], path: Path | None = None) -> None:
    """Record ``commands`` under ``key`` (best effort: an unwritable cache is no error)."""
    path = path or cache_file()
    data = _read(path)
    data.pop(key, None)
    data[key] = {"commands": [asdict(CommandSummary.of(n, c)) for n, c in commands.items()]}
    for old in list(data)[:-MAX_ENTRIES]:
        del data[old]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        temporary.write_text(json.dumps(data, indent=1))
        os.replace(temporary, path)
    except OSError:
        return
