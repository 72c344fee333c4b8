"""Events are one resource served in two groups (core v1 and events.k8s.io/v1)."""

from __future__ import annotations

import datetime as dt

import pytest
from kubernetes import client

pytestmark = pytest.mark.contract


def test_core_event_is_visible_through_events_k8s_io(kube_cluster, namespace):
    api = kube_cluster.api_client()
    core = client.CoreV1Api(api)
    events = client.EventsV1Api(api)
    core.create_namespaced_event(
        namespace,
        {
            "metadata": {"name": "core-ev"},
            "involvedObject": {"kind": "ConfigMap", "name": "x", "namespace": namespace},
            "reason": "Tested",
            "message": "from core",
            "type": "Normal",
            "source": {"component": "contract"},
            "eventTime": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000000Z"),
            "reportingComponent": "contract",
            "reportingInstance": "contract-1",
        },
    )
    seen = events.read_namespaced_event("core-ev", namespace)
    assert seen.note == "from core"
    assert seen.regarding.name == "x"
    assert seen.reason == "Tested"


def test_events_k8s_io_event_is_visible_through_core(kube_cluster, namespace):
    api = kube_cluster.api_client()
    core = client.CoreV1Api(api)
    events = client.EventsV1Api(api)
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    events.create_namespaced_event(
        namespace,
        {
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {"name": "new-ev"},
            "eventTime": now,
            "reportingController": "example.com/contract",
            "reportingInstance": "contract-1",
            "action": "Testing",
            "reason": "Tested",
            "note": "from events.k8s.io",
            "type": "Normal",
            "regarding": {"kind": "ConfigMap", "name": "y", "namespace": namespace},
        },
    )
    seen = core.read_namespaced_event("new-ev", namespace)
    assert seen.message == "from events.k8s.io"
    assert seen.involved_object.name == "y"
    listed = events.list_namespaced_event(namespace)
    assert "new-ev" in [e.metadata.name for e in listed.items]
