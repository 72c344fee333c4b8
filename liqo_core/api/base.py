"""Base model of every Liqo API object: snake_case in Python, upstream camelCase on the wire."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

# Wire names that plain camelCase conversion would get wrong (upstream keeps acronyms upper).
_IRREGULAR_NAMES: dict[str, str] = {
    "cluster_id": "clusterID",
    "consumer_cluster_id": "consumerClusterID",
    "provider_cluster_id": "providerClusterID",
    "proxy_url": "proxyURL",
    "signed_crt": "signedCRT",
    "aws_access_key_id": "awsAccessKeyID",
    "remote_cidrs": "remoteCIDRs",
    "gateway_ip": "gatewayIP",
    "node_ip": "nodeIP",
    "load_balancer_ip": "loadBalancerIP",
    "provider_id": "providerID",
    "mtu": "mtu",
    "fwmark": "fwmark",
}


def wire_name(field_name: str) -> str:
    """Return the upstream (JSON) name of a Python field name."""
    if field_name in _IRREGULAR_NAMES:
        return _IRREGULAR_NAMES[field_name]
    return to_camel(field_name.rstrip("_"))


class ApiModel(BaseModel):
    """A piece of a Liqo API object.

    Fields are accepted under both names and dumped under the wire name. Unknown fields
    are refused, as ``kubectl --validate=strict`` would, so typos surface immediately.
    """

    model_config = ConfigDict(
        alias_generator=wire_name,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="forbid",
        use_attribute_docstrings=True,
    )

    def to_dict(self) -> dict[str, Any]:
        """Return the wire form (camelCase keys, unset optional fields omitted)."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


def cel(rule: str, message: str, *, reason: str = "", field_path: str = "") -> dict[str, str]:
    """Describe one ``x-kubernetes-validations`` CEL rule."""
    out = {"rule": rule, "message": message}
    if reason:
        out["reason"] = reason
    if field_path:
        out["fieldPath"] = field_path
    return out


def validations(*rules: dict[str, str]) -> dict[str, Any]:
    """``json_schema_extra`` value attaching CEL rules to a field or a model."""
    return {"x-kubernetes-validations": list(rules)}


IMMUTABLE = cel("self == oldSelf", "field is immutable")
