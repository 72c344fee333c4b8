"""Services' machinery, rule by rule: EndpointSlices from pods, kube-proxy's table (loaded
into a real nftables of a scratch namespace), LoadBalancer addresses, cluster DNS answers
and pods' resolv.conf."""

from __future__ import annotations

import secrets
import struct
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from liqo_core.sandbox import cloudprovider, dns, endpointslices, kubeproxy, podenv
from liqo_core.sandbox.nodes import NodeSpec


def svc(name: str = "web", **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}", "labels": {"a": "b"}},
        "spec": {
            "selector": {"app": name},
            "clusterIP": "10.96.0.20",
            "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
            **spec,
        },
    }


def pod(
    name: str, ip: str, ready: bool = True, port: int | None = 8080, **extra: Any
) -> dict[str, Any]:
    ports = [{"name": "http", "containerPort": port}] if port else []
    return {
        "metadata": {"name": name, "namespace": "ns", "uid": f"u-{name}", "labels": {"app": "web"},
                     **extra},
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "ports": ports}]},
        "status": {
            "phase": "Running",
            "podIP": ip,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }  # fmt: skip


def test_endpoint_slices_follow_ready_and_terminating_pods() -> None:
    pods = [
        pod("a", "10.0.0.2"),
        pod("b", "10.0.0.3", ready=False),
        pod("c", "10.0.0.4", deletionTimestamp="2026-01-01T00:00:00Z"),
        pod("d", "10.0.0.5", port=None),  # the named port is not there
        {**pod("e", ""), "status": {"phase": "Pending"}},
    ]
    slices = endpointslices.desired_slices(svc(), pods)
    by_ports = {tuple(p["port"] for p in s["ports"]): s for s in slices}
    assert set(by_ports) == {(8080,), ()}
    conditions = {e["targetRef"]["name"]: e["conditions"] for e in by_ports[(8080,)]["endpoints"]}
    assert conditions == {
        "a": {"ready": True, "serving": True, "terminating": False},
        "b": {"ready": False, "serving": False, "terminating": False},
        "c": {"ready": False, "serving": True, "terminating": True},
    }
    labels = slices[0]["metadata"]["labels"]
    assert labels[endpointslices.SERVICE_NAME] == "web" and labels["a"] == "b"
    assert labels[endpointslices.MANAGED_BY] == endpointslices.CONTROLLER
    assert slices[0]["metadata"]["ownerReferences"][0]["uid"] == "uid-web"
    published = endpointslices.desired_slices(svc(publishNotReadyAddresses=True), pods[:2])
    assert all(e["conditions"]["ready"] for e in published[0]["endpoints"])
    empty = endpointslices.desired_slices(svc(), [])
    assert len(empty) == 1 and empty[0]["endpoints"] == []
    many = [pod(f"p{i}", f"10.0.1.{i}") for i in range(150)]
    assert [len(s["endpoints"]) for s in endpointslices.desired_slices(svc(), many)] == [100, 50]


def _slice(addresses: list[tuple[str, bool | None]]) -> dict[str, Any]:
    return {
        "metadata": {"namespace": "ns", "labels": {kubeproxy.SERVICE_NAME: "web"}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": [
            {"addresses": [a], "conditions": {} if r is None else {"ready": r}}
            for a, r in addresses
        ],
    }


@pytest.fixture
def scratch() -> Iterator[str]:
    name = f"lsbtest-{secrets.token_hex(3)}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False)


def test_kube_proxy_table(scratch: str) -> None:
    services = [
        svc(type="LoadBalancer", ports=[{"name": "http", "port": 80, "nodePort": 30080}],
            status=None),
        svc("idle", clusterIP="10.96.0.21"),
        svc("headless", clusterIP="None"),
    ]  # fmt: skip
    services[0]["status"] = {"loadBalancer": {"ingress": [{"ip": "172.20.1.200"}]}}
    slices = [_slice([("10.0.0.2", True), ("10.0.0.3", None), ("10.0.0.4", False)])]
    ports = kubeproxy.service_ports(services, slices)
    assert [(p.name, p.endpoints) for p in ports] == [
        ("idle", ()),
        ("web", (("10.0.0.2", 8080), ("10.0.0.3", 8080))),
    ]
    web = ports[1]
    assert (web.node_port, web.ingress_ips) == (30080, ("172.20.1.200",))
    script = kubeproxy.ruleset(ports, "10.0.0.0/16")
    assert "ip daddr 10.96.0.20 tcp dport 80 goto " in script
    assert "fib daddr type local tcp dport 30080 goto " in script
    assert "ip daddr 172.20.1.200 tcp dport 80 goto " in script
    assert "numgen random mod 2 vmap" in script
    assert "ip daddr 10.96.0.21 tcp dport 80 reject with tcp reset" in script
    # nftables accepts it, twice (a reload replaces the table).
    for _ in range(2):
        subprocess.run(
            ["nsenter", f"--net=/var/run/netns/{scratch}", "nft", "-f", "-"],
            input=script, text=True, check=True, capture_output=True,
        )  # fmt: skip
    listed = subprocess.run(
        ["nsenter", f"--net=/var/run/netns/{scratch}", "nft", "list", "table", "ip", "kube-proxy"],
        text=True, check=True, capture_output=True,
    ).stdout  # fmt: skip
    assert "dnat to 10.0.0.3:8080" in listed and "10.0.0.4" not in listed


