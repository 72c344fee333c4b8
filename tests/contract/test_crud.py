"""Create/get/update/delete and object metadata, as kube-apiserver does them."""

from __future__ import annotations

import pytest
from contract_helpers import status_of
from kubernetes import client

pytestmark = pytest.mark.contract


@pytest.fixture
def core(kube_cluster):
    return client.CoreV1Api(kube_cluster.api_client())


def _cm(name, **data):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def test_create_fills_server_metadata(core, namespace):
    cm = core.create_namespaced_config_map(namespace, _cm("meta", a="1"))
    assert cm.metadata.uid
    assert int(cm.metadata.resource_version) > 0
    assert cm.metadata.creation_timestamp is not None
    assert cm.metadata.namespace == namespace


def test_generate_name_appends_random_suffix(core, namespace):
    body = {"metadata": {"generateName": "gen-"}, "data": {}}
    cm = core.create_namespaced_config_map(namespace, body)
    assert cm.metadata.name.startswith("gen-")
    assert len(cm.metadata.name) == len("gen-") + 5


def test_resource_version_changes_on_every_write(core, namespace):
    cm = core.create_namespaced_config_map(namespace, _cm("rv", a="1"))
    cm.data = {"a": "2"}
    updated = core.replace_namespaced_config_map("rv", namespace, cm)
    assert updated.metadata.resource_version != cm.metadata.resource_version
    assert updated.metadata.uid == cm.metadata.uid


def test_get_missing_object_is_404_not_found(core, namespace):
    with pytest.raises(client.ApiException) as err:
        core.read_namespaced_config_map("nope", namespace)
    status = status_of(err.value)
    assert err.value.status == 404
    assert status["kind"] == "Status"
    assert status["reason"] == "NotFound"
    assert status["details"] == {"name": "nope", "kind": "configmaps"}
    assert status["message"] == 'configmaps "nope" not found'


def test_create_existing_name_is_409_already_exists(core, namespace):
    core.create_namespaced_config_map(namespace, _cm("dup"))
    with pytest.raises(client.ApiException) as err:
        core.create_namespaced_config_map(namespace, _cm("dup"))
    assert err.value.status == 409
    assert status_of(err.value)["reason"] == "AlreadyExists"


def test_update_with_stale_resource_version_is_409_conflict(core, namespace):
    cm = core.create_namespaced_config_map(namespace, _cm("stale", a="1"))
    first = core.read_namespaced_config_map("stale", namespace)
    first.data = {"a": "2"}
    core.replace_namespaced_config_map("stale", namespace, first)
    cm.data = {"a": "3"}
    with pytest.raises(client.ApiException) as err:
        core.replace_namespaced_config_map("stale", namespace, cm)
    assert err.value.status == 409
    assert status_of(err.value)["reason"] == "Conflict"


def test_create_in_missing_namespace_is_404(core):
    with pytest.raises(client.ApiException) as err:
        core.create_namespaced_config_map("no-such-namespace-x1", _cm("x"))
    assert err.value.status == 404
    assert status_of(err.value)["details"]["kind"] == "namespaces"


def test_invalid_name_is_422_invalid_naming_the_field(core, namespace):
    with pytest.raises(client.ApiException) as err:
        core.create_namespaced_config_map(namespace, _cm("Not_Valid"))
    status = status_of(err.value)
    assert err.value.status == 422
    assert status["reason"] == "Invalid"
    assert status["details"]["causes"][0]["field"] == "metadata.name"


def test_missing_name_is_422(core, namespace):
    with pytest.raises(client.ApiException) as err:
        core.create_namespaced_config_map(namespace, {"metadata": {}})
    assert err.value.status == 422


def test_configmaps_have_no_generation(core, namespace):
    cm = core.create_namespaced_config_map(namespace, _cm("nogen", a="1"))
    assert cm.metadata.generation is None


