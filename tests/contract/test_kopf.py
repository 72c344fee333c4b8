"""A tiny kopf operator (own registry, standalone) reacting to custom resources."""

from __future__ import annotations

import asyncio
import base64
import secrets
import threading

import kopf
import pytest
import yaml
from contract_helpers import absent, wait_for
from kubernetes import client

pytestmark = pytest.mark.contract


def _connection(kubeconfig_path):
    config = yaml.safe_load(kubeconfig_path.read_text())
    ctx_name = config.get("current-context") or config["contexts"][0]["name"]
    ctx = next(c["context"] for c in config["contexts"] if c["name"] == ctx_name)
    cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == ctx["cluster"])
    user = next(u["user"] for u in config["users"] if u["name"] == ctx["user"])

    def data(mapping, key):
        value = mapping.get(key)
        return base64.b64decode(value) if value else None

    return kopf.ConnectionInfo(
        server=cluster["server"],
        ca_data=data(cluster, "certificate-authority-data"),
        insecure=cluster.get("insecure-skip-tls-verify"),
        certificate_data=data(user, "client-certificate-data"),
        private_key_data=data(user, "client-key-data"),
        token=user.get("token"),
    )


@pytest.fixture
def widgets(kube_cluster):
    ext = client.ApiextensionsV1Api(kube_cluster.api_client())
    group = f"k{secrets.token_hex(4)}.contract.liqo.io"
    ext.create_custom_resource_definition(
        {
            "metadata": {"name": f"gadgets.{group}"},
            "spec": {
                "group": group,
                "scope": "Namespaced",
                "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": True,
                        "schema": {
                            "openAPIV3Schema": {
                                "type": "object",
                                "x-kubernetes-preserve-unknown-fields": True,
                            }
                        },
                        "subresources": {"status": {}},
                    }
                ],
            },
        }
    )
    wait_for(
        lambda: any(
            c.type == "Established" and c.status == "True"
            for c in ext.read_custom_resource_definition(f"gadgets.{group}").status.conditions or []
        )
    )
    yield group
    ext.delete_custom_resource_definition(f"gadgets.{group}")


@pytest.fixture
def operator(kube_cluster, widgets, namespace):
    registry = kopf.OperatorRegistry()
    connection = _connection(kube_cluster.kubeconfig)
    core = client.CoreV1Api(kube_cluster.api_client())

    @kopf.on.login(registry=registry)
    def login(**_):
        return connection

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_):
        settings.posting.enabled = False
        settings.watching.server_timeout = 30

    def _body(name, spec):
        return {
            "metadata": {"name": f"{name}-out"},
            "data": {"colour": str(spec.get("colour", ""))},
        }

    @kopf.on.create(widgets, "v1", "gadgets", registry=registry)
    def created(name, namespace, spec, **_):
        core.create_namespaced_config_map(namespace, _body(name, spec))
        return {"made": f"{name}-out"}

    @kopf.on.update(widgets, "v1", "gadgets", registry=registry)
    def updated(name, namespace, spec, **_):
        core.replace_namespaced_config_map(f"{name}-out", namespace, _body(name, spec))

    @kopf.on.delete(widgets, "v1", "gadgets", registry=registry)
    def deleted(name, namespace, **_):
        core.delete_namespaced_config_map(f"{name}-out", namespace)

    stop = threading.Event()
    ready = threading.Event()

    def run():
        asyncio.run(
            kopf.operator(
                registry=registry,
                standalone=True,
                namespaces=[namespace],
                stop_flag=stop,
                ready_flag=ready,
            )
        )

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(30), "kopf operator did not become ready"
    yield
    stop.set()
    thread.join(30)


def test_kopf_operator_handles_create_update_delete(kube_cluster, widgets, namespace, operator):
    api = kube_cluster.api_client()
    custom = client.CustomObjectsApi(api)
    core = client.CoreV1Api(api)
    body = {
        "apiVersion": f"{widgets}/v1",
        "kind": "Gadget",
        "metadata": {"name": "g1"},
        "spec": {"colour": "red"},
    }
    custom.create_namespaced_custom_object(widgets, "v1", namespace, "gadgets", body)
    cm = wait_for(lambda: core.read_namespaced_config_map("g1-out", namespace))
    assert cm.data == {"colour": "red"}

    def status_recorded():
        obj = custom.get_namespaced_custom_object(widgets, "v1", namespace, "gadgets", "g1")
        return {"made": "g1-out"} in (obj.get("status") or {}).values()

    wait_for(status_recorded)
    custom.patch_namespaced_custom_object(
        widgets, "v1", namespace, "gadgets", "g1", {"spec": {"colour": "blue"}}
    )
    wait_for(
        lambda: core.read_namespaced_config_map("g1-out", namespace).data == {"colour": "blue"}
    )
    custom.delete_namespaced_custom_object(widgets, "v1", namespace, "gadgets", "g1")
    wait_for(lambda: absent(lambda: core.read_namespaced_config_map("g1-out", namespace)))
    wait_for(
        lambda: absent(
            lambda: custom.get_namespaced_custom_object(widgets, "v1", namespace, "gadgets", "g1")
        )
    )
