"""Third-party plugins, installed for real, picked up by ``liqoctl`` in a new process.

Each test-only distribution under ``tests/fixtures/dists`` is built and installed once
per session with ``pip install --no-deps --no-build-isolation --target <dir>``; ``liqoctl``
then runs with ``PYTHONPATH`` naming the chosen directories, so ``importlib.metadata``
discovers them exactly as it would in an image that installed them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

DISTS = Path(__file__).parents[1] / "fixtures" / "dists"
BIN = Path(sys.executable).parent
NETWORK_SOURCES = Path(__file__).parents[2] / "plugins" / "liqo-network" / "src" / "liqo_network"

Installer = Callable[[str], Path]


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installer]:
    """``installed(dist)`` builds and installs a test distribution once; returns its site dir."""
    root = tmp_path_factory.mktemp("dists")
    sites: dict[str, Path] = {}

    def install(dist: str) -> Path:
        if dist not in sites:
            source = root / "src" / dist
            shutil.copytree(DISTS / dist, source)  # build outside the repository
            site = root / "site" / dist
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--no-deps",
                    "--no-build-isolation",
                    "--no-index",
                    "--target",
                    str(site),
                    str(source),
                ],
                check=True,
                capture_output=True,
            )
            sites[dist] = site
        return sites[dist]

    yield install


class Result:
    def __init__(self, done: subprocess.CompletedProcess[str]) -> None:
        self.code = done.returncode
        self.out = done.stdout
        self.err = done.stderr

    def json(self) -> object:
        return json.loads(self.out)


@pytest.fixture
def liqoctl(installed: Installer, tmp_path: Path) -> Callable[..., Result]:
    """Run ``liqoctl`` with the given distributions installed and LIQO_* settings."""

    def run(*args: str, dists: tuple[str, ...] = (), **settings: str) -> Result:
        env = {k: v for k, v in os.environ.items() if not k.upper().startswith("LIQO_")}
        env.pop("KUBECONFIG", None)
        env["HOME"] = str(tmp_path)
        env["LIQO_CONFIG_FILE"] = str(tmp_path / "no-config.yaml")
        if not (tmp_path / "no-config.yaml").exists():
            (tmp_path / "no-config.yaml").write_text("{}\n")
        env["PYTHONPATH"] = os.pathsep.join(str(installed(dist)) for dist in dists)
        env.update({f"LIQO_{key.upper()}": value for key, value in settings.items()})
        done = subprocess.run(
            [str(BIN / "liqoctl"), *args], env=env, capture_output=True, text=True, check=False
        )
        return Result(done)

    return run


def one_error_line(result: Result) -> str:
    assert result.code == 1, result.out
    assert "Traceback" not in result.err
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("Error: ")
    return lines[0].removeprefix("Error: ")


FAKE = ("liqo-test-transport-fake",)


def test_third_party_transport_swaps_in_without_touching_the_network_module(
    liqoctl: Callable[..., Result], tmp_path: Path
) -> None:
    config = tmp_path / "liqo.yaml"
    config.write_text(
        yaml.safe_dump(
            {"networking": {"transport": "fake", "transports": {"fake": {"overhead": 50}}}}
        )
    )
    checked = liqoctl("plugins", "check", "-o", "json", "--config", str(config), dists=FAKE)
    assert checked.code == 0, checked.err
    by_name = {p["name"]: p for p in checked.json()}  # type: ignore[attr-defined]
    assert by_name["fake"]["kind"] == "transport"
    assert by_name["fake"]["distribution"] == "liqo-test-transport-fake"
    assert by_name["fake"]["version"] == "0.3.0"
    assert by_name["networking"]["distribution"] == "liqo-network"
    assert "wireguard" not in by_name

    listed = liqoctl("plugins", "list", "--config", str(config), dists=FAKE)
    rows = [line.split() for line in listed.out.splitlines()]
    assert ["transport", "fake", "liqo-test-transport-fake", "0.3.0", "yes"] in rows
    assert ["transport", "wireguard", "liqo-transport-wireguard", "1.0.0.dev0", "no"] in rows

    crds = liqoctl("crds", "--config", str(config), dists=FAKE)
    names = {doc["metadata"]["name"] for doc in yaml.safe_load_all(crds.out)}
    assert "faketunnels.fake.transport.test" in names
    assert "wggatewayservers.networking.liqo.io" not in names

    command = liqoctl("fake-transport", "--config", str(config), dists=FAKE)
    assert (command.code, command.out) == (0, "fake transport ready, overhead 50\n")

    network_code = "".join(p.read_text() for p in NETWORK_SOURCES.rglob("*.py")).lower()
    assert "wireguard" not in network_code


def test_installed_but_not_selected_transport_changes_nothing(
    liqoctl: Callable[..., Result],
) -> None:
    checked = liqoctl("plugins", "check", "-o", "json", dists=FAKE)
    names = [p["name"] for p in checked.json()]  # type: ignore[attr-defined]
    assert names == ["networking", "authentication", "offloading", "wireguard"]


def test_naming_a_missing_transport_fails_with_what_to_do(liqoctl: Callable[..., Result]) -> None:
    result = liqoctl("plugins", "check", networking__transport="ipsec", dists=FAKE)
    assert one_error_line(result) == (
        "transport 'ipsec' is not installed (installed transports: fake, wireguard): install "
        "the distribution that provides it, or fix `networking.transport`"
    )


def test_transport_that_fails_to_import(liqoctl: Callable[..., Result]) -> None:
    result = liqoctl(
        "plugins", "check", networking__transport="broken", dists=("liqo-test-transport-broken",)
    )
    assert one_error_line(result) == (
        "transport 'broken' from distribution 'liqo-test-transport-broken' failed to import "
        "(liqo_test_transport_broken.driver:BrokenTransport: ModuleNotFoundError: No module "
        "named 'liqo_test_dependency_that_is_not_installed'): reinstall "
        "'liqo-test-transport-broken' with its dependencies, or choose another transport"
    )


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        (
            "plain",
            "is not a liqo_core.Transport subclass (liqo_test_transport_invalid:PlainDriver)",
        ),
        ("incomplete", "does not implement ensure_client, ensure_server, status, teardown"),
        ("misnamed", "declares name 'somethingelse', not 'misnamed'"),
    ],
)
def test_transport_that_breaks_the_contract(
    liqoctl: Callable[..., Result], name: str, problem: str
) -> None:
    result = liqoctl(
        "plugins", "check", networking__transport=name, dists=("liqo-test-transport-invalid",)
    )
    assert one_error_line(result) == (
        f"transport {name!r} from distribution 'liqo-test-transport-invalid' {problem}: fix or "
        "upgrade the distribution, or choose another transport"
    )


def test_transport_name_from_two_distributions(liqoctl: Callable[..., Result]) -> None:
    dists = ("liqo-test-transport-dup",)
    result = liqoctl("plugins", "check", dists=dists)
    assert one_error_line(result) == (
        "transport 'wireguard' is provided by several distributions "
        "('liqo-test-transport-dup', 'liqo-transport-wireguard'): uninstall all but one"
    )
    listed = liqoctl("plugins", "list", "-o", "json", dists=dists)
    assert listed.code == 0
    providers = sorted(
        p["distribution"]
        for p in listed.json()
        if p["name"] == "wireguard"  # type: ignore[attr-defined]
    )
    assert providers == ["liqo-test-transport-dup", "liqo-transport-wireguard"]


def test_third_party_module_adds_itself_and_its_command(liqoctl: Callable[..., Result]) -> None:
    dists = ("liqo-test-module-extra",)
    hello = liqoctl("extra-hello", "-n", "elsewhere", modules="networking,extra", dists=dists)
    assert (hello.code, hello.out) == (0, "hello from extra in namespace elsewhere\n")
    listed = liqoctl("plugins", "list", "-o", "json", modules="extra", dists=dists)
    extra = next(p for p in listed.json() if p["name"] == "extra")  # type: ignore[attr-defined]
    assert extra == {
        "kind": "module",
        "name": "extra",
        "distribution": "liqo-test-module-extra",
        "version": "0.1.0",
        "target": "liqo_test_module_extra:ExtraModule",
        "enabled": True,
    }
    absent = liqoctl("extra-hello", dists=dists)
    assert absent.code == 2
    assert "No such command 'extra-hello'" in absent.err


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("hookless", "implements no liqo_* hook (mark them with @hookimpl): fix or upgrade"),
        ("typo", "unknown hook 'liqo_configur'"),
        ("failing", "failed to configure: RuntimeError: cannot reach the frobnicator"),
    ],
)
def test_modules_that_break_the_contract(
    liqoctl: Callable[..., Result], name: str, problem: str
) -> None:
    result = liqoctl(
        "plugins", "check", modules=f"networking,{name}", dists=("liqo-test-module-invalid",)
    )
    message = one_error_line(result)
    assert message.startswith(f"module {name!r} from distribution 'liqo-test-module-invalid' ")
    assert problem in message


def test_module_name_from_two_distributions(liqoctl: Callable[..., Result]) -> None:
    result = liqoctl("plugins", "check", dists=("liqo-test-module-dup",))
    assert one_error_line(result) == (
        "module 'offloading' is provided by several distributions "
        "('liqo-offloading', 'liqo-test-module-dup'): uninstall all but one"
    )


def test_third_party_transport_passes_the_conformance_kit(
    installed: Installer, tmp_path: Path
) -> None:
    project = tmp_path / "liqo-test-transport-fake"
    shutil.copytree(DISTS / "liqo-test-transport-fake", project)
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("LIQO_")}
    env["PYTHONPATH"] = str(installed("liqo-test-transport-fake"))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-c",
            str(project / "pyproject.toml"),
            "--rootdir",
            str(project),
            str(project / "tests"),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=project,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert " passed" in done.stdout
    assert "failed" not in done.stdout
