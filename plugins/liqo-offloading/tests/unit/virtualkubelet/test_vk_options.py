"""The virtual kubelet's flags: upstream names and defaults, one-line errors."""

from __future__ import annotations

from typing import Any

import click
import pytest
from liqo_offloading.virtualkubelet import options as flags

from liqo_core.errors import SettingsError

REQUIRED = [
    "--foreign-cluster-id=provider-1",
    "--foreign-kubeconfig-secret-name=kubeconfig-provider-1",
    "--home-cluster-id=consumer-1",
]


def _values(*args: str) -> dict[str, Any]:
    command = click.Command("vk", params=flags.parameters(), callback=lambda **kw: kw)
    values: dict[str, Any] = command.main(list(args), standalone_mode=False)
    return values


def test_contract_flags_of_the_virtualnode_deployment_parse() -> None:
    values = _values(
        *REQUIRED,
        "--nodename=vn-1",
        "--node-ip=10.0.0.7",
        "--tenant-namespace=liqo-tenant-provider-1",
        "--liqo-namespace=liqo",
        "--local-podcidr=10.200.0.0/16",
        "--create-node=false",
        "--node-check-network=false",
        "--node-extra-labels=a=1,b=2",
        "--node-extra-annotations=note=x",
        "--metrics-enabled",
        "--metrics-address=:9100",
        "--pod-reflection-workers=4",
        "--configmap-reflection-type=AllowList",
        "--enable-storage",
        "--remote-real-storage-class-name=fast",
        "--resync-period=10h0m0s",
        "--vk-lease-duration=20s",
    )
    opts = flags.parse(values)
    assert (opts.node_name, opts.node_ip, opts.tenant_namespace) == (
        "vn-1",
        "10.0.0.7",
        "liqo-tenant-provider-1",
    )
    assert opts.create_node is False and opts.node_check_network is False
    assert opts.node_extra_labels == {"a": "1", "b": "2"}
    assert opts.node_extra_annotations == {"note": "x"}
    assert opts.local_pod_cidrs == ("10.200.0.0/16",)
    assert opts.metrics_port == 9100
    assert opts.workers("pod") == 4 and opts.workers("service") == 3
    assert opts.reflectors["configmap"].policy == "AllowList"
    # Pods are always reflected with Liqo's own policy; endpointslices follow services.
    assert opts.reflectors["pod"].policy == "CustomLiqo"
    assert opts.reflectors["endpointslice"].policy == opts.reflectors["service"].policy
    assert opts.resync_period == 36000.0 and opts.lease_duration == 20.0
    assert opts.unsupported() == ["enable-storage"]


def test_defaults_are_upstreams() -> None:
    opts = flags.parse(_values(*REQUIRED))
    assert opts.node_name == "virtual-kubelet" and opts.tenant_namespace == "default"
    assert opts.create_node is True and opts.node_check_network is True
    assert opts.node_lease_duration == 40.0 and opts.node_ping_interval == 10.0
    assert opts.node_ping_timeout == 1.0 and opts.listen_port == 10250
    assert opts.workers("pod") == 10 and opts.workers("endpointslice") == 10
    assert opts.metrics_port is None  # metrics not enabled: the settings' port is used
    assert (opts.lease_enabled, opts.lease_duration, opts.lease_renew_deadline) == (True, 15, 10)
    assert opts.lease_retry_period == 5.0 and opts.remote_cidrs is None


def test_the_home_cluster_id_may_come_from_the_settings() -> None:
    values = _values(*REQUIRED[:2])
    assert flags.parse(values, "consumer-9").home_cluster_id == "consumer-9"
    with pytest.raises(SettingsError, match="--home-cluster-id is required"):
        flags.parse(values)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (REQUIRED[1:], "--foreign-cluster-id is required"),
        ([*REQUIRED, "--nodename=Not_A_Name"], "invalid --nodename"),
        ([*REQUIRED, "--node-ip=ten"], "invalid --node-ip 'ten': not an IP address"),
        ([*REQUIRED, "--local-podcidr=10.0.0.0/99"], "invalid --local-podcidr"),
        ([*REQUIRED, "--remote-pod-cidr=10.1.0.0/16"], "differ in length"),
        ([*REQUIRED, "--vk-lease-renew-interval=20s"], "invalid --vk-lease-"),
        ([*REQUIRED, "--metrics-address=localhost"], "invalid --metrics-address"),
    ],
)
def test_bad_values_get_one_line_naming_the_flag(args: list[str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        flags.parse(_values(*args))


def test_click_refuses_malformed_values() -> None:
    with pytest.raises(click.BadParameter, match="not a duration"):
        _values(*REQUIRED, "--node-ping-interval=often")
    with pytest.raises(click.BadParameter, match="not key=value"):
        _values(*REQUIRED, "--node-extra-labels=lonely")
    with pytest.raises(click.BadParameter):
        _values(*REQUIRED, "--service-reflection-type=Whatever")


def test_remote_cidrs_pair_up() -> None:
    opts = flags.parse(
        _values(
            *REQUIRED,
            "--remote-pod-cidr=10.1.0.0/16,10.2.0.0/16",
            "--remote-pod-cidr-remap=10.71.0.0/16",
            "--remote-pod-cidr-remap=10.72.0.0/16",
        )
    )
    assert opts.remote_cidrs is not None
    assert opts.remote_cidrs.pod.original == ("10.1.0.0/16", "10.2.0.0/16")
    assert opts.remote_cidrs.pod.remapped == ("10.71.0.0/16", "10.72.0.0/16")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0", 0.0), ("10s", 10.0), ("1m30s", 90.0), ("500ms", 0.5), ("10h0m0s", 36000.0)],
)
def test_go_durations(text: str, seconds: float) -> None:
    assert flags.parse_duration(text) == seconds
