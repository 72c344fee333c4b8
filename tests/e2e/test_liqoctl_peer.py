"""``liqoctl peer`` / ``unpeer`` between two clusters, end to end (networking disabled).

Each cluster runs ``liqo controller-manager`` (authentication module only) with the
chart's RBAC; ``liqoctl`` runs with the clusters' admin kubeconfigs. ``peer`` performs the
handshake and obtains an accepted ResourceSlice whose kubeconfig authenticates on the
provider; a second ``peer`` changes nothing; the provider's reservation commands change
the Tenant and the slice; a plain ``unpeer`` leaves only the tenant namespaces (and says
it kept them); ``unpeer --delete-namespaces`` then returns both clusters to exactly the
objects they had before. With the authentication module alone, a granted slice gets no
Quota (the quotacreator belongs to authentication and offloading together). A refused
handshake makes ``peer`` time out with the reason.
"""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from e2e_support import wait_for
from kubernetes import client, config
from liqo_sides import Side, running_sides

from liqo_core.testing.clusters import ClusterPool

pytestmark = pytest.mark.e2e

#: Kinds left out of the before/after comparison, and why:
#: - Events (core and events.k8s.io) are a history of what happened, not state: peering
#:   necessarily records some (NonceGenerated, CertificateIssued, ...);
#: - Leases are heartbeats (node and leader-election renewals) that change on their own.
#: Nothing else is excluded. Objects Kubernetes adds to every namespace (ConfigMap
#: kube-root-ca.crt, ServiceAccount default) need no exclusion: they go with the tenant
#: namespaces.
IGNORED_KINDS = {
    "events",
    "events.events.k8s.io",
    "leases.coordination.k8s.io",
}
#: API groups whose objects must also be unmodified (same resourceVersion), wherever they
#: are: Liqo's own kinds and RBAC, which the handshake writes. The sides' Liqo and tenant
#: namespaces, and the objects in them, are compared that way too. Elsewhere only presence
#: and identity (uid) are compared: on a real cluster, controllers unrelated to Liqo keep
#: updating their objects (Node status, EndpointSlices) while the test runs.
VERSIONED_GROUPS = ("liqo.io", "rbac.authorization.k8s.io")


