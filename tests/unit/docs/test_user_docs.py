"""docs/peering.md and docs/offloading.md stay true: their manifests validate, their
liqoctl commands exist.

Every ```yaml block is checked: Liqo kinds against their ``liqo_core.api`` models, the
Kubernetes kinds it shows for their shape, and documents without a kind as values of the
liqo chart (rendered with Helm's engine, the settings file loaded like the
controller-manager does). ``<...>`` scalars stand for opaque data (keys, certificates) and
are replaced by base64 before validating. Every ``liqoctl`` invocation outside the
"Not implemented yet" section must name existing commands and options.
"""

from __future__ import annotations

import base64
import os
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import typer
import yaml
from liqo_auth.settings import AuthenticationSettings

from liqo_core.api import ObjectMeta, consts, model_for
from liqo_core.cli.app import build_app
from liqo_core.cli.context import CliState
from liqo_core.settings import load_settings

REPO = Path(__file__).resolve().parents[3]
PEERING = REPO / "docs" / "peering.md"
OFFLOADING = REPO / "docs" / "offloading.md"
PAGES = (PEERING, OFFLOADING)
CHART_DIR = REPO / "charts" / "liqo"
PLACEHOLDER = base64.b64encode(b"placeholder").decode()
NOT_IMPLEMENTED = "## Not implemented yet"

# Kubernetes kinds the page shows, with the top-level fields each may have.
CORE_KINDS: dict[tuple[str, str], set[str]] = {
    ("v1", "Namespace"): {"apiVersion", "kind", "metadata"},
    ("v1", "Secret"): {"apiVersion", "kind", "metadata", "data", "stringData", "type"},
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): {
        "apiVersion",
        "kind",
        "metadata",
        "roleRef",
        "subjects",
    },
}
LIQO_KEYS = {
    value
    for name, value in vars(consts).items()
    if name.endswith(("_LABEL", "_ANNOTATION")) and isinstance(value, str)
}


def _text(page: Path = PEERING) -> str:
    return page.read_text()


def _yaml_blocks(page: Path) -> list[str]:
    return re.findall(r"^```yaml\n(.*?)^```", _text(page), flags=re.MULTILINE | re.DOTALL)


