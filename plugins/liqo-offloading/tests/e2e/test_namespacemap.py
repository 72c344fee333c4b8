"""The provider's NamespaceMap controller end to end: a controller-manager with the
offloading module against a cluster, NamespaceMaps written as the replicator writes them
(in the tenant namespace of a consumer, labelled replicated from it).

Namespace deletion is held, where a test needs to see ``Terminating``, by an object with
a finalizer inside the namespace (as any real namespace content can hold it). Everything
is observed through the API, so the test holds on a real cluster too.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from e2e_support import wait_for
from offloading_e2e_support import (
    NO_FINALIZERS,
    ClusterView,
    namespace_map,
    offloading_side,
    tenant_namespace,
)

from liqo_core.testing.clusters import ClusterHandle

pytestmark = pytest.mark.e2e

FINALIZER = "namespacemap-controller.liqo.io/finalizer"
HOLD = "liqo-test/hold"
REMOTE_ROLE = "liqo-virtual-kubelet-remote"


@dataclass
class Provider(ClusterView):
    """A provider cluster with the offloading module running, and a consumer's tenant."""

    consumer: str
    tenant: str

    def map(self, name: str, mapping: dict[str, str]) -> None:
        """Write NamespaceMap ``name`` as the replicator does on the provider."""
        self.apply(namespace_map(name, self.tenant, self.consumer, mapping, replicated=True))

    def nm(self, name: str) -> dict[str, Any] | None:
        return self.get("namespacemap", name, "-n", self.tenant)

    def phases(self, name: str) -> dict[str, tuple[str, str]]:
        """``status.currentMapping`` as local → (remote, phase)."""
        mapping = ((self.nm(name) or {}).get("status") or {}).get("currentMapping") or {}
        return {k: (v["remoteNamespace"], v["phase"]) for k, v in mapping.items()}

    def namespace(self, name: str) -> dict[str, Any] | None:
        return self.get("namespace", name)

    def live_uid(self, name: str) -> str | None:
        """The uid of namespace ``name`` unless it is absent or terminating."""
        meta = (self.namespace(name) or {}).get("metadata") or {}
        return None if not meta or meta.get("deletionTimestamp") else str(meta["uid"])

    def binding(self, namespace: str) -> dict[str, Any] | None:
        return self.get("rolebinding", self.tenant, "-n", namespace)

    def hold(self, namespace: str) -> None:
        """Keep ``namespace`` Terminating once deleted, until :meth:`release`."""
        meta = {"name": "hold", "namespace": namespace, "finalizers": [HOLD]}
        self.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta})

    def release(self, namespace: str) -> None:
        self.patch("configmap", "hold", "-n", namespace, body=NO_FINALIZERS)

    def events(self, name: str, reason: str) -> list[Any]:
        return [e for e in self.side.events(self.tenant, name) if e.reason == reason]


@pytest.fixture
def provider(kube_cluster: ClusterHandle, tmp_path: Path) -> Iterator[Provider]:
    """A controller-manager side with the offloading module (webhooks off) and a consumer's
    tenant namespace; everything removed afterwards (the held namespaces too)."""
    with offloading_side(
        kube_cluster, tmp_path, "provider", webhooks=False, cluster_roles=[REMOTE_ROLE]
    ) as setup:
        provider = Provider(setup.side, setup.suffix, setup.peer, setup.tenant)
        provider.apply(tenant_namespace(setup.peer))
        setup.start()
        yield provider


