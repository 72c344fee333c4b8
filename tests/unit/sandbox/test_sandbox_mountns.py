"""The container mount namespace: volumes at their real paths, nothing leaks to the host."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest

from liqo_core.sandbox import mountns

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mount namespaces need root here")


def run(spec: mountns.MountSpec, script: str) -> subprocess.CompletedProcess[str]:
    argv = mountns.command(spec, ["sh", "-c", script])
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)


def test_volumes_appear_at_their_paths_and_only_inside(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "config.yaml").write_text("a: 1\n")
    token = tmp_path / "sa"
    token.mkdir()
    (token / "token").write_text("t0k3n\n")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (tmp_path / "staging").mkdir()
    etc = f"/etc/liqo-test-{uuid.uuid4().hex[:8]}"
    account = f"/run/liqo-test-{uuid.uuid4().hex[:8]}/serviceaccount"
    spec = mountns.MountSpec(
        mounts=(
            mountns.Mount(etc, str(config), read_only=True),
            mountns.Mount(account, str(token), read_only=True),
            mountns.Mount(str(tmp_path / "hidden"), str(scratch)),
        ),
        keep=(str(tmp_path / "hidden" / "image"),),
        cwd=str(tmp_path),
        staging=str(tmp_path / "staging"),
    )
    (tmp_path / "hidden" / "image").mkdir(parents=True)
    (tmp_path / "hidden" / "image" / "module.py").write_text("x = 1\n")
    result = run(
        spec,
        f"cat {etc}/config.yaml {account}/token && test -f /etc/passwd && pwd "
        f"&& cat {tmp_path}/hidden/image/module.py && ! touch {etc}/x 2>/dev/null "
        f"&& echo w > {tmp_path}/hidden/written",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == ["a: 1", "t0k3n", str(tmp_path), "x = 1"]
    assert not os.path.lexists(etc) and not os.path.lexists(os.path.dirname(account))
    assert (scratch / "written").read_text() == "w\n"
    host_mounts = Path("/proc/self/mountinfo").read_text()
    assert etc not in host_mounts and str(tmp_path) not in host_mounts
    assert "/run/liqo-test-" not in host_mounts


def test_working_dir_is_created_privately(tmp_path: Path) -> None:
    (tmp_path / "staging").mkdir()
    working_dir = f"/opt/liqo-test-{uuid.uuid4().hex[:8]}/work"
    spec = mountns.MountSpec(
        cwd=str(tmp_path), staging=str(tmp_path / "staging"), working_dir=working_dir
    )
    result = run(spec, "pwd")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == working_dir
    assert not os.path.lexists(os.path.dirname(working_dir))


def test_setup_failure_is_reported(tmp_path: Path) -> None:
    (tmp_path / "staging").mkdir()
    spec = mountns.MountSpec(
        mounts=(mountns.Mount("/etc/liqo-absent", str(tmp_path / "missing")),),
        cwd=str(tmp_path),
        staging=str(tmp_path / "staging"),
    )
    result = run(spec, "true")
    assert result.returncode == mountns.EXIT_SETUP_FAILED
    assert "cannot set up the container's mounts" in result.stderr


def test_editable_install_sources_stay_visible() -> None:
    """An emptyDir over a directory holding the editable checkout (e.g. a clone under /tmp)
    must not hide the code the container runs: its project directory is kept visible."""
    import liqo_core

    project = os.path.realpath(Path(liqo_core.__file__).resolve().parents[1])
    assert project in mountns.image_paths({})
