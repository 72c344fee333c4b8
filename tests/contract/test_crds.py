"""CustomResourceDefinitions: serving, schema defaults/pruning/validation, columns, deletion."""

from __future__ import annotations

import secrets

import orjson
import pytest
from contract_helpers import absent, raw, status_of, wait_for
from kubernetes import client

pytestmark = pytest.mark.contract

SCHEMA = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "size": {"type": "integer", "default": 3, "minimum": 1},
                "mode": {"type": "string", "enum": ["fast", "slow"]},
            },
        },
        "status": {
            "type": "object",
            "properties": {"phase": {"type": "string"}},
        },
    },
}


@pytest.fixture
def crd(kube_cluster):
    """A namespaced CRD ``Widget`` in a unique group; removed after the test."""
    api = kube_cluster.api_client()
    ext = client.ApiextensionsV1Api(api)
    group = f"g{secrets.token_hex(4)}.contract.liqo.io"
    category = f"cat{secrets.token_hex(3)}"
    body = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {
                "plural": "widgets",
                "singular": "widget",
                "kind": "Widget",
                "shortNames": [f"wd{secrets.token_hex(2)}"],
                "categories": [category],
            },
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": SCHEMA},
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
                    ],
                }
            ],
        },
    }
    ext.create_custom_resource_definition(body)

    def established():
        got = ext.read_custom_resource_definition(f"widgets.{group}")
        conds = {c.type: c.status for c in (got.status.conditions or [])}
        return conds.get("Established") == "True" and conds.get("NamesAccepted") == "True"

    wait_for(established)
    custom = client.CustomObjectsApi(api)
    wait_for(lambda: custom.list_cluster_custom_object(group, "v1", "widgets") is not None)
    info = {"group": group, "category": category, "short": body["spec"]["names"]["shortNames"][0]}
    yield info
    try:
        ext.delete_custom_resource_definition(f"widgets.{group}")
    except client.ApiException as exc:
        if exc.status != 404:
            raise