def _documents(page: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    for number, block in enumerate(_yaml_blocks(page), start=1):
        filled = re.sub(r"(:\s+)<[^>\n]*>\s*$", rf"\g<1>{PLACEHOLDER}", block, flags=re.M)
        for doc in yaml.safe_load_all(filled):
            assert isinstance(doc, dict), f"{page.name} block {number} holds a non-mapping"
            yield f"{page.stem}-block{number}", doc


DOCUMENTS = [found for page in PAGES for found in _documents(page)]


def test_the_page_has_examples_of_every_peering_object() -> None:
    kinds = {doc.get("kind") for name, doc in DOCUMENTS if name.startswith("peering")}
    assert {
        "Namespace",
        "Secret",
        "Tenant",
        "Identity",
        "ResourceSlice",
        "Quota",
        "Renew",
        "ForeignCluster",
        "RoleBinding",
        None,  # chart values
    } <= kinds


def test_the_offloading_page_shows_both_offloading_objects() -> None:
    kinds = {doc.get("kind") for name, doc in DOCUMENTS if name.startswith("offloading")}
    assert kinds == {"VirtualNode", "NamespaceOffloading"}


def _check_meta(meta: dict[str, Any]) -> None:
    ObjectMeta.model_validate(meta)
    for key in [*(meta.get("labels") or {}), *(meta.get("annotations") or {})]:
        if key.startswith("liqo.io/"):
            assert key in LIQO_KEYS, f"{key} is not a Liqo label or annotation"


def _check_core(doc: dict[str, Any]) -> None:
    allowed = CORE_KINDS.get((doc["apiVersion"], doc["kind"]))
    assert allowed is not None, f"unexpected kind {doc['apiVersion']}/{doc['kind']}"
    assert set(doc) <= allowed, set(doc) - allowed
    if doc["kind"] == "Secret":
        for value in (doc.get("data") or {}).values():
            base64.b64decode(value, validate=True)
        assert all(isinstance(v, str) for v in (doc.get("stringData") or {}).values())
    if doc["kind"] == "RoleBinding":
        assert doc["roleRef"]["apiGroup"] == "rbac.authorization.k8s.io"
        assert doc["roleRef"]["kind"] == "ClusterRole"
        assert doc["roleRef"]["name"] in {"liqo-remote-controlplane"}
        assert doc["subjects"] and all(s["kind"] in {"User", "Group"} for s in doc["subjects"])


def _check_values(doc: dict[str, Any], tmp_path: Path) -> None:
    with helm.Chart.load(CHART_DIR) as chart:
        rendered = chart.render(doc, name="liqo", namespace="liqo")
    config_map = yaml.safe_load(rendered["liqo/templates/controller-manager-configmap.yaml"])
    config = tmp_path / "config.yaml"
    config.write_text(config_map["data"]["config.yaml"])
    auth = load_settings(config).section(AuthenticationSettings)
    assert auth.identity_provider == doc["authentication"]["identityProvider"]


@pytest.mark.parametrize(
    ("block", "doc"),
    DOCUMENTS,
    ids=[f"{n}-{d.get('kind', 'values')}-{i}" for i, (n, d) in enumerate(DOCUMENTS)],
)
def test_example_is_valid(block: str, doc: dict[str, Any], tmp_path: Path) -> None:
    if "kind" not in doc:
        _check_values(doc, tmp_path)
        return
    _check_meta(doc["metadata"])
    model = model_for(doc["apiVersion"], doc["kind"])
    if model is None:
        _check_core(doc)
        return
    model.model_validate(doc)
    namespaced = model.crd.scope == "Namespaced"
    assert bool(doc["metadata"].get("namespace")) == namespaced, doc["metadata"]


def _invocations(page: Path) -> list[list[str]]:
    text = _text(page).split(NOT_IMPLEMENTED)[0].replace("\\\n", " ")
    found = []
    for match in re.finditer(r"\bliqoctl((?: +[^ `|#>\n]+)+)", text):
        found.append(shlex.split(match.group(1).replace("[", " ").replace("]", " ")))
    return found


# Commands are typer's (own click) objects: a group is a command with ``commands``.
Command = Any


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Command:
    """liqoctl as built with default settings (every module on), whatever the host has."""
    for name in list(os.environ):
        if name.upper().startswith("LIQO_"):
            monkeypatch.delenv(name)
    monkeypatch.setattr("liqo_core.settings.DEFAULT_CONFIG_FILE", tmp_path / "absent")
    command: Command = typer.main.get_command(build_app(CliState()))
    assert command.commands
    return command


def _options(command: Command) -> set[str]:
    return {
        name
        for param in command.params
        for name in [*param.opts, *param.secondary_opts]
        if name.startswith("-")
    }


def _resolve(cli: Command, args: list[str]) -> tuple[Command, list[str]]:
    """The command ``args`` name and the arguments left for it (global options skipped)."""
    command = cli
    rest = list(args)
    while hasattr(command, "commands"):
        while rest and rest[0].startswith("-"):
            known = _options(command) | _options(cli)
            assert rest[0].split("=")[0] in known, f"unknown option {rest[0]}"
            rest = rest[1:] if "=" in rest[0] else rest[2:]
        sub = command.commands.get(rest[0]) if rest else None
        if sub is None:  # a group that runs on its own (``liqoctl info``), or a typo
            missing = repr(rest[0]) if rest else "given"
            assert command.invoke_without_command, f"liqoctl {' '.join(args)}: no command {missing}"
            break
        command, rest = sub, rest[1:]
    return command, rest


@pytest.mark.parametrize(
    ("page", "least"), [(PEERING, 15), (OFFLOADING, 6)], ids=["peering", "offloading"]
)
def test_documented_invocations_exist(cli: Command, page: Path, least: int) -> None:
    invocations = _invocations(page)
    assert len(invocations) > least
    for args in invocations:
        command, rest = _resolve(cli, args)
        known = _options(command) | _options(cli)
        for arg in rest:
            if arg.startswith("--"):
                assert arg.split("=")[0] in known, f"liqoctl {' '.join(args)}: no option {arg}"


def test_peer_flag_table_matches_the_command(cli: Command) -> None:
    section = _text().split("### One command")[1].split("### ")[0]
    rows = [line for line in section.splitlines() if line.startswith("| `--")]
    documented = {flag for row in rows for flag in re.findall(r"`(--[a-z-]+)", row.split("|")[1])}
    peer = cli.commands["peer"]
    assert documented <= _options(peer)
    # Every peer option but --help is in the table.
    assert _options(peer) - {"--help", "-h"} <= documented