@dataclass
class Peering:
    provider: Side
    consumer: Side
    suffix: str

    def peer(self, *extra: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.consumer.liqoctl("peer", *self.remote, "--networking-disabled", *extra,
                                     check=check)  # fmt: skip

    def unpeer(self, *extra: str) -> subprocess.CompletedProcess[str]:
        return self.consumer.liqoctl("unpeer", *self.remote, *extra)

    @property
    def remote(self) -> list[str]:
        kubeconfig = str(self.provider.cluster.kubeconfig)
        return ["--remote-kubeconfig", kubeconfig, "--remote-namespace", self.provider.namespace]


@pytest.fixture(scope="module")
def peering(
    kube_cluster_pool: ClusterPool, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Peering]:
    clusters = kube_cluster_pool.get(2)
    tmp = tmp_path_factory.mktemp("peer")
    only_auth = {"modules": ["authentication"]}  # networking and offloading disabled
    with running_sides(clusters, ["provider", "consumer"], tmp, extra_settings=only_auth) as (
        suffix,
        (provider, consumer),
    ):
        yield Peering(provider, consumer, suffix)


def _listable_kinds(side: Side) -> list[str]:
    names = side.kubectl("api-resources", "--verbs=list", "-o", "name").split()
    return sorted(name for name in names if name not in IGNORED_KINDS)


def snapshot(side: Side, liqo_namespaces: set[str]) -> dict[tuple[str, str, str], str]:
    """Every object of every listable kind (discovery): (kind, namespace, name) → uid, plus
    the resourceVersion where Liqo writes (:data:`VERSIONED_GROUPS`, ``liqo_namespaces``)."""
    listed = json.loads(side.kubectl("get", ",".join(_listable_kinds(side)), "-A", "-o", "json"))
    found: dict[tuple[str, str, str], str] = {}
    for item in listed["items"]:
        meta = item["metadata"]
        group = item["apiVersion"].rpartition("/")[0]
        namespace = meta.get("namespace", "")
        versioned = (
            group.endswith(VERSIONED_GROUPS)
            or namespace in liqo_namespaces
            or (item["kind"] == "Namespace" and meta["name"] in liqo_namespaces)
        )
        version = f"@{meta['resourceVersion']}" if versioned else ""
        found[(f"{item['apiVersion']}/{item['kind']}", namespace, meta["name"])] = (
            meta["uid"] + version
        )
    return found


def _differences(
    before: dict[tuple[str, str, str], str], after: dict[tuple[str, str, str], str]
) -> list[str]:
    return sorted(
        [f"added {key}" for key in after.keys() - before.keys()]
        + [f"removed {key}" for key in before.keys() - after.keys()]
        + [f"changed {key}" for key in before.keys() & after.keys() if before[key] != after[key]]
    )


def _slice(side: Side, namespace: str, name: str) -> dict[str, Any] | None:
    try:
        found: Any = side.custom.get_namespaced_custom_object(
            "authentication.liqo.io", "v1beta1", namespace, "resourceslices", name
        )
    except Exception as exc:
        if getattr(exc, "status", None) == 404:
            return None
        raise
    return dict(found)


def _conditions(obj: dict[str, Any] | None) -> dict[str, str]:
    return {
        c["type"]: c["status"] for c in ((obj or {}).get("status") or {}).get("conditions") or []
    }


def _can(kubeconfig: Path, verb: str, group: str, resource: str, namespace: str = "") -> bool:
    """SelfSubjectAccessReview as the kubeconfig's user (fails if it cannot authenticate)."""
    api = config.new_client_from_config(config_file=str(kubeconfig))
    try:
        review: Any = client.AuthorizationV1Api(api).create_self_subject_access_review(
            {"spec": {"resourceAttributes": {
                "verb": verb, "group": group, "resource": resource, "namespace": namespace}}}
        )  # fmt: skip
    finally:
        api.close()
    return bool(review.status.allowed)


def test_peer_then_unpeer_leaves_both_clusters_as_before(peering: Peering, tmp_path: Path) -> None:
    p, c = peering.provider, peering.consumer
    consumer_ns, provider_ns = f"liqo-tenant-{p.cluster_id}", f"liqo-tenant-{c.cluster_id}"
    liqo_namespaces = {p.namespace, c.namespace, consumer_ns, provider_ns}
    before = {side.cluster_id: snapshot(side, liqo_namespaces) for side in (p, c)}

    done = peering.peer("--cpu", "2", "--memory", "4Gi", "--timeout", "60")
    assert "authentication: done" in done.stdout
    assert "resource-slice: done" in done.stdout

    # The consumer's slice is named after the provider, in its tenant namespace, accepted.
    requested = _slice(c, consumer_ns, p.cluster_id) or {}
    labels = requested["metadata"]["labels"]
    assert labels["liqo.io/replication"] == "true"
    assert labels["liqo.io/remoteID"] == labels["liqo.io/remote-cluster-id"] == p.cluster_id
    assert requested["metadata"]["annotations"]["liqo.io/create-virtual-node"] == "true"
    assert requested["spec"]["resources"] == {"cpu": "2", "memory": "4Gi"}
    assert _conditions(requested) == {"Authentication": "Accepted", "Resources": "Accepted"}
    tenant = p.tenant(provider_ns, c.cluster_id) or {}
    assert tenant["status"]["authParams"]["signedCRT"]

    # The slice's kubeconfig authenticates on the provider as a member of the consumer's group.
    kubeconfig = tmp_path / "slice.kubeconfig"
    fetched = wait_for(
        "the slice's kubeconfig",
        lambda: (
            (got := c.liqoctl(
                "get", "kubeconfig", "--remote-cluster-id", p.cluster_id,
                "--identity-type", "ResourceSlice", "--resource-slice-name", p.cluster_id,
                check=False,
            )).returncode == 0 and got.stdout
        ),
    )  # fmt: skip
    kubeconfig.write_text(fetched)
    assert _can(
        kubeconfig, "get", "metrics.liqo.io", "scrape"
    )  # virtual-kubelet-remote-clusterwide
    assert not _can(kubeconfig, "list", "", "secrets", provider_ns)

    # The ControlPlane kubeconfig reaches the consumer's tenant namespace on the provider.
    control_plane = tmp_path / "controlplane.kubeconfig"
    control_plane.write_text(
        c.liqoctl("get", "kubeconfig", "--remote-cluster-id", p.cluster_id).stdout
    )
    assert _can(control_plane, "create", "authentication.liqo.io", "resourceslices", provider_ns)
    assert not _can(control_plane, "list", "", "secrets", provider_ns)

    # Running peer again changes nothing and waits for no controller (a 1s budget is plenty).
    objects = {side.cluster_id: snapshot(side, liqo_namespaces) for side in (p, c)}
    peering.peer("--cpu", "2", "--memory", "4Gi", "--timeout", "1")
    for side in (p, c):
        assert _differences(objects[side.cluster_id], snapshot(side, liqo_namespaces)) == []

    # The authentication module alone runs no quotacreator: the granted slice has no Quota.
    quotas: Any = p.custom.list_namespaced_custom_object(
        "offloading.liqo.io", "v1beta1", provider_ns, "quotas"
    )
    assert quotas["items"] == []

    _provider_reservations(peering, provider_ns)

    # A second slice, without a VirtualNode; unpeer removes it too.
    extra = c.liqoctl("create", "resourceslice", "extra", "--remote-cluster-id", p.cluster_id,
                      "--cpu", "1", "--no-virtual-node", "--timeout", "60")  # fmt: skip
    assert extra.stdout == f"ResourceSlice {consumer_ns}/extra accepted by {p.cluster_id}.\n"
    second = _slice(c, consumer_ns, "extra") or {}
    assert "liqo.io/create-virtual-node" not in (second["metadata"].get("annotations") or {})

    # A plain unpeer: nothing of the peering is left but the (empty) tenant namespaces.
    kept = peering.unpeer("--timeout", "60")
    assert "resource-slice: removed" in kept.stdout
    assert "authentication: removed" in kept.stdout
    assert "tenant-namespaces: kept (use --delete-namespaces to remove them)" in kept.stdout
    assert "tenant-namespaces: removed" not in kept.stdout
    tenant_ns = {p.cluster_id: provider_ns, c.cluster_id: consumer_ns}
    for side in (p, c):
        after = snapshot(side, liqo_namespaces)
        left = _differences(before[side.cluster_id], after)
        expected = sorted(
            f"added {key}" for key in _namespace_itself(after, tenant_ns[side.cluster_id])
        )
        assert left == expected, side.cluster_id

    # unpeer, namespaces included: both clusters hold exactly what they held before.
    removed = peering.unpeer("--delete-namespaces", "--timeout", "60")
    assert "tenant-namespaces: removed" in removed.stdout
    for side in (p, c):
        after = snapshot(side, liqo_namespaces)
        assert _differences(before[side.cluster_id], after) == [], side.cluster_id


def _namespace_itself(
    objects: dict[tuple[str, str, str], str], namespace: str
) -> list[tuple[str, str, str]]:
    """The keys of ``namespace`` and of what Kubernetes puts in every namespace (ConfigMap
    ``kube-root-ca.crt``, ServiceAccount ``default``), among ``objects``."""
    itself = {
        ("v1/Namespace", "", namespace),
        ("v1/ConfigMap", namespace, "kube-root-ca.crt"),
        ("v1/ServiceAccount", namespace, "default"),
    }
    return [key for key in objects if key in itself]


def _provider_reservations(peering: Peering, provider_ns: str) -> None:
    """cordon/drain/activate tenant and cordon/uncordon resourceslice, on the provider."""
    p, c = peering.provider, peering.consumer

    def condition() -> str:
        return str((p.tenant(provider_ns, c.cluster_id) or {})["spec"].get("tenantCondition"))

    for command, expected in (("cordon", "Cordoned"), ("uncordon", "Active"),
                              ("drain", "Drained")):  # fmt: skip
        result = p.liqoctl(command, "tenant", c.cluster_id)
        assert result.stdout.strip() == f"Tenant {c.cluster_id}: {expected}."
        assert condition() == expected

    # Drained: the provider denies the slice; peer now times out saying so.
    consumer_ns = f"liqo-tenant-{p.cluster_id}"
    wait_for(
        "the slice denied",
        lambda: _conditions(_slice(c, consumer_ns, p.cluster_id)).get("Resources") == "Denied",
    )
    failed = peering.peer("--timeout", "2", check=False)
    assert failed.returncode == 1
    assert failed.stderr.startswith("Error: step 'resource-slice': timed out after 2s"), failed
    assert "Resources Denied, TenantDrained" in failed.stderr
    p.liqoctl("activate", "tenant", c.cluster_id)
    assert condition() == "Active"
    wait_for(
        "the slice accepted again",
        lambda: _conditions(_slice(c, consumer_ns, p.cluster_id)).get("Resources") == "Accepted",
    )

    replica = p.cluster_id  # the provider's copy of the slice, in the consumer's tenant ns
    p.liqoctl("cordon", "resourceslice", replica)
    annotations = (_slice(p, provider_ns, replica) or {})["metadata"].get("annotations") or {}
    assert annotations.get("liqo.io/cordon") == "true"
    p.liqoctl("uncordon", "resourceslice", replica)
    annotations = (_slice(p, provider_ns, replica) or {})["metadata"].get("annotations") or {}
    assert "liqo.io/cordon" not in annotations

    missing = p.liqoctl("cordon", "tenant", "nobody", check=False)
    assert missing.returncode == 1
    assert missing.stderr == "Error: no Tenant for cluster nobody\n"


def test_a_refused_handshake_times_out_with_the_reason(peering: Peering) -> None:
    p, c = peering.provider, peering.consumer
    # A stale signature of the provider's nonce on the consumer: the signer keeps it, the
    # Tenant carries it, the provider refuses it.
    nonce = p.liqoctl("create", "nonce", "--remote-cluster-id", c.cluster_id).stdout.strip()
    namespace = f"liqo-tenant-{p.cluster_id}"
    c.core.create_namespace(
        {"metadata": {"name": namespace, "labels": {
            "liqo.io/tenant-namespace": "true", "liqo.io/remote-cluster-id": p.cluster_id}}}
    )  # fmt: skip
    c.core.create_namespaced_secret(namespace, {
        "metadata": {"name": "liqo-signed-nonce", "labels": {
            "liqo.io/signed-nonce": "true", "liqo.io/remote-cluster-id": p.cluster_id}},
        "data": {"nonce": base64.b64encode(nonce.encode()).decode(),
                 "signedNonce": base64.b64encode(secrets.token_bytes(64)).decode()},
    })  # fmt: skip
    try:
        failed = peering.peer("--timeout", "5", check=False)
        assert failed.returncode == 1
        assert failed.stderr.count("\n") == 1, failed.stderr
        assert failed.stderr.startswith("Error: step 'authentication': timed out after 5s")
        assert "HandshakeVerified=False, SignatureVerificationFailed" in failed.stderr
    finally:
        peering.unpeer("--delete-namespaces", "--timeout", "60")
    assert p.tenant(f"liqo-tenant-{c.cluster_id}", c.cluster_id) is None


def test_authenticate_then_unauthenticate(peering: Peering) -> None:
    p, c = peering.provider, peering.consumer
    provider_ns, consumer_ns = f"liqo-tenant-{c.cluster_id}", f"liqo-tenant-{p.cluster_id}"
    secret = f"kubeconfig-controlplane-{p.cluster_id}"
    try:
        done = c.liqoctl("authenticate", *peering.remote, "--timeout", "60")
        assert done.stdout.splitlines() == [
            "tenant-namespaces: done", "authentication: done",
            f"Authenticated with provider {p.cluster_id}.",
        ]  # fmt: skip
        tenant = p.tenant(provider_ns, c.cluster_id) or {}
        assert tenant["status"]["authParams"]["signedCRT"]
        assert (c.secret_data(consumer_ns, secret) or {}).get("kubeconfig")

        gone = c.liqoctl("unauthenticate", *peering.remote, "--timeout", "60")
        assert gone.stdout.splitlines() == [
            "authentication: removed",
            f"Unauthenticated from provider {p.cluster_id}.",
        ]
        assert p.tenant(provider_ns, c.cluster_id) is None
        assert c.secret_data(consumer_ns, secret) is None
        identities = c.custom.list_namespaced_custom_object(
            "authentication.liqo.io", "v1beta1", consumer_ns, "identities"
        )
        assert identities["items"] == []
    finally:
        peering.unpeer("--delete-namespaces", "--timeout", "60")
