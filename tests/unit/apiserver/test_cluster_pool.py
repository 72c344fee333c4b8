"""Cluster pool and EmulatedCluster process lifecycle."""

from __future__ import annotations

import socket
from urllib.parse import urlparse

import pytest

from liqo_core.sandbox.apiserver import EmulatedCluster
from liqo_core.testing.clusters import ClusterPool, kubeconfigs_from_env, unique_name
from liqo_core.testing.waiting import wait_for


def test_real_pool_refuses_more_clusters_than_given(tmp_path):
    kubeconfig = tmp_path / "a.yaml"
    kubeconfig.write_text("{}")
    pool = ClusterPool(tmp_path, [kubeconfig])
    assert [h.kubeconfig for h in pool.get(1)] == [kubeconfig]
    with pytest.raises(pytest.UsageError, match="needs 2 clusters"):
        pool.get(2)


def test_env_with_missing_kubeconfig_is_a_usage_error(monkeypatch, tmp_path):
    monkeypatch.setenv("LIQO_TEST_KUBECONFIGS", f"{tmp_path / 'missing.yaml'}")
    with pytest.raises(pytest.UsageError, match="no such file"):
        kubeconfigs_from_env()


def test_env_unset_means_emulated(monkeypatch):
    monkeypatch.delenv("LIQO_TEST_KUBECONFIGS", raising=False)
    assert kubeconfigs_from_env() is None


def test_unique_name_is_a_dns_label():
    name = unique_name("Test_Something[param-1]" * 5)
    assert len(name) <= 50
    assert name == name.lower()
    assert all(c.isalnum() or c == "-" for c in name)


def test_emulated_cluster_starts_serves_and_stops(tmp_path):
    cluster = EmulatedCluster("life", tmp_path / "life")
    cluster.start()
    try:
        assert cluster.running
        assert cluster.kubeconfig.is_file()
        url = urlparse(cluster.server_url)
        assert url.scheme == "https" and url.hostname == "127.0.0.1"
    finally:
        cluster.stop()
    assert not cluster.running
    with pytest.raises(OSError), socket.create_connection((url.hostname, url.port), timeout=1):
        pass


def test_server_exits_when_its_parent_dies(tmp_path):
    import os
    import subprocess
    import sys

    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from liqo_core.sandbox.apiserver import EmulatedCluster\n"
        "c = EmulatedCluster('orphan', Path(sys.argv[1]), exit_with_parent=True)\n"
        "c.start()\n"
        "print(c._proc.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path / "orphan")], stdout=subprocess.PIPE, text=True
    )
    child = int(parent.stdout.readline())
    parent.kill()
    parent.wait()

    def child_gone() -> bool:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return True
        return False

    try:
        wait_for(child_gone, timeout=15, interval=0.1, what="the emulator to exit with its parent")
    except AssertionError:
        os.kill(child, 9)
        raise
