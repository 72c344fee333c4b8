"""Custom resource schemas: nested defaulting, validation errors, CEL and transition rules."""

from __future__ import annotations

import copy
import secrets

import orjson
import pytest
from contract_helpers import raw, status_of, wait_for
from kubernetes import client

pytestmark = pytest.mark.contract

SCHEMA = {
    "type": "object",
    "x-kubernetes-validations": [
        {"rule": "self.metadata.name.startsWith('gd-')", "message": "name must start with gd-"}
    ],
    "properties": {
        "spec": {
            "type": "object",
            "required": ["clusterID"],
            "x-kubernetes-validations": [
                {
                    "rule": "!(has(self.port) && has(self.ports))",
                    "message": "port and ports are exclusive",
                },
                {
                    "rule": "self.mode != 'Selected' || has(self.target)",
                    "message": "target is required with mode Selected",
                    "fieldPath": ".target",
                    "reason": "FieldValueRequired",
                },
            ],
            "properties": {
                "clusterID": {
                    "type": "string",
                    "maxLength": 12,
                    "x-kubernetes-validations": [
                        {"rule": "self == oldSelf", "message": "clusterID is immutable"}
                    ],
                },
                "mode": {
                    "type": "string",
                    "enum": ["Default", "Selected"],
                    "default": "Default",
                },
                "target": {"type": "string"},
                "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                "ports": {"type": "array", "items": {"type": "integer"}},
                "rules": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                    "items": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {
                            "name": {"type": "string"},
                            "counter": {"type": "boolean", "default": True},
                        },
                    },
                },
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            },
        },
    },
}


@pytest.fixture
def gadgets(kube_cluster):
    """A namespaced ``Gadget`` CRD in a unique group; yields (group, CustomObjectsApi)."""
    api = kube_cluster.api_client()
    ext = client.ApiextensionsV1Api(api)
    group = f"g{secrets.token_hex(4)}.schema.liqo.io"
    name = f"gadgets.{group}"
    ext.create_custom_resource_definition(
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": name},
            "spec": {
                "group": group,
                "scope": "Namespaced",
                "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": True,
                        "schema": {"openAPIV3Schema": SCHEMA},
                    }
                ],
            },
        }
    )

    def established():
        got = ext.read_custom_resource_definition(name)
        return any(
            c.type == "Established" and c.status == "True" for c in got.status.conditions or []
        )

    wait_for(established)
    custom = client.CustomObjectsApi(api)
    wait_for(lambda: custom.list_cluster_custom_object(group, "v1", "gadgets") is not None)
    yield group, custom
    ext.delete_custom_resource_definition(name)


def _gadget(group, name="gd-one", **spec):
    spec.setdefault("clusterID", "c1")
    return {
        "apiVersion": f"{group}/v1",
        "kind": "Gadget",
        "metadata": {"name": name},
        "spec": spec,
    }


def _create(gadgets, namespace, body):
    group, custom = gadgets
    return custom.create_namespaced_custom_object(group, "v1", namespace, "gadgets", body)


def _rejected(gadgets, namespace, body):
    with pytest.raises(client.ApiException) as err:
        _create(gadgets, namespace, body)
    assert err.value.status == 422
    status = status_of(err.value)
    assert status["reason"] == "Invalid"
    return status


def test_defaults_reach_into_list_items_and_unknown_fields_survive_only_when_preserved(
    gadgets, namespace
):
    group, _ = gadgets
    body = _gadget(
        group, rules=[{"name": "a"}, {"name": "b", "counter": False}], free={"any": {"x": 1}}
    )
    body["spec"]["bogus"] = True
    out = _create(gadgets, namespace, body)
    assert out["spec"]["mode"] == "Default"
    assert out["spec"]["rules"] == [
        {"name": "a", "counter": True},
        {"name": "b", "counter": False},
    ]
    assert out["spec"]["free"] == {"any": {"x": 1}}
    assert "bogus" not in out["spec"]


def test_schema_violations_name_the_field(gadgets, namespace):
    group, _ = gadgets
    status = _rejected(gadgets, namespace, _gadget(group, port=0, mode="Other"))
    fields = {c["field"] for c in status["details"]["causes"]}
    assert {"spec.port", "spec.mode"} <= fields
    assert 'spec.mode: Unsupported value: "Other"' in status["message"]
    assert "spec.port: Invalid value: 0" in status["message"]


