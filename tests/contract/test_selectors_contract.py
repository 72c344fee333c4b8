"""Label and field selector grammar on list, as kube-apiserver parses and applies it."""

from __future__ import annotations

import pytest
from contract_helpers import UNSERVED_SCHEDULER, status_of, wait_for
from kubernetes import client

pytestmark = pytest.mark.contract


@pytest.fixture
def core(kube_cluster):
    return client.CoreV1Api(kube_cluster.api_client())


@pytest.fixture
def labelled(core, namespace):
    objects = {
        "a": {"tier": "web", "env": "prod", "example.com/team": "blue"},
        "b": {"tier": "db", "env": "prod"},
        "c": {"tier": "web", "env": "dev"},
        "d": {"tier": "cache"},
        "e": {},
    }
    for name, labels in objects.items():
        body = {"metadata": {"name": name, "labels": labels}, "data": {"k": name}}
        core.create_namespaced_config_map(namespace, body)
    return namespace


#: The objects the ``labelled`` fixture creates. A real cluster adds its own to every
#: namespace (kube-root-ca.crt), which negative selectors rightly match too.
OWN = frozenset("abcde")


def _names(core, ns, **kw):
    items = core.list_namespaced_config_map(ns, **kw).items
    return sorted(i.metadata.name for i in items if i.metadata.name in OWN)


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("tier==web", ["a", "c"]),
        ("tier = web", ["a", "c"]),
        ("tier!=web", ["b", "d", "e"]),
        ("tier notin (web,db)", ["d", "e"]),
        ("tier in (web, cache)", ["a", "c", "d"]),
        ("env", ["a", "b", "c"]),
        ("!env", ["d", "e"]),
        ("env,tier notin (db)", ["a", "c"]),
        ("example.com/team=blue", ["a"]),
        ("env in (prod),!example.com/team", ["b"]),
    ],
)
def test_label_selector_grammar(core, labelled, selector, expected):
    assert _names(core, labelled, label_selector=selector) == expected


@pytest.mark.parametrize("selector", ["tier in ()", "tier=web,", "tier=-bad", "a b", "x=(y)"])
def test_invalid_label_selector_is_400_bad_request(core, namespace, selector):
    with pytest.raises(client.ApiException) as err:
        core.list_namespaced_config_map(namespace, label_selector=selector)
    assert err.value.status == 400
    assert status_of(err.value)["reason"] == "BadRequest"


def test_field_selector_inequality_and_conjunction(core, labelled):
    assert _names(core, labelled, field_selector="metadata.name!=a") == ["b", "c", "d", "e"]
    both = _names(
        core, labelled, field_selector="metadata.name!=a,metadata.name!=b", label_selector="env"
    )
    assert both == ["c"]
    assert _names(core, labelled, field_selector="metadata.name==d") == ["d"]


def test_field_selector_on_namespace_across_namespaces(core, labelled):
    found = core.list_config_map_for_all_namespaces(
        field_selector=f"metadata.namespace={labelled}", label_selector="tier"
    )
    assert sorted(i.metadata.name for i in found.items) == ["a", "b", "c", "d"]


def test_pod_field_selectors_on_phase_and_unset_node(core, namespace):
    wait_for(lambda: core.read_namespaced_service_account("default", namespace))
    for name, node in (("bound", "node-x"), ("pending", None)):
        spec = {
            "containers": [{"name": "c", "image": "busybox:1.36"}],
            # Stays unbound (and Pending) on clusters that run a scheduler too.
            "schedulerName": UNSERVED_SCHEDULER,
        }
        if node:
            spec["nodeName"] = node
        core.create_namespaced_pod(namespace, {"metadata": {"name": name}, "spec": spec})

    def names(selector):
        pods = core.list_namespaced_pod(namespace, field_selector=selector).items
        return sorted(p.metadata.name for p in pods)

    assert names("spec.nodeName=") == ["pending"]
    assert names("spec.nodeName!=") == ["bound"]
    assert names("status.phase=Pending") == ["bound", "pending"]
    assert names("status.phase=Running") == []
