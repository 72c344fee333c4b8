"""Sample manifests (upstream field names) parse, validate and round-trip."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from apitest_support import (
    ALL_MODELS,
    apply_defaults,
    crd_schema_of,
    manifest_docs,
    model_of,
    server_errors,
)
from pydantic import ValidationError

from liqo_core.api import model_for
from liqo_core.api.authentication_v1beta1 import Tenant, TenantSpec
from liqo_core.api.conditions import ForeignClusterCondition
from liqo_core.api.core_v1beta1 import ForeignCluster, ForeignClusterSpec
from liqo_core.api.meta import ObjectMeta
from liqo_core.api.networking_firewall import FilterRule, Match, MatchProto
from liqo_core.api.networking_gateway import Endpoint, GatewayServer
from liqo_core.api.offloading_v1beta1 import NamespaceOffloading, ShadowPodStatus

DOCS = list(manifest_docs())
IDS = [f"{name}#{i}" for name, i, _ in DOCS]


@pytest.mark.parametrize(("name", "index", "doc"), DOCS, ids=IDS)
def test_sample_round_trips(name: str, index: int, doc: dict[str, Any]) -> None:
    obj = model_of(doc).model_validate(doc)
    wire = obj.model_dump(by_alias=True, exclude_none=True, exclude_unset=True, mode="json")
    assert wire == doc
    # Dumping with defaults and reading back gives the same object.
    again = type(obj).model_validate(obj.to_dict())
    assert again == obj


@pytest.mark.parametrize(("name", "index", "doc"), DOCS, ids=IDS)
def test_sample_is_accepted_by_the_crd_schema(name: str, index: int, doc: dict[str, Any]) -> None:
    model = model_of(doc)
    assert server_errors(model, doc) == []
    # An update that changes nothing passes the transition (immutability) rules too.
    assert server_errors(model, doc, old=doc) == []


@pytest.mark.parametrize(("name", "index", "doc"), DOCS, ids=IDS)
def test_server_defaults_match_model_defaults(name: str, index: int, doc: dict[str, Any]) -> None:
    """Whatever the CRD defaults, the model defaults identically."""
    model = model_of(doc)
    defaulted = apply_defaults(crd_schema_of(model), doc)
    assert model.model_validate(doc) == model.model_validate(defaulted)
    dumped = model.model_validate(doc).to_dict()
    assert _subset(defaulted, dumped), "the model drops or changes a server-defaulted field"


def _subset(small: Any, big: Any) -> bool:
    if isinstance(small, dict):
        return isinstance(big, dict) and all(
            k in big and _subset(v, big[k]) for k, v in small.items()
        )
    if isinstance(small, list):
        return isinstance(big, list) and len(small) == len(big) and all(map(_subset, small, big))
    return bool(small == big)


def test_every_kind_has_a_sample() -> None:
    sampled = {model_of(doc) for _, _, doc in DOCS}
    assert sampled == set(ALL_MODELS)


def test_python_names_and_wire_names() -> None:
    fc = ForeignCluster(
        metadata=ObjectMeta(name="milan"), spec=ForeignClusterSpec(cluster_id="milan")
    )
    assert fc.to_dict() == {
        "apiVersion": "core.liqo.io/v1beta1",
        "kind": "ForeignCluster",
        "metadata": {"name": "milan"},
        "spec": {"clusterID": "milan"},
    }
    tenant = Tenant.model_validate(
        {"spec": {"clusterID": "rome", "proxyURL": "http://p:8118"}, "metadata": {"name": "rome"}}
    )
    assert tenant.spec.proxy_url == "http://p:8118"
    assert tenant.spec.authz_policy == "KeysExchange"
    assert tenant.spec.tenant_condition == "Active"
    assert TenantSpec(cluster_id="a").to_dict()["clusterID"] == "a"


def test_upstream_defaults() -> None:
    assert Endpoint(port=51840).service_type == "ClusterIP"
    rule = FilterRule(match=[Match(op="eq", proto=MatchProto(value="tcp"))], action="accept")
    assert rule.counter is True
    assert ShadowPodStatus().phase == "Unknown"
    nsoff = NamespaceOffloading.model_validate({"metadata": {"name": "offloading"}})
    assert nsoff.spec.namespace_mapping_strategy == "DefaultName"
    assert nsoff.spec.pod_offloading_strategy == "LocalAndRemote"


def test_type_meta_is_filled_and_checked() -> None:
    gws = GatewayServer.model_validate(
        {
            "spec": {
                "serverTemplateRef": {
                    "kind": "WgGatewayServerTemplate",
                    "name": "wireguard-server",
                },
                "endpoint": {"port": 51840},
            }
        }
    )
    assert gws.api_version == "networking.liqo.io/v1beta1"
    assert gws.kind == "GatewayServer"
    with pytest.raises(ValidationError, match="kind must be 'GatewayServer'"):
        GatewayServer.model_validate({**gws.to_dict(), "kind": "GatewayClient"})
    with pytest.raises(ValidationError, match="apiVersion must be"):
        GatewayServer.model_validate({**gws.to_dict(), "apiVersion": "networking.liqo.io/v1"})


def test_times_serialise_as_kubernetes_time() -> None:
    cond = ForeignClusterCondition(
        type="APIServerStatus",
        status="Established",
        last_transition_time=datetime(2025, 3, 1, 10, 0, 0, 123456, tzinfo=UTC),
    )
    assert cond.model_dump(by_alias=True, exclude_none=True) == {
        "type": "APIServerStatus",
        "status": "Established",
        "lastTransitionTime": "2025-03-01T10:00:00Z",
    }


def test_model_for_finds_core_kinds() -> None:
    assert model_for("core.liqo.io/v1beta1", "ForeignCluster") is ForeignCluster
    assert model_for("core.liqo.io/v1beta1", "Nope") is None