def _widget(group, name, **spec):
    return {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": name}, "spec": spec}


def test_established_crd_serves_its_resource(kube_cluster, crd, namespace):
    custom = client.CustomObjectsApi(kube_cluster.api_client())
    created = custom.create_namespaced_custom_object(
        crd["group"], "v1", namespace, "widgets", _widget(crd["group"], "w1", size=2)
    )
    assert created["metadata"]["generation"] == 1
    got = custom.get_namespaced_custom_object(crd["group"], "v1", namespace, "widgets", "w1")
    assert got["spec"]["size"] == 2


def test_discovery_lists_the_custom_resource(kube_cluster, crd):
    api = kube_cluster.api_client()
    doc = raw(api, "GET", f"/apis/{crd['group']}/v1")
    widgets = next(r for r in doc["resources"] if r["name"] == "widgets")
    assert widgets["kind"] == "Widget"
    assert widgets["namespaced"] is True
    assert crd["short"] in widgets["shortNames"]
    assert any(r["name"] == "widgets/status" for r in doc["resources"])


def test_schema_defaults_are_applied(kube_cluster, crd, namespace):
    custom = client.CustomObjectsApi(kube_cluster.api_client())
    created = custom.create_namespaced_custom_object(
        crd["group"], "v1", namespace, "widgets", _widget(crd["group"], "d")
    )
    assert created["spec"]["size"] == 3


def test_unknown_fields_are_pruned(kube_cluster, crd, namespace):
    custom = client.CustomObjectsApi(kube_cluster.api_client())
    created = custom.create_namespaced_custom_object(
        crd["group"], "v1", namespace, "widgets", _widget(crd["group"], "p", size=1, extra="x")
    )
    assert "extra" not in created["spec"]


def test_invalid_value_is_422_naming_the_field(kube_cluster, crd, namespace):
    custom = client.CustomObjectsApi(kube_cluster.api_client())
    with pytest.raises(client.ApiException) as err:
        custom.create_namespaced_custom_object(
            crd["group"], "v1", namespace, "widgets", _widget(crd["group"], "bad", mode="medium")
        )
    status = status_of(err.value)
    assert err.value.status == 422
    assert status["reason"] == "Invalid"
    assert status["details"]["causes"][0]["field"] == "spec.mode"


def test_status_is_ignored_on_main_resource_and_set_through_status(kube_cluster, crd, namespace):
    custom = client.CustomObjectsApi(kube_cluster.api_client())
    body = _widget(crd["group"], "st", size=1)
    body["status"] = {"phase": "Ignored"}
    created = custom.create_namespaced_custom_object(crd["group"], "v1", namespace, "widgets", body)
    assert "status" not in created
    created["status"] = {"phase": "AlsoIgnored"}
    created["spec"]["size"] = 2
    updated = custom.replace_namespaced_custom_object(
        crd["group"], "v1", namespace, "widgets", "st", created
    )
    assert "status" not in updated
    assert updated["metadata"]["generation"] == 2
    updated["status"] = {"phase": "Ready"}
    updated["spec"]["size"] = 99
    after = custom.replace_namespaced_custom_object_status(
        crd["group"], "v1", namespace, "widgets", "st", updated
    )
    assert after["status"] == {"phase": "Ready"}
    assert after["spec"]["size"] == 2
    assert after["metadata"]["generation"] == 2


def test_strategic_merge_patch_is_415_for_custom_resources(kube_cluster, crd, namespace):
    api = kube_cluster.api_client()
    custom = client.CustomObjectsApi(api)
    custom.create_namespaced_custom_object(
        crd["group"], "v1", namespace, "widgets", _widget(crd["group"], "smp")
    )
    path = f"/apis/{crd['group']}/v1/namespaces/{namespace}/widgets/smp"
    with pytest.raises(client.ApiException) as err:
        raw(
            api,
            "PATCH",
            path,
            body={"spec": {"size": 5}},
            content_type="application/strategic-merge-patch+json",
        )
    assert err.value.status == 415


def test_table_output_uses_printer_columns(kube_cluster, crd, namespace):
    api = kube_cluster.api_client()
    custom = client.CustomObjectsApi(api)
    custom.create_namespaced_custom_object(
        crd["group"], "v1", namespace, "widgets", _widget(crd["group"], "tbl", size=7)
    )
    table = raw(
        api,
        "GET",
        f"/apis/{crd['group']}/v1/namespaces/{namespace}/widgets",
        accept="application/json;as=Table;v=v1;g=meta.k8s.io",
    )
    assert table["kind"] == "Table"
    names = [c["name"] for c in table["columnDefinitions"]]
    assert names[:3] == ["Name", "Size", "Phase"]
    assert table["rows"][0]["cells"][:2] == ["tbl", 7]


def test_kubectl_get_by_category_and_short_name(kube_cluster, crd, namespace, tmp_path):
    custom = client.CustomObjectsApi(kube_cluster.api_client())
    custom.create_namespaced_custom_object(
        crd["group"], "v1", namespace, "widgets", _widget(crd["group"], "kc", size=4)
    )
    fresh = f"--cache-dir={tmp_path}"  # the category is new: skip discovery cached earlier
    by_cat = kube_cluster.kubectl("get", crd["category"], "-n", namespace, "-o", "name", fresh)
    assert f"widget.{crd['group']}/kc" in by_cat.stdout
    table = kube_cluster.kubectl("get", crd["short"], "-n", namespace, fresh)
    header, row = table.stdout.splitlines()[:2]
    assert header.split() == ["NAME", "SIZE", "PHASE"]
    assert row.split()[:2] == ["kc", "4"]


def test_deleting_the_crd_deletes_its_objects(kube_cluster, crd, namespace):
    api = kube_cluster.api_client()
    custom = client.CustomObjectsApi(api)
    ext = client.ApiextensionsV1Api(api)
    custom.create_namespaced_custom_object(
        crd["group"], "v1", namespace, "widgets", _widget(crd["group"], "doomed")
    )
    ext.delete_custom_resource_definition(f"widgets.{crd['group']}")
    wait_for(lambda: absent(lambda: ext.read_custom_resource_definition(f"widgets.{crd['group']}")))
    with pytest.raises(client.ApiException) as err:
        custom.list_namespaced_custom_object(crd["group"], "v1", namespace, "widgets")
    assert err.value.status == 404


def test_crd_with_wrong_name_is_422(kube_cluster):
    ext = client.ApiextensionsV1Api(kube_cluster.api_client())
    body = {
        "metadata": {"name": "wrong.contract.liqo.io"},
        "spec": {
            "group": "contract.liqo.io",
            "scope": "Cluster",
            "names": {"plural": "things", "kind": "Thing"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object"}},
                }
            ],
        },
    }
    with pytest.raises(client.ApiException) as err:
        ext.create_custom_resource_definition(body)
    assert err.value.status == 422
    assert orjson.loads(err.value.body)["details"]["causes"][0]["field"] == "metadata.name"


