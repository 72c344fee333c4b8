"""CEL rules of the CRDs compile with cel-python and behave as upstream's."""

from __future__ import annotations

from typing import Any

import pytest
from apitest_support import (
    ALL_MODELS,
    cel_eval,
    cel_program,
    cel_rules,
    crd_schema_of,
    load_doc,
    server_errors,
)

from liqo_core.api.authentication_v1beta1 import ResourceSlice
from liqo_core.api.core_v1beta1 import ForeignCluster
from liqo_core.api.ipam_v1alpha1 import IP, Network
from liqo_core.api.networking_firewall import FirewallConfiguration
from liqo_core.api.networking_route import RouteConfiguration
from liqo_core.api.networking_v1beta1 import GatewayServer
from liqo_core.api.offloading_v1beta1 import NamespaceOffloading, VirtualNode

RULES = sorted({r["rule"] for m in ALL_MODELS for r in cel_rules(crd_schema_of(m))})


def test_there_are_rules() -> None:
    assert len(RULES) >= 8


@pytest.mark.parametrize("rule", RULES)
def test_rule_compiles(rule: str) -> None:
    cel_program(rule)


def test_immutability() -> None:
    assert cel_eval("self == oldSelf", "a", "a")
    assert not cel_eval("self == oldSelf", "a", "b")


@pytest.mark.parametrize(
    ("model", "sample", "path", "new_value"),
    [
        (ForeignCluster, "core_foreigncluster.yaml", ("spec", "clusterID"), "other"),
        (Network, "ipam_network.yaml", ("spec", "cidr"), "10.99.0.0/16"),
        (IP, "ipam_ip.yaml", ("spec", "ip"), "10.96.0.2"),
        (
            NamespaceOffloading,
            "offloading_namespaceoffloading.yaml",
            ("spec", "podOffloadingStrategy"),
            "Local",
        ),
    ],
)
def test_updates(model: Any, sample: str, path: tuple[str, ...], new_value: Any) -> None:
    old = load_doc(sample)
    new = load_doc(sample)
    node = new
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = new_value
    errors = server_errors(model, new, old=old)
    if path[-1] == "podOffloadingStrategy":
        assert errors == []  # mutable
    else:
        assert errors == [f".{'.'.join(path)}: field is immutable"]
    assert server_errors(model, new) == []  # creation is fine


def test_namespace_offloading_rules() -> None:
    selected = load_doc("offloading_namespaceoffloading.yaml", 1)
    assert server_errors(NamespaceOffloading, selected) == []
    missing = load_doc("offloading_namespaceoffloading.yaml", 1)
    del missing["spec"]["remoteNamespaceName"]
    assert server_errors(NamespaceOffloading, missing) == [
        ".spec: remoteNamespaceName must be set if and only if namespaceMappingStrategy "
        "is SelectedName"
    ]
    extra = load_doc("offloading_namespaceoffloading.yaml", 0)
    extra["spec"]["remoteNamespaceName"] = "x"
    assert server_errors(NamespaceOffloading, extra) != []
    # Mapping strategy and remote name are immutable, including adding or removing it.
    renamed = load_doc("offloading_namespaceoffloading.yaml", 1)
    renamed["spec"]["remoteNamespaceName"] = "other"
    assert ".spec.remoteNamespaceName: field is immutable" in server_errors(
        NamespaceOffloading, renamed, old=selected
    )
    to_default = load_doc("offloading_namespaceoffloading.yaml", 1)
    to_default["spec"]["namespaceMappingStrategy"] = "DefaultName"
    del to_default["spec"]["remoteNamespaceName"]
    errors = server_errors(NamespaceOffloading, to_default, old=selected)
    assert ".spec: remoteNamespaceName is immutable" in errors
    assert ".spec.namespaceMappingStrategy: field is immutable" in errors
    wrong_name = load_doc("offloading_namespaceoffloading.yaml")
    wrong_name["metadata"]["name"] = "offload"
    assert server_errors(NamespaceOffloading, wrong_name) == [
        "<root>: a NamespaceOffloading must be named 'offloading'"
    ]


def _endpoint_errors(endpoint: dict[str, Any]) -> list[str]:
    doc = load_doc("networking_gatewayserver.yaml", 1)
    doc["spec"]["endpoint"] = endpoint
    return server_errors(GatewayServer, doc)


def test_gateway_server_endpoint_rules() -> None:
    assert _endpoint_errors({"port": 51840}) == []
    assert _endpoint_errors({"ports": [1, 2], "nodePorts": [30001, 30002]}) == []
    assert _endpoint_errors({"port": 1, "ports": [2]}) == [
        ".spec.endpoint: port and ports are exclusive"
    ]
    assert _endpoint_errors({"port": 1, "nodePort": 30001, "nodePorts": [30002]}) == [
        ".spec.endpoint: nodePort and nodePorts are exclusive"
    ]
    assert _endpoint_errors({"serviceType": "NodePort"}) == [
        ".spec.endpoint: at least one port must be set (port or ports)"
    ]
    assert _endpoint_errors({"ports": []}) == [
        ".spec.endpoint: at least one port must be set (port or ports)"
    ]
    assert _endpoint_errors({"ports": [1, 2, 1]}) == [
        ".spec.endpoint: ports must not contain duplicates"
    ]
    assert _endpoint_errors({"ports": list(range(1, 66))}) == [
        ".spec.endpoint.ports: too many items"
    ]


def test_firewall_chain_has_exactly_one_rule_kind() -> None:
    doc = load_doc("networking_firewallconfiguration.yaml")
    chain = doc["spec"]["table"]["chains"][0]
    chain["rules"]["filterRules"] = [{"match": [], "action": "accept"}]
    assert server_errors(FirewallConfiguration, doc) == [
        ".spec.table.chains[0].rules: "
        "exactly one of natRules, filterRules and routeRules must be set"
    ]
    chain["rules"] = {}
    assert len(server_errors(FirewallConfiguration, doc)) == 1


def test_virtual_node_provider_id_is_immutable_once_set() -> None:
    old = load_doc("offloading_virtualnode.yaml")
    new = load_doc("offloading_virtualnode.yaml")
    new["spec"]["providerID"] = "liqo://elsewhere"
    assert server_errors(VirtualNode, new, old=old) == [
        ".spec.providerID: providerID is immutable once set"
    ]
    old["spec"]["providerID"] = ""
    assert server_errors(VirtualNode, new, old=old) == []


def test_resource_slice_class_is_immutable() -> None:
    old = load_doc("authentication_resourceslice.yaml")
    for change in ({"class": "gpu"}, {"class": None}):
        new = load_doc("authentication_resourceslice.yaml")
        new["spec"].update(change)
        new["spec"] = {k: v for k, v in new["spec"].items() if v is not None}
        assert server_errors(ResourceSlice, new, old=old) == [".spec: class is immutable"]
    same = load_doc("authentication_resourceslice.yaml")
    same["spec"]["resources"]["cpu"] = "8"
    assert server_errors(ResourceSlice, same, old=old) == []


def test_route_gw_and_next_hops_are_exclusive() -> None:
    doc = load_doc("networking_routeconfiguration.yaml")
    doc["spec"]["table"]["rules"][1]["routes"][0]["gw"] = "10.80.0.9"
    assert server_errors(RouteConfiguration, doc) == [
        ".spec.table.rules[1].routes[0]: gw and nextHops are exclusive"
    ]