def test_required_and_too_long(gadgets, namespace):
    group, _ = gadgets
    body = _gadget(group)
    del body["spec"]["clusterID"]
    status = _rejected(gadgets, namespace, body)
    assert "spec.clusterID: Required value" in status["message"]
    status = _rejected(gadgets, namespace, _gadget(group, clusterID="x" * 13))
    assert "spec.clusterID: Too long: may not be" in status["message"]


def test_duplicate_map_list_keys_are_rejected(gadgets, namespace):
    group, _ = gadgets
    status = _rejected(gadgets, namespace, _gadget(group, rules=[{"name": "a"}, {"name": "a"}]))
    assert "spec.rules[1]: Duplicate value" in status["message"]


def test_cel_rules_with_message_field_path_and_reason(gadgets, namespace):
    group, _ = gadgets
    status = _rejected(gadgets, namespace, _gadget(group, port=1, ports=[2]))
    assert 'spec: Invalid value: "object": port and ports are exclusive' in status["message"]
    status = _rejected(gadgets, namespace, _gadget(group, mode="Selected"))
    assert (
        "spec.target: Required value: target is required with mode Selected" in (status["message"])
    )
    assert status["details"]["causes"][0]["reason"] == "FieldValueRequired"
    status = _rejected(gadgets, namespace, _gadget(group, name="other"))
    assert "name must start with gd-" in status["message"]


def test_cel_transition_rule_makes_field_immutable(gadgets, namespace):
    group, custom = gadgets
    _create(gadgets, namespace, _gadget(group, name="gd-imm", rules=[{"name": "a"}]))
    same = {"spec": {"rules": [{"name": "a"}, {"name": "b"}]}}
    custom.patch_namespaced_custom_object(group, "v1", namespace, "gadgets", "gd-imm", same)
    with pytest.raises(client.ApiException) as err:
        custom.patch_namespaced_custom_object(
            group, "v1", namespace, "gadgets", "gd-imm", {"spec": {"clusterID": "c2"}}
        )
    assert err.value.status == 422
    assert (
        'spec.clusterID: Invalid value: "string": clusterID is immutable'
        in (status_of(err.value)["message"])
    )


def test_kubectl_reports_invalid_custom_resource(kube_cluster, gadgets, namespace):
    group, _ = gadgets
    manifest = orjson.dumps(_gadget(group, name="gd-kubectl", port=70000)).decode()
    out = kube_cluster.kubectl("apply", "-n", namespace, "-f", "-", input=manifest, check=False)
    assert out.returncode != 0
    assert "is invalid: spec.port: Invalid value: 70000" in out.stderr


def test_nulls_on_non_nullable_fields_are_dropped_or_defaulted(gadgets, namespace):
    group, _ = gadgets
    out = _create(gadgets, namespace, _gadget(group, name="gd-null", target=None, mode=None))
    assert "target" not in out["spec"]
    assert out["spec"]["mode"] == "Default"


def test_tightened_schema_ratchets_unchanged_values(kube_cluster, gadgets, namespace):
    group, custom = gadgets
    _create(gadgets, namespace, _gadget(group, name="gd-ratchet", port=9000, target="a"))
    api = kube_cluster.api_client()
    path = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gadgets.{group}"
    crd = raw(api, "GET", path)
    tightened = copy.deepcopy(SCHEMA)
    tightened["properties"]["spec"]["properties"]["port"]["maximum"] = 8000
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"] = tightened
    raw(api, "PUT", path, crd)

    def other_field_update_passes():
        patch = {"spec": {"target": secrets.token_hex(2)}}
        custom.patch_namespaced_custom_object(
            group, "v1", namespace, "gadgets", "gd-ratchet", patch
        )
        return True

    def port_change_rejected():
        try:
            custom.patch_namespaced_custom_object(
                group, "v1", namespace, "gadgets", "gd-ratchet", {"spec": {"port": 8500}}
            )
        except client.ApiException as exc:
            return exc.status == 422 and "spec.port" in status_of(exc)["message"]
        return False

    wait_for(port_change_rejected)
    assert other_field_update_passes()
