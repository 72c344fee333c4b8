"""Invalid manifests are refused by the models and by the CRD schema, naming the field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from apitest_support import load_doc, model_of, server_errors
from pydantic import ValidationError

Doc = dict[str, Any]


def _set(path: str, value: Any) -> Callable[[Doc], None]:
    keys = path.split(".")

    def mutate(doc: Doc) -> None:
        node = doc
        for key in keys[:-1]:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[keys[-1]] = value

    return mutate


def _delete(path: str) -> Callable[[Doc], None]:
    keys = path.split(".")

    def mutate(doc: Doc) -> None:
        node = doc
        for key in keys[:-1]:
            node = node[key]
        del node[keys[-1]]

    return mutate


# (sample, mutation, text the model error must contain, text the server error must contain)
CASES: list[tuple[str, Callable[[Doc], None], str, str]] = [
    ("core_foreigncluster.yaml", _set("spec.clusterID", "Milan_1"), "clusterID", ".spec.clusterID"),
    ("core_foreigncluster.yaml", _delete("spec.clusterID"), "clusterID", ".spec.clusterID"),
    ("core_foreigncluster.yaml", _set("status.role", "Peer"), "role", ".status.role"),
    (
        "authentication_tenant.yaml",
        _set("spec.authzPolicy", "None"),
        "authzPolicy",
        ".spec.authzPolicy",
    ),
    (
        "authentication_tenant.yaml",
        _set("spec.tenantCondition", "Paused"),
        "tenantCondition",
        ".spec.tenantCondition",
    ),
    ("authentication_identity.yaml", _set("spec.type", "User"), "type", ".spec.type"),
    (
        "authentication_resourceslice.yaml",
        _set("spec.resources.cpu", "four"),
        "resources.cpu",
        ".spec.resources.cpu",
    ),
    (
        "authentication_resourceslice.yaml",
        _set("spec.resources.cpu", True),
        "resources.cpu",
        ".spec.resources.cpu",
    ),
    ("authentication_resourceslice.yaml", _set("spec.clas", "default"), "clas", ".spec.clas"),
    (
        "offloading_vkoptionstemplate.yaml",
        _set("spec.reflectorsConfig.pod.type", "Mirror"),
        "reflectorsConfig.pod.type",
        ".spec.reflectorsConfig.pod.type",
    ),
    (
        "offloading_namespaceoffloading.yaml",
        _set("spec.podOffloadingStrategy", "Anywhere"),
        "podOffloadingStrategy",
        ".spec.podOffloadingStrategy",
    ),
    (
        "offloading_namespacemap.yaml",
        _set("status.currentMapping.shop.phase", "Done"),
        "currentMapping.shop.phase",
        ".status.currentMapping.shop.phase",
    ),
    ("offloading_shadowpod.yaml", _set("status.phase", "Sleeping"), "phase", ".status.phase"),
    (
        "offloading_quota.yaml",
        _set("spec.limitsEnforcement", "Strict"),
        "limitsEnforcement",
        ".spec.limitsEnforcement",
    ),
    (
        "networking_configuration.yaml",
        _set("spec.remote.cidr.pod", ["10.0.0.0"]),
        "remote.cidr.pod.0",
        "",
    ),
    (
        "networking_gatewayserver.yaml",
        _set("spec.endpoint.serviceType", "Ingress"),
        "serviceType",
        ".spec.endpoint.serviceType",
    ),
    (
        "networking_gatewayserver.yaml",
        _set("spec.endpoint.ports", [51840]),
        "endpoint",
        "port and ports are exclusive",
    ),
    (
        "networking_gatewayserver.yaml",
        _set("spec.endpoint.port", 70000),
        "endpoint.port",
        ".spec.endpoint.port",
    ),
    ("networking_connection.yaml", _set("status.value", "Up"), "value", ".status.value"),
    ("networking_genevetunnel.yaml", _set("spec.id", 2**24), "spec.id", ".spec.id"),
    (
        "networking_routeconfiguration.yaml",
        _set("spec.table.rules", []),
        "rules",
        ".spec.table.rules",
    ),
    (
        "networking_firewallconfiguration.yaml",
        _set("spec.table.family", "IPV5"),
        "family",
        ".spec.table.family",
    ),
    (
        "networking_firewallconfiguration.yaml",
        _set("spec.table.chains.0.hook", "output-ish"),
        "chains.0.hook",
        ".spec.table.chains[0].hook",
    ),
    ("ipam_network.yaml", _set("spec.preAllocated", -1), "preAllocated", ".spec.preAllocated"),
    ("ipam_ip.yaml", _delete("spec.ip"), "spec.ip", ".spec.ip"),
]


@pytest.mark.parametrize(("sample", "mutate", "model_text", "server_text"), CASES)
def test_invalid_sample_is_refused(
    sample: str, mutate: Callable[[Doc], None], model_text: str, server_text: str
) -> None:
    doc = load_doc(sample)
    mutate(doc)
    model = model_of(doc)
    with pytest.raises(ValidationError) as err:
        model.model_validate(doc)
    locations = [".".join(str(p) for p in e["loc"]) for e in err.value.errors()]
    assert any(model_text in loc for loc in locations) or model_text in str(err.value), locations
    if server_text:
        errors = server_errors(model, doc)
        assert any(server_text in e for e in errors), errors


def test_cidr_format_is_checked_by_the_model() -> None:
    doc = load_doc("networking_configuration.yaml")
    doc["spec"]["remote"]["cidr"]["pod"] = ["10.300.0.0/16"]
    with pytest.raises(ValidationError, match="is not a CIDR"):
        model_of(doc).model_validate(doc)
