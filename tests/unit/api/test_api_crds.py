"""Generated CRDs: one per kind, upstream names, structural schemas, upstream defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from apitest_support import ALL_MODELS, crd_schema_of

from liqo_core.api import CORE_MODELS, CustomResource, crd_manifest, crd_manifests, dump_crd
from liqo_core.api import structural_errors as structural
from liqo_core.api.crds import write_crds
from liqo_core.api.ipam_v1alpha1 import Network
from liqo_core.api.networking_v1beta1 import GatewayServer

# kind -> (plural, group, scope, a short name upstream users type)
EXPECTED: dict[str, tuple[str, str, str, str | None]] = {
    "ForeignCluster": ("foreignclusters", "core.liqo.io", "Cluster", "fc"),
    "Tenant": ("tenants", "authentication.liqo.io", "Namespaced", "tn"),
    "Identity": ("identities", "authentication.liqo.io", "Namespaced", "id"),
    "ResourceSlice": ("resourceslices", "authentication.liqo.io", "Namespaced", "rslice"),
    "Renew": ("renews", "authentication.liqo.io", "Namespaced", None),
    "VirtualNode": ("virtualnodes", "offloading.liqo.io", "Namespaced", "vn"),
    "VkOptionsTemplate": ("vkoptionstemplates", "offloading.liqo.io", "Namespaced", "vkot"),
    "NamespaceOffloading": ("namespaceoffloadings", "offloading.liqo.io", "Namespaced", "nsoff"),
    "NamespaceMap": ("namespacemaps", "offloading.liqo.io", "Namespaced", "nm"),
    "ShadowPod": ("shadowpods", "offloading.liqo.io", "Namespaced", "shp"),
    "ShadowEndpointSlice": ("shadowendpointslices", "offloading.liqo.io", "Namespaced", "seps"),
    "Quota": ("quotas", "offloading.liqo.io", "Namespaced", "qt"),
    "Configuration": ("configurations", "networking.liqo.io", "Namespaced", "conf"),
    "GatewayServer": ("gatewayservers", "networking.liqo.io", "Namespaced", "gws"),
    "GatewayClient": ("gatewayclients", "networking.liqo.io", "Namespaced", "gwc"),
    "PublicKey": ("publickeies", "networking.liqo.io", "Namespaced", "pk"),
    "Connection": ("connections", "networking.liqo.io", "Namespaced", "conn"),
    "InternalNode": ("internalnodes", "networking.liqo.io", "Cluster", "inode"),
    "InternalFabric": ("internalfabrics", "networking.liqo.io", "Namespaced", "ifabric"),
    "GeneveTunnel": ("genevetunnels", "networking.liqo.io", "Namespaced", "gvtn"),
    "RouteConfiguration": ("routeconfigurations", "networking.liqo.io", "Namespaced", "rcfg"),
    "FirewallConfiguration": (
        "firewallconfigurations",
        "networking.liqo.io",
        "Namespaced",
        "fwcfg",
    ),
    "Network": ("networks", "ipam.liqo.io", "Namespaced", "net"),
    "IP": ("ips", "ipam.liqo.io", "Namespaced", None),
    "WgGatewayServer": ("wggatewayservers", "networking.liqo.io", "Namespaced", "wgs"),
    "WgGatewayClient": ("wggatewayclients", "networking.liqo.io", "Namespaced", "wgc"),
    "WgGatewayServerTemplate": (
        "wggatewayservertemplates",
        "networking.liqo.io",
        "Namespaced",
        "wgst",
    ),
    "WgGatewayClientTemplate": (
        "wggatewayclienttemplates",
        "networking.liqo.io",
        "Namespaced",
        "wgct",
    ),
}
CRDS = {crd["spec"]["names"]["kind"]: crd for crd in crd_manifests(ALL_MODELS)}


def test_every_kind_has_exactly_one_crd() -> None:
    assert sorted(CRDS) == sorted(EXPECTED)
    assert len(CORE_MODELS) == 24


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_names_scope_and_version(kind: str) -> None:
    plural, group, scope, short = EXPECTED[kind]
    crd = CRDS[kind]
    assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
    assert crd["metadata"]["name"] == f"{plural}.{group}"
    spec = crd["spec"]
    assert spec["group"] == group
    assert spec["scope"] == scope
    names = spec["names"]
    assert names["plural"] == plural
    assert names["singular"] == kind.lower()
    assert names["listKind"] == f"{kind}List"
    assert "liqo" in names["categories"]
    if short:
        assert short in names["shortNames"]
    (version,) = spec["versions"]
    expected_version = "v1alpha1" if group == "ipam.liqo.io" else "v1beta1"
    assert (version["name"], version["served"], version["storage"]) == (
        expected_version,
        True,
        True,
    )
    assert any(col["name"] == "Age" for col in version["additionalPrinterColumns"])


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda m: m.crd.kind)
def test_schema_is_structural(model: type[CustomResource]) -> None:
    assert structural(crd_schema_of(model)) == []


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda m: m.crd.kind)
def test_status_subresource_iff_status(model: type[CustomResource]) -> None:
    version = crd_manifest(model)["spec"]["versions"][0]
    has_status = "status" in version["schema"]["openAPIV3Schema"]["properties"]
    assert has_status == model.has_status()
    assert ("subresources" in version) == has_status


def test_gateway_templates_are_labelled() -> None:
    for kind in ("WgGatewayServerTemplate", "WgGatewayClientTemplate"):
        assert CRDS[kind]["metadata"]["labels"] == {"networking.liqo.io/gatewaytemplate": "true"}
    assert "labels" not in CRDS["WgGatewayServer"]["metadata"]


def _prop(kind: str, *path: str) -> dict[str, Any]:
    node: dict[str, Any] = CRDS[kind]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for name in path:
        node = node["items"] if name == "[]" else node["properties"][name]
    return node


@pytest.mark.parametrize(
    ("kind", "path", "default"),
    [
        ("Tenant", ("spec", "authzPolicy"), "KeysExchange"),
        ("Tenant", ("spec", "tenantCondition"), "Active"),
        ("NamespaceOffloading", ("spec", "namespaceMappingStrategy"), "DefaultName"),
        ("NamespaceOffloading", ("spec", "podOffloadingStrategy"), "LocalAndRemote"),
        ("GatewayServer", ("spec", "endpoint", "serviceType"), "ClusterIP"),
        (
            "FirewallConfiguration",
            ("spec", "table", "chains", "[]", "rules", "filterRules", "[]", "counter"),
            True,
        ),
        ("ShadowPod", ("status", "phase"), "Unknown"),
        ("Quota", ("spec", "limitsEnforcement"), "None"),
    ],
)
def test_upstream_defaults_are_in_the_schema(
    kind: str, path: tuple[str, ...], default: Any
) -> None:
    assert _prop(kind, *path)["default"] == default


def test_enums_required_and_descriptions() -> None:
    auth = _prop("Tenant", "spec", "authzPolicy")
    assert auth["enum"] == ["KeysExchange", "TolerateNoHandshake"]
    assert auth["description"]
    assert _prop("ForeignCluster", "spec")["required"] == ["clusterID"]
    assert CRDS["ForeignCluster"]["spec"]["versions"][0]["schema"]["openAPIV3Schema"][
        "required"
    ] == ["spec"]
    assert _prop("ForeignCluster", "spec", "clusterID")["pattern"].startswith("^[a-z0-9]")
    assert _prop("GatewayServer", "spec", "endpoint", "ports")["maxItems"] == 64
    assert _prop("GeneveTunnel", "spec", "id")["maximum"] == 2**24 - 1
    assert _prop("ResourceSlice", "spec", "class")["type"] == "string"


def test_kubernetes_types_pass_through() -> None:
    pod = _prop("ShadowPod", "spec", "pod")
    assert pod == {"type": "object", "x-kubernetes-preserve-unknown-fields": True, **pod}
    quantity = _prop("ResourceSlice", "spec", "resources")["additionalProperties"]
    assert quantity["x-kubernetes-int-or-string"] is True
    assert quantity["anyOf"] == [{"type": "integer"}, {"type": "string"}]
    meta = _prop("VirtualNode", "spec", "template", "metadata")
    assert meta["x-kubernetes-preserve-unknown-fields"] is True
    assert meta["properties"]["labels"]["additionalProperties"] == {"type": "string"}


def test_immutability_rules_are_declared() -> None:
    for kind, path in [
        ("ForeignCluster", ("spec", "clusterID")),
        ("Tenant", ("spec", "clusterID")),
        ("NamespaceOffloading", ("spec", "namespaceMappingStrategy")),
        ("NamespaceOffloading", ("spec", "remoteNamespaceName")),
        ("Network", ("spec", "cidr")),
        ("IP", ("spec", "ip")),
    ]:
        rules = [r["rule"] for r in _prop(kind, *path)["x-kubernetes-validations"]]
        assert "self == oldSelf" in rules, (kind, path)


def test_output_is_deterministic(tmp_path: Path) -> None:
    first = [dump_crd(crd) for crd in crd_manifests(ALL_MODELS)]
    second = [dump_crd(crd) for crd in crd_manifests(reversed(ALL_MODELS))]
    assert first == second
    assert "&id" not in "".join(first), "YAML anchors make CRDs hard to read"


def test_duplicate_kinds_are_refused() -> None:
    class OtherNetwork(Network):
        pass

    assert crd_manifests([Network, Network]) == [crd_manifest(Network)]
    with pytest.raises(ValueError, match=r"networks\.ipam\.liqo\.io"):
        crd_manifests([Network, OtherNetwork])


def test_write_crds_replaces_stale_generated_files(tmp_path: Path) -> None:
    (tmp_path / "hand-written.yaml").write_text("kept: true\n")
    write_crds(ALL_MODELS, tmp_path)
    write_crds([GatewayServer], tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "hand-written.yaml",
        "networking.liqo.io_gatewayservers.yaml",
    ]


def _undocumented(node: dict[str, Any], path: str) -> list[str]:
    missing: list[str] = []
    for name, sub in node.get("properties", {}).items():
        where = f"{path}.{name}"
        if "description" not in sub and where != ".metadata":
            missing.append(where)
        missing += _undocumented(sub, where)
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            missing += _undocumented(node[key], path + ("[]" if key == "items" else "{}"))
    return missing


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda m: m.crd.kind)
def test_every_field_is_documented(model: type[CustomResource]) -> None:
    """Field docstrings become the CRD descriptions `kubectl explain` shows."""
    schema = crd_schema_of(model)
    assert schema["description"]
    assert _undocumented(schema, "") == []