def test_load_balancer_addresses_are_kept_and_spread() -> None:
    pool = ["172.20.1.200", "172.20.1.201"]
    held = svc("held", type="LoadBalancer")
    held["status"] = {"loadBalancer": {"ingress": [{"ip": "172.20.1.201"}]}}
    services = [
        svc("new", type="LoadBalancer"),
        held,
        svc("classy", type="LoadBalancer", loadBalancerClass="other"),
        svc("plain"),
        svc("late", type="LoadBalancer"),
    ]
    assert cloudprovider.assign(services, pool) == {
        "ns/held": "172.20.1.201",
        "ns/late": "172.20.1.200",
    }
    nodes = [NodeSpec(f"n{i}", "10.0.0.0/24", "172.20.1.2", netns=f"x{i}") for i in range(3)]
    assert cloudprovider.holder("ns/a", nodes) == cloudprovider.holder("ns/a", nodes[::-1])


def _ask(zone: dns.Zone, name: str, qtype: int) -> tuple[int, list[dns.Record]]:
    header = struct.pack("!HHHHHH", 9, 0x0100, 1, 0, 0, 0)
    reply = zone.answer(header + dns.encode_name(name) + struct.pack("!HH", qtype, 1))
    return reply[3] & 0xF, zone.resolve(name, qtype)[1]


def test_dns_zone() -> None:
    zone = dns.Zone()
    headless = svc("db", clusterIP="None", ports=[{"name": "pg", "port": 5432}])
    external = svc("ext", type="ExternalName", externalName="example.org")
    slices = [
        {
            "metadata": {"namespace": "ns", "labels": {dns.SERVICE_NAME: "db"}},
            "ports": [{"name": "pg", "port": 5432}],
            "endpoints": [
                {"addresses": ["10.0.0.7"], "hostname": "db-0", "conditions": {"ready": True}},
                {"addresses": ["10.0.0.8"], "conditions": {"ready": False}},
            ],
        }
    ]
    zone.load([svc(), headless, external], slices)
    a = zone.resolve("web.ns.svc.cluster.local", dns.A)
    assert a[0] == dns.NOERROR and [r.data for r in a[1]] == [bytes([10, 96, 0, 20])]
    assert [r.data for r in zone.resolve("db.ns.svc.cluster.local", dns.A)[1]] == [
        bytes([10, 0, 0, 7])
    ]
    assert zone.resolve("db-0.db.ns.svc.cluster.local", dns.A)[1][0].data == bytes([10, 0, 0, 7])
    rcode, srv, extra = zone.resolve("_pg._tcp.db.ns.svc.cluster.local", dns.SRV)
    assert rcode == dns.NOERROR and srv[0].data[4:6] == struct.pack("!H", 5432)
    assert srv[0].data[6:] == dns.encode_name("db-0.db.ns.svc.cluster.local")
    assert extra[0].name == "db-0.db.ns.svc.cluster.local"
    assert zone.resolve("_http._tcp.web.ns.svc.cluster.local", dns.SRV)[1][0].data[4:6] == (
        struct.pack("!H", 80)
    )
    assert zone.resolve("ext.ns.svc.cluster.local", dns.A)[1][0].type == dns.CNAME
    assert zone.resolve("10-1-2-3.ns.pod.cluster.local", dns.A)[1][0].data == bytes([10, 1, 2, 3])
    assert zone.resolve("web.ns.svc.cluster.local", dns.AAAA) == (dns.NOERROR, [], [])
    assert zone.resolve("nope.ns.svc.cluster.local", dns.A)[0] == dns.NXDOMAIN
    assert zone.resolve("example.org", dns.A)[0] == dns.NXDOMAIN
    assert _ask(zone, "web.ns.svc.cluster.local", dns.A)[0] == dns.NOERROR
    assert dns.error_response(b"\x00\x07junk", dns.FORMERR)[:2] == b"\x00\x07"


def test_resolv_conf_follows_dns_policy(tmp_path: Any) -> None:
    host = tmp_path / "resolv.conf"
    host.write_text("nameserver 192.0.2.53\nsearch example.org\n")
    plain = {"metadata": {"namespace": "ns"}, "spec": {}}
    assert podenv.resolv_conf(plain, "10.96.0.10", host=str(host)) == (
        "nameserver 10.96.0.10\nsearch ns.svc.cluster.local svc.cluster.local cluster.local\n"
        "options ndots:5\n"
    )
    host_net = {"metadata": {"namespace": "ns"}, "spec": {"hostNetwork": True}}
    assert podenv.resolv_conf(host_net, "10.96.0.10", host=str(host)) is None
    with_host_net = {**host_net, "spec": {"hostNetwork": True,
                                          "dnsPolicy": "ClusterFirstWithHostNet"}}  # fmt: skip
    assert "10.96.0.10" in str(podenv.resolv_conf(with_host_net, "10.96.0.10", host=str(host)))
    custom = {
        "metadata": {"namespace": "ns"},
        "spec": {
            "dnsPolicy": "None",
            "dnsConfig": {"nameservers": ["1.1.1.1"], "options": [{"name": "ndots", "value": "2"}]},
        },
    }
    assert podenv.resolv_conf(custom, "10.96.0.10", host=str(host)) == (
        "nameserver 1.1.1.1\noptions ndots:2\n"
    )
    spec = {"dnsPolicy": "Default", "dnsConfig": {"searches": ["x"]}}
    default = {"metadata": {"namespace": "ns"}, "spec": spec}
    assert podenv.resolv_conf(default, "10.96.0.10", host=str(host)) == (
        "nameserver 192.0.2.53\nsearch example.org x\n"
    )