def test_generation_bumps_on_spec_change_only(kube_cluster, namespace):
    apps = client.AppsV1Api(kube_cluster.api_client())
    dep = {
        "metadata": {"name": "gen", "labels": {"app": "gen"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "gen"}},
            "template": {
                "metadata": {"labels": {"app": "gen"}},
                "spec": {"containers": [{"name": "c", "image": "busybox:1"}]},
            },
        },
    }
    created = apps.create_namespaced_deployment(namespace, dep)
    assert created.metadata.generation == 1
    labelled = apps.patch_namespaced_deployment(
        "gen", namespace, {"metadata": {"labels": {"x": "y"}}}
    )
    assert labelled.metadata.generation == 1
    scaled = apps.patch_namespaced_deployment("gen", namespace, {"spec": {"replicas": 3}})
    assert scaled.metadata.generation == 2


def test_no_op_update_keeps_resource_version(core, namespace):
    cm = core.create_namespaced_config_map(namespace, _cm("noop", a="1"))
    again = core.replace_namespaced_config_map("noop", namespace, cm)
    assert again.metadata.resource_version == cm.metadata.resource_version


def test_delete_then_get_is_404(core, namespace):
    core.create_namespaced_config_map(namespace, _cm("gone"))
    core.delete_namespaced_config_map("gone", namespace)
    with pytest.raises(client.ApiException) as err:
        core.read_namespaced_config_map("gone", namespace)
    assert err.value.status == 404


def test_delete_with_wrong_uid_precondition_is_409(core, namespace):
    core.create_namespaced_config_map(namespace, _cm("pre"))
    opts = client.V1DeleteOptions(preconditions=client.V1Preconditions(uid="not-the-uid"))
    with pytest.raises(client.ApiException) as err:
        core.delete_namespaced_config_map("pre", namespace, body=opts)
    assert err.value.status == 409


def test_namespace_gets_metadata_name_label_and_active_phase(core, namespace):
    ns = core.read_namespace(namespace)
    assert ns.metadata.labels["kubernetes.io/metadata.name"] == namespace
    assert ns.status.phase == "Active"
    assert ns.spec.finalizers == ["kubernetes"]


def test_service_gets_cluster_ip(core, namespace):
    svc = {
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
    }
    created = core.create_namespaced_service(namespace, svc)
    assert created.spec.cluster_ip
    assert created.spec.type == "ClusterIP"
    assert created.spec.ports[0].target_port == 80


def test_create_with_resource_version_is_400(core, namespace):
    body = _cm("withrv")
    body["metadata"]["resourceVersion"] = "12345"
    with pytest.raises(client.ApiException) as err:
        core.create_namespaced_config_map(namespace, body)
    assert err.value.status == 400


def test_immutable_configmap_refuses_data_changes(core, namespace):
    body = _cm("frozen", a="1")
    body["immutable"] = True
    core.create_namespaced_config_map(namespace, body)
    with pytest.raises(client.ApiException) as err:
        core.patch_namespaced_config_map("frozen", namespace, {"data": {"a": "2"}})
    assert err.value.status == 422
    assert status_of(err.value)["reason"] == "Invalid"


def test_scale_subresource_reads_and_sets_replicas(kube_cluster, namespace):
    apps = client.AppsV1Api(kube_cluster.api_client())
    dep = {
        "metadata": {"name": "scaled"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "s"}},
            "template": {
                "metadata": {"labels": {"app": "s"}},
                "spec": {"containers": [{"name": "c", "image": "busybox:1"}]},
            },
        },
    }
    apps.create_namespaced_deployment(namespace, dep)
    current = apps.read_namespaced_deployment_scale("scaled", namespace)
    assert current.spec.replicas == 1
    apps.patch_namespaced_deployment_scale("scaled", namespace, {"spec": {"replicas": 4}})
    assert apps.read_namespaced_deployment("scaled", namespace).spec.replicas == 4
    out = kube_cluster.kubectl("scale", "deployment/scaled", "-n", namespace, "--replicas=2")
    assert "scaled" in out.stdout
    assert apps.read_namespaced_deployment("scaled", namespace).spec.replicas == 2
