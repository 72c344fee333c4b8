"""Process-runner contract: env, $(VAR) expansion, volumes and their mounts, scope."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from liqo_core.sandbox import podenv
from liqo_core.sandbox.podstatus import (
    pod_phase,
    qos_class,
    running_state,
    terminated_state,
)
from liqo_core.sandbox.scope import runs_as_process, wants_netns

OBJECTS: dict[tuple[str, str], dict[str, Any]] = {
    ("ConfigMap", "cfg"): {"data": {"mode": "fast", "config.yaml": "a: 1\n"}},
    ("Secret", "sec"): {"data": {"token": base64.b64encode(b"s3cret").decode()}},
}
POD: dict[str, Any] = {
    "metadata": {"name": "p", "namespace": "liqo", "uid": "u-1", "labels": {"app": "x"}},
    "spec": {"nodeName": "n1", "serviceAccountName": "sa"},
    "status": {"podIP": "10.0.0.5", "hostIP": "127.1.0.2"},
}


async def get(kind: str, namespace: str, name: str) -> dict[str, Any] | None:
    assert namespace == "liqo"
    return OBJECTS.get((kind, name))


def test_expand() -> None:
    env = {"A": "1", "B": "two"}
    assert podenv.expand("$(A)-$(B)-$(C)", env) == "1-two-$(C)"
    assert podenv.expand("$$(A) costs $$", env) == "$(A) costs $"


async def test_container_env_sources() -> None:
    container = {
        "envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": "CM_"}],
        "env": [
            {"name": "LITERAL", "value": "x-$(CM_mode)"},
            {"name": "NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
            {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "mode"}}},
            {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "token"}}},
            {
                "name": "OPT",
                "valueFrom": {"secretKeyRef": {"name": "gone", "key": "k", "optional": True}},
            },
        ],
    }
    env = await podenv.container_env(POD, container, get)
    assert env["LITERAL"] == "x-fast"
    assert (env["NAME"], env["NS"], env["IP"], env["NODE"]) == ("p", "liqo", "10.0.0.5", "n1")
    assert (env["APP"], env["MODE"], env["TOKEN"]) == ("x", "fast", "s3cret")
    assert "OPT" not in env


async def test_missing_key_is_a_config_error() -> None:
    container = {
        "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "no"}}}]
    }
    with pytest.raises(podenv.ConfigError, match="couldn't find key no"):
        await podenv.container_env(POD, container, get)


async def test_volumes_mounts_and_path_rewriting(tmp_path: Path) -> None:
    pod = {
        **POD,
        "spec": {
            "volumes": [
                {
                    "name": "conf",
                    "configMap": {
                        "name": "cfg",
                        "items": [{"key": "config.yaml", "path": "c.yaml"}],
                    },
                },
                {"name": "creds", "secret": {"secretName": "sec"}},
                {"name": "scratch", "emptyDir": {}},
            ]
        },
    }
    volumes = await podenv.materialise_volumes(pod, tmp_path, get)
    container = {
        "volumeMounts": [
            {"name": "conf", "mountPath": "/etc/liqo"},
            {"name": "creds", "mountPath": "/var/creds/token", "subPath": "token"},
            {"name": "scratch", "mountPath": "/tmp/work"},
        ]
    }
    mounts = {m.path: m for m in podenv.volume_mounts(pod, container, volumes)}
    sources = {path: tmp_path / mount.source for path, mount in mounts.items()}  # absolute
    assert (sources["/etc/liqo"] / "c.yaml").read_text() == "a: 1\n"
    assert sources["/var/creds/token"].read_text() == "s3cret"
    assert sources["/tmp/work"].is_dir()
    assert mounts["/etc/liqo"].read_only and mounts["/var/creds/token"].read_only
    assert not mounts["/tmp/work"].read_only


async def test_missing_configmap_volume_is_a_config_error(tmp_path: Path) -> None:
    pod = {**POD, "spec": {"volumes": [{"name": "v", "configMap": {"name": "absent"}}]}}
    with pytest.raises(podenv.ConfigError, match="not found"):
        await podenv.materialise_volumes(pod, tmp_path, get)


def test_scope_is_exclusive() -> None:
    def pod(namespace: str, runner: str | None = None) -> dict[str, Any]:
        annotations = {"sandbox.liqo.io/runner": runner} if runner else {}
        return {"metadata": {"namespace": namespace, "annotations": annotations}}

    assert runs_as_process(pod("liqo"))
    assert not runs_as_process(pod("default"))
    assert runs_as_process(pod("default", "process"))
    assert not runs_as_process(pod("liqo", "hollow"))
    assert wants_netns({"metadata": {"annotations": {"sandbox.liqo.io/netns": "true"}}})
    assert not wants_netns({"metadata": {}})
    assert not wants_netns(
        {
            "metadata": {"annotations": {"sandbox.liqo.io/netns": "true"}},
            "spec": {"hostNetwork": True},
        }
    )


def test_qos_class() -> None:
    def pod(resources: dict[str, Any]) -> dict[str, Any]:
        return {"spec": {"containers": [{"name": "c", "resources": resources}]}}

    assert qos_class(pod({})) == "BestEffort"
    assert qos_class(pod({"requests": {"cpu": "1"}})) == "Burstable"
    assert qos_class(pod({"limits": {"cpu": "1", "memory": "1Gi"}})) == "Guaranteed"


def test_pod_phase() -> None:
    @dataclass
    class View:
        state: dict[str, Any] = field(default_factory=lambda: {"waiting": {}})
        done: bool = False
        restart_count: int = 0

    running = View(running_state("t"))
    ok = View(terminated_state(0, "t"), done=True)
    failed = View(terminated_state(1, "t"), done=True)
    assert pod_phase([], [View()]) == ("Pending", True)
    assert pod_phase([View()], [View()]) == ("Pending", False)
    assert pod_phase([ok], [running]) == ("Running", True)
    assert pod_phase([], [View(restart_count=2)]) == ("Running", True)
    assert pod_phase([], [ok, ok]) == ("Succeeded", True)
    assert pod_phase([], [ok, failed]) == ("Failed", True)
    assert pod_phase([], [ok, running]) == ("Running", True)
    assert pod_phase([failed], [View()]) == ("Failed", False)
