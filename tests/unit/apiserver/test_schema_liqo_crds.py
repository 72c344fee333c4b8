"""The project's own CRDs (charts/liqo/crds): every schema builds and its CEL rules behave."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from liqo_core.sandbox.apiserver.schema import CRDValidator

CRDS = Path(__file__).resolve().parents[3] / "charts" / "liqo" / "crds"


def _validator(filename: str) -> CRDValidator:
    crd = yaml.safe_load((CRDS / filename).read_text())
    return CRDValidator(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])


def _messages(
    validator: CRDValidator, obj: dict[str, Any], old: dict[str, Any] | None = None
) -> list[str]:
    ready = validator.apply_defaults(validator.prune(obj))
    return [str(e) for e in validator.validate(ready, old)]


@pytest.mark.parametrize("path", sorted(CRDS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_chart_crd_compiles(path: Path) -> None:
    for doc in yaml.safe_load_all(path.read_text()):
        for version in doc["spec"]["versions"]:
            CRDValidator(version["schema"]["openAPIV3Schema"])


def _nsoff(name: str = "offloading", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "offloading.liqo.io/v1beta1",
        "kind": "NamespaceOffloading",
        "metadata": {"name": name, "namespace": "team"},
        "spec": spec,
    }


def test_namespace_offloading_rules() -> None:
    v = _validator("offloading.liqo.io_namespaceoffloadings.yaml")
    assert _messages(v, _nsoff()) == []
    defaulted = v.apply_defaults(_nsoff())
    assert defaulted["spec"]["namespaceMappingStrategy"] == "DefaultName"
    assert defaulted["spec"]["podOffloadingStrategy"] == "LocalAndRemote"
    assert _messages(v, _nsoff("other")) == [
        "<nil>: Invalid value: \"object\": a NamespaceOffloading must be named 'offloading'"
    ]
    assert _messages(v, _nsoff(namespaceMappingStrategy="SelectedName")) == [
        'spec.remoteNamespaceName: Invalid value: "object": remoteNamespaceName must be set if '
        "and only if namespaceMappingStrategy is SelectedName"
    ]
    selected = v.apply_defaults(
        _nsoff(namespaceMappingStrategy="SelectedName", remoteNamespaceName="far")
    )
    assert v.validate(selected) == []
    renamed = copy.deepcopy(selected)
    renamed["spec"]["remoteNamespaceName"] = "elsewhere"
    assert [str(e) for e in v.validate(renamed, selected)] == [
        'spec.remoteNamespaceName: Invalid value: "string": field is immutable'
    ]
    switched = copy.deepcopy(selected)
    switched["spec"]["namespaceMappingStrategy"] = "DefaultName"
    del switched["spec"]["remoteNamespaceName"]
    assert sorted(str(e) for e in v.validate(switched, selected)) == [
        'spec.namespaceMappingStrategy: Invalid value: "string": field is immutable',
        'spec.remoteNamespaceName: Invalid value: "object": remoteNamespaceName is immutable',
    ]


def _gws(endpoint: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.liqo.io/v1beta1",
        "kind": "GatewayServer",
        "metadata": {"name": "gw", "namespace": "t"},
        "spec": {"endpoint": endpoint, "serverTemplateRef": {"name": "t", "kind": "K"}},
    }


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ({"port": 51840}, []),
        ({"ports": [51840, 51841]}, []),
        ({"port": 1, "ports": [2]}, ["port and ports are exclusive"]),
        (
            {"nodePort": 30000, "nodePorts": [30001], "port": 1},
            ["nodePort and nodePorts are exclusive"],
        ),
        ({}, ["at least one port must be set (port or ports)"]),
        ({"ports": [1, 1]}, ["ports must not contain duplicates"]),
    ],
)
def test_gateway_server_endpoint_rules(endpoint: dict[str, Any], expected: list[str]) -> None:
    v = _validator("networking.liqo.io_gatewayservers.yaml")
    found = _messages(v, _gws(endpoint))
    assert len(found) == len(expected), found
    for fragment in expected:
        assert any(fragment in f for f in found), found