def test_twins_follow_the_desired_mapping(provider: Provider) -> None:
    p, sfx = provider, provider.suffix
    app, web, taken = f"app-{sfx}", f"web-{sfx}", f"taken-{sfx}"
    name = f"provider-{sfx}"
    p.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": taken}})
    p.map(name, {"app": app, "web": web, "taken": taken})

    wait_for("the twins accepted, the taken name refused", lambda: p.phases(name) == {
        "app": (app, "Accepted"), "web": (web, "Accepted"), "taken": (taken, "CreationLoopBackOff"),
    }, 60)  # fmt: skip
    nm = p.nm(name)
    assert nm is not None and FINALIZER in nm["metadata"]["finalizers"]
    twin = p.namespace(app)
    assert twin is not None
    assert (
        twin["metadata"]["annotations"]["liqo.io/managed-by-namespace-map"] == f"{p.tenant}/{name}"
    )
    assert twin["metadata"]["annotations"]["liqo.io/original-name"] == "app"
    assert twin["metadata"]["labels"]["liqo.io/remote-cluster-id"] == p.consumer
    binding = wait_for("the RoleBinding of the twin", lambda: p.binding(app))
    assert binding["subjects"] == [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": p.consumer}
    ]
    assert binding["roleRef"]["name"] == REMOTE_ROLE
    assert binding["metadata"]["labels"]["liqo.io/remote-cluster-id"] == p.consumer
    # The unmanaged namespace is left alone, and the refusal is told once (with a count).
    assert "liqo.io/managed-by-namespace-map" not in ((p.namespace(taken) or {})["metadata"]
                                                       .get("annotations") or {})  # fmt: skip
    assert p.binding(taken) is None
    [event] = wait_for("a CreationLoopBackOff event", lambda: p.events(name, "CreationLoopBackOff"))
    assert event.type == "Warning"
    assert f"namespace '{taken}' already exists and is not managed by NamespaceMap" in event.message

    # Once the namespace is removed, the twin is created.
    p.cluster.kubectl("delete", "namespace", taken, "--wait=false")
    wait_for("the freed name accepted", lambda: p.phases(name).get("taken") == (taken, "Accepted"),
             90)  # fmt: skip
    assert wait_for("the new twin's RoleBinding", lambda: p.binding(taken))

    # A twin deleted by hand, and a RoleBinding deleted by hand, come back.
    uid = (p.namespace(app) or {})["metadata"]["uid"]
    p.cluster.kubectl("delete", "namespace", app, "--wait=false")
    wait_for("the twin recreated", lambda: p.live_uid(app) not in (None, uid), 90)
    wait_for("its RoleBinding recreated", lambda: p.binding(app))
    p.cluster.kubectl("delete", "rolebinding", p.tenant, "-n", web)
    wait_for("the RoleBinding restored", lambda: p.binding(web))
    assert p.phases(name)["app"] == (app, "Accepted")

    # An entry removed: its twin is deleted (Terminating while it goes), then dropped.
    p.hold(web)
    p.patch("namespacemap", name, "-n", p.tenant, body={"spec": {"desiredMapping": {"web": None}}})
    wait_for("the entry Terminating", lambda: p.phases(name).get("web") == (web, "Terminating"))
    assert (p.namespace(web) or {})["metadata"].get("deletionTimestamp")
    p.release(web)
    wait_for("the entry dropped", lambda: "web" not in p.phases(name), 60)
    wait_for("the twin gone", lambda: p.namespace(web) is None, 60)

    # The map deleted: its twins go, then the finalizer.
    p.cluster.kubectl("delete", "namespacemap", name, "-n", p.tenant, "--wait=false")
    wait_for("the map gone", lambda: p.nm(name) is None, 90)
    for twin_name in (app, taken):
        wait_for(f"{twin_name} gone", lambda n=twin_name: p.namespace(n) is None, 60)


def test_a_restarted_controller_converges(provider: Provider) -> None:
    p, sfx = provider, provider.suffix
    a, b, c = f"a-{sfx}", f"b-{sfx}", f"c-{sfx}"
    name, orphaned = f"provider-{sfx}", f"orphan-{sfx}"
    p.map(name, {"a": a, "b": b})
    p.map(orphaned, {"o": f"o-{sfx}"})
    wait_for("the twins accepted", lambda: p.phases(name) == {
        "a": (a, "Accepted"), "b": (b, "Accepted")} and p.phases(orphaned), 60)  # fmt: skip

    # While the controller is down: an entry removed, one added, a twin deleted by hand,
    # and a map deleted with its finalizer forced off (its twin is left behind).
    uid_b = p.live_uid(b)
    p.side.stop()
    p.patch("namespacemap", name, "-n", p.tenant,
            body={"spec": {"desiredMapping": {"a": None, "c": c}}})  # fmt: skip
    p.cluster.kubectl("delete", "namespace", b, "--wait=false")
    p.patch("namespacemap", orphaned, "-n", p.tenant, body=NO_FINALIZERS)
    p.cluster.kubectl("delete", "namespacemap", orphaned, "-n", p.tenant)
    p.side.start()

    wait_for("the mapping converged", lambda: p.phases(name) == {
        "b": (b, "Accepted"), "c": (c, "Accepted")}, 90)  # fmt: skip
    wait_for("the removed entry's twin gone", lambda: p.namespace(a) is None, 60)
    wait_for("b recreated", lambda: p.live_uid(b) not in (None, uid_b), 60)
    assert (p.namespace(b) or {})["metadata"]["annotations"]["liqo.io/original-name"] == "b"
    assert wait_for("c's RoleBinding", lambda: p.binding(c))
    wait_for("the orphaned twin deleted", lambda: p.namespace(f"o-{sfx}") is None, 60)

    # A deletion interrupted by a restart completes.
    p.hold(c)
    p.cluster.kubectl("delete", "namespacemap", name, "-n", p.tenant, "--wait=false")
    wait_for("c Terminating", lambda: p.phases(name).get("c") == (c, "Terminating"), 60)
    p.side.stop()
    p.release(c)
    p.side.start()
    wait_for("the map gone", lambda: p.nm(name) is None, 90)
    assert p.namespace(b) is None and p.namespace(c) is None