def test_multiple_versions_share_storage_and_prefer_the_highest(kube_cluster):
    api = kube_cluster.api_client()
    ext = client.ApiextensionsV1Api(api)
    custom = client.CustomObjectsApi(api)
    group = f"m{secrets.token_hex(4)}.contract.liqo.io"
    schema = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
    ext.create_custom_resource_definition(
        {
            "metadata": {"name": f"gizmos.{group}"},
            "spec": {
                "group": group,
                "scope": "Cluster",
                "names": {"plural": "gizmos", "kind": "Gizmo"},
                "versions": [
                    {"name": "v1alpha1", "served": True, "storage": False, "schema": schema},
                    {"name": "v1", "served": True, "storage": True, "schema": schema},
                ],
            },
        }
    )
    try:
        wait_for(lambda: raw(api, "GET", f"/apis/{group}"))
        assert raw(api, "GET", f"/apis/{group}")["preferredVersion"]["version"] == "v1"
        name = f"gz-{secrets.token_hex(3)}"
        body = {"apiVersion": f"{group}/v1alpha1", "kind": "Gizmo", "metadata": {"name": name}}
        custom.create_cluster_custom_object(group, "v1alpha1", "gizmos", body)
        got = custom.get_cluster_custom_object(group, "v1", "gizmos", name)
        assert got["apiVersion"] == f"{group}/v1"
        old = custom.get_cluster_custom_object(group, "v1alpha1", "gizmos", name)
        assert old["apiVersion"] == f"{group}/v1alpha1"
        assert old["metadata"]["uid"] == got["metadata"]["uid"]
    finally:
        ext.delete_custom_resource_definition(f"gizmos.{group}")


def test_cluster_scoped_custom_resource_rejects_namespaced_path(kube_cluster, crd, namespace):
    api = kube_cluster.api_client()
    with pytest.raises(client.ApiException) as err:
        raw(api, "GET", f"/apis/{crd['group']}/v1/widgets/some-name")
    assert err.value.status == 404


def test_unknown_field_warns_by_default_and_fails_when_strict(kube_cluster, crd, namespace):
    custom = client.CustomObjectsApi(kube_cluster.api_client())
    body = _widget(crd["group"], "warned", size=1, bogus=True)
    _data, _status, headers = custom.create_namespaced_custom_object_with_http_info(
        crd["group"], "v1", namespace, "widgets", body
    )
    assert 'unknown field \\"spec.bogus\\"' in headers.get("Warning", "")
    with pytest.raises(client.ApiException) as err:
        custom.create_namespaced_custom_object(
            crd["group"],
            "v1",
            namespace,
            "widgets",
            _widget(crd["group"], "strict", size=1, bogus=True),
            field_validation="Strict",
        )
    assert err.value.status == 400
    assert 'unknown field "spec.bogus"' in status_of(err.value)["message"]


def test_watch_of_custom_resource_ends_when_crd_is_deleted(kube_cluster, crd, namespace):
    import threading
    import time

    api = kube_cluster.api_client()
    custom = client.CustomObjectsApi(api)
    ext = client.ApiextensionsV1Api(api)
    resp = custom.list_namespaced_custom_object(
        crd["group"],
        "v1",
        namespace,
        "widgets",
        watch=True,
        timeout_seconds=60,
        _preload_content=False,
    )
    ended = threading.Event()

    def drain():
        for _chunk in resp.stream():
            pass
        ended.set()

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    started = time.monotonic()
    ext.delete_custom_resource_definition(f"widgets.{crd['group']}")
    assert ended.wait(45), "watch still open 45s after its CRD was deleted"
    assert time.monotonic() - started < 45
