"""The image's install step, run for real: docker/install-plugins.sh in a fresh virtualenv.

No container engine runs here, so these tests run the very script the Dockerfile RUNs,
with the same build arguments, in a new virtualenv built from the base interpreter, then
ask the installed `liqoctl` which modules and transports the image would have.

To keep this fast, the third-party libraries liqo-core depends on (kopf, kubernetes, ...)
come from a read-only *dependency layer*: links to this test environment's packages,
without any liqo distribution, put on the new virtualenv's path the way a base image layer
would be. pip still resolves and checks every requirement; it just finds them satisfied.
liqo-core, the plugins and the third-party transport are built and installed for real.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "docker" / "install-plugins.sh"
DOCKERFILE = REPO / "Dockerfile"

FIRST_PARTY_MODULES = {
    "networking": "liqo-network",
    "authentication": "liqo-auth",
    "offloading": "liqo-offloading",
}
THIRD_PARTY = "example-liqo-transport-ipsec"

pytestmark = pytest.mark.timeout(900)


@dataclass(frozen=True)
class ImageEnv:
    """A virtualenv the install script ran in."""

    root: Path
    output: str

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.root / "bin" / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=_clean_env(),
            cwd=self.root,
        )

    def plugins(self) -> dict[tuple[str, str], str]:
        """(kind, name) -> distribution, as `liqoctl plugins list` reports them."""
        listed = self.run("liqoctl", "plugins", "list", "--output", "json")
        assert listed.returncode == 0, listed.stderr
        return {(p["kind"], p["name"]): p["distribution"] for p in json.loads(listed.stdout)}


def _clean_env() -> dict[str, str]:
    """The environment without this test run's virtualenv or config."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIQO_", "VIRTUAL_ENV"))}
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(sys.prefix)
    )
    return env


def _is_liqo(entry: Path) -> bool:
    name = entry.name.lower().replace("-", "_")
    return name.startswith(("liqo", "__editable__")) or "liqo" in name


def _dependency_layer(target: Path) -> Path:
    """Links to this environment's third-party packages: no liqo distribution, no pip."""
    site = Path(sysconfig.get_paths()["purelib"])
    target.mkdir()
    skipped = ("pip", "setuptools", "wheel", "_distutils_hack", "distutils-precedence.pth")
    for entry in site.iterdir():
        if _is_liqo(entry) or entry.name.startswith(skipped) or entry.suffix == ".pth":
            continue
        (target / entry.name).symlink_to(entry)
    return target


def _source_tree(target: Path) -> Path:
    """What the Dockerfile COPYs into /src (so the build leaves the checkout untouched)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "tests", ".sandbox")
    target.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, target / name)
    for name in ("liqo_core", "plugins"):
        shutil.copytree(REPO / name, target / name, ignore=ignore)
    return target


def _wheelhouse(workdir: Path) -> Path:
    """A local package directory: the build backend and a third-party transport.

    With the dependency layer, the installs below need nothing else, so they run with
    PIP_NO_INDEX: no network, whatever PyPI's mood.
    """
    wheelhouse = workdir / "wheelhouse"
    pip = [sys.executable, "-m", "pip"]
    subprocess.run(
        [
            *pip,
            "download",
            "--quiet",
            "--only-binary",
            ":all:",
            "-d",
            str(wheelhouse),
            "setuptools>=77",
            "wheel",
        ],
        check=True,
        timeout=120,
        env=_clean_env(),
    )
    project = workdir / "ipsec-project"
    package = project / "src" / "example_liqo_transport_ipsec"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        '"""A third-party Liqo transport (packaging fixture)."""\n'
    )
    (package / "driver.py").write_text(
        textwrap.dedent(
            '''
            """Entry-point target; listing plugins never imports it."""


            class IPsecTransport:
                name = "ipsec"
            '''
        )
    )
    (project / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""
            [build-system]
            requires = ["setuptools>=77"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "{THIRD_PARTY}"
            version = "1.0"
            dependencies = ["liqo-core>=1.0.0.dev0,<2"]

            [project.entry-points."liqo.network.transports"]
            ipsec = "example_liqo_transport_ipsec.driver:IPsecTransport"
            """
        )
    )
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--quiet", "-w", str(wheelhouse), str(project)],
        check=True,
        timeout=120,
        env={**_clean_env(), **_offline(wheelhouse)},
    )
    return wheelhouse


def _offline(wheelhouse: Path) -> dict[str, str]:
    return {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheelhouse)}


def _install(workdir: Path, inputs: tuple[Path, Path, Path], env_vars: dict[str, str]) -> ImageEnv:
    source, layer, wheelhouse = inputs
    root = workdir / "venv"
    base_python = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base_python, "-m", "venv", str(root)], check=True, timeout=60)
    venv_site = Path(
        sysconfig.get_paths(vars={"base": str(root), "platbase": str(root)})["purelib"]
    )
    (venv_site / "_dependency_layer.pth").write_text(f"{layer}\n")
    env = {
        **_clean_env(),
        **_offline(wheelhouse),
        "PYTHON": str(root / "bin" / "python"),
        **env_vars,
    }
    env.setdefault("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    done = subprocess.run(
        ["sh", str(SCRIPT), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=env,
        cwd=workdir,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return ImageEnv(root, done.stdout)


@pytest.fixture(scope="module")
def build_inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    base = tmp_path_factory.mktemp("image-inputs")
    return (
        _source_tree(base / "src"),
        _dependency_layer(base / "deps"),
        _wheelhouse(base),
    )


@pytest.fixture(scope="module")
def default_image(
    tmp_path_factory: pytest.TempPathFactory, build_inputs: tuple[Path, Path, Path]
) -> Iterator[ImageEnv]:
    """The default build plus a third-party transport named like on PyPI."""
    workdir = tmp_path_factory.mktemp("image-default")
    yield _install(workdir, build_inputs, {"EXTRA_PLUGINS": f"{THIRD_PARTY}==1.0"})


def _dockerfile_arg(name: str) -> str:
    match = re.search(rf'^ARG {name}="([^"]*)"$', DOCKERFILE.read_text(), re.MULTILINE)
    assert match, f"Dockerfile declares no ARG {name} with a default"
    return match.group(1)


def test_dockerfile_runs_the_tested_script_with_its_build_args() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"^COPY docker/install-plugins\.sh (\S+)$", text, re.MULTILINE)
    assert 'RUN PLUGINS="${PLUGINS}" EXTRA_PLUGINS="${EXTRA_PLUGINS}" install-plugins' in text
    script_default = re.search(r'^DEFAULT_PLUGINS="([^"]*)"$', SCRIPT.read_text(), re.MULTILINE)
    assert script_default
    assert _dockerfile_arg("PLUGINS") == script_default.group(1)
    assert _dockerfile_arg("EXTRA_PLUGINS") == ""
    for plugin in shlex.split(script_default.group(1)):
        assert (REPO / plugin / "pyproject.toml").is_file(), plugin


def test_dockerfile_runtime_stage() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim", text, re.MULTILINE)
    assert "apt-get install -y --no-install-recommends" in text
    for package in ("iproute2", "nftables", "wireguard-tools", "wireguard-go"):
        assert re.search(rf"\b{package}\b", text), package
    user = re.findall(r"^USER (\S+)$", text, re.MULTILINE)
    assert user and not user[-1].startswith(("0", "root")), user
    assert re.search(r'^ENTRYPOINT \["liqo"\]$', text, re.MULTILINE)


def test_default_build_has_the_first_party_plugins_and_the_extra_one(
    default_image: ImageEnv,
) -> None:
    plugins = default_image.plugins()
    for name, distribution in FIRST_PARTY_MODULES.items():
        assert plugins[("module", name)] == distribution
    assert plugins[("transport", "wireguard")] == "liqo-transport-wireguard"
    assert plugins[("transport", "ipsec")] == THIRD_PARTY
    assert len(plugins) == 5, plugins
    # The script reports what the image can load.
    assert "liqo.network.transports: ipsec (example-liqo-transport-ipsec)" in (default_image.output)


def test_installed_from_the_build_not_from_the_checkout(default_image: ImageEnv) -> None:
    located = default_image.run(
        "python",
        "-c",
        "import liqo_core, liqo_network; print(liqo_core.__file__, liqo_network.__file__)",
    )
    assert located.returncode == 0, located.stderr
    for path in located.stdout.split():
        assert Path(path).is_relative_to(default_image.root), path


def test_component_entry_point_runs(default_image: ImageEnv) -> None:
    helped = default_image.run("liqo", "--help")
    assert helped.returncode == 0, helped.stderr
    assert "controller-manager" in helped.stdout


def test_plugins_arg_selects_the_distributions(
    tmp_path: Path, build_inputs: tuple[Path, Path, Path]
) -> None:
    image = _install(tmp_path, build_inputs, {"PLUGINS": "./plugins/liqo-auth"})
    assert image.plugins() == {("module", "authentication"): "liqo-auth"}


def test_script_refuses_a_wrong_source_tree(tmp_path: Path) -> None:
    done = subprocess.run(
        ["sh", str(SCRIPT), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={**_clean_env(), "PYTHON": sys.executable},
    )
    assert done.returncode == 2
    assert "not the liqo-py source tree" in done.stderr
