"""ResourceSlice negotiation between a consumer and two providers, end to end.

Three clusters run ``liqo controller-manager`` (authentication module) and are peered
declaratively (consumer C with providers P1 and P2). C asks for resources with
ResourceSlices; the slices are replicated to the providers, authenticated against C's
Tenant and granted by the default class; P keeps a Quota per granted slice and C gets an
Identity and a kubeconfig that authenticates as the slice's user in group C. Tenant
conditions, classes, cordoning, deletion, restarts and credential rotation are exercised.
Everything is observed through the Kubernetes API, so the test holds on real clusters.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from e2e_support import wait_for
from kubernetes import client, config
from liqo_auth import crypto
from liqo_auth.resourceslice.common import slice_common_name
from liqo_sides import Side, running_sides
from peering_support import (
    AUTH_GROUP,
    AUTH_VERSION,
    declarative_handshake,
    get_custom,
    get_object,
    tenant_namespace,
)

from liqo_core.sandbox.apiserver.security.csr import MIN_EXPIRATION_ENV
from liqo_core.testing.clusters import ClusterPool

pytestmark = pytest.mark.e2e

QUOTAS = "offloading.liqo.io/v1beta1"
DEFAULTS = {"cpu": "3", "memory": "6Gi", "pods": "50"}
CLUSTER_LABELS = {"e2e.liqo.io/zone": "lab"}
#: Offloading too: the quotacreator runs only with both modules, as upstream's.
SETTINGS = {
    "modules": ["authentication", "offloading"],
    "authentication": {
        "defaultNodeResources": DEFAULTS,
        "clusterLabels": CLUSTER_LABELS,
        "defaultLimitsEnforcement": "Hard",
    },
}
#: Lifetime of slice credentials in the rotation test; real signers refuse less than 600.
CREDENTIAL_LIFETIME = int(os.environ.get("LIQO_TEST_CREDENTIAL_LIFETIME", "60"))
#: Waits that span a restart, a replicator back-off or a renewal.
LONG = 120.0


@dataclass
class Peers:
    consumer: Side
    providers: list[Side]
    suffix: str


@pytest.fixture(scope="module")
def peers(
    kube_cluster_pool: ClusterPool, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Peers]:
    clusters = kube_cluster_pool.get(3)
    tmp = tmp_path_factory.mktemp("slices")
    prefixes = ["consumer", "provider", "provider2"]
    with running_sides(clusters, prefixes, tmp, extra_settings=SETTINGS) as (suffix, sides):
        consumer, *providers = sides
        for provider in providers:
            declarative_handshake(provider, consumer)
        yield Peers(consumer, providers, suffix)


# --- helpers ---------------------------------------------------------------------------------


def create_slice(
    c: Side, p: Side, name: str, resources: dict[str, str] | None = None, slice_class: str = ""
) -> None:
    """C asks P for resources with slice ``name`` in P's tenant namespace on C."""
    spec: dict[str, Any] = {}
    if resources:
        spec["resources"] = resources
    if slice_class:
        spec["class"] = slice_class
    body = {
        "apiVersion": f"{AUTH_GROUP}/{AUTH_VERSION}",
        "kind": "ResourceSlice",
        "metadata": {
            "name": name,
            "namespace": tenant_namespace(p),
            "labels": {
                "liqo.io/replication": "true",
                "liqo.io/remoteID": p.cluster_id,
                "liqo.io/remote-cluster-id": p.cluster_id,
            },
        },
        "spec": spec,
    }
    manifest = json.dumps(body)
    # C's admission webhook refuses everything while C's controller-manager (re)starts.
    wait_for("C's admission webhook to answer", lambda: _admitted(c, manifest), timeout=LONG)
    c.kubectl("create", "-f", "-", input=manifest)


def _admitted(side: Side, manifest: str) -> bool:
    """Whether a server-side dry run of creating ``manifest`` passes admission."""
    proc = side.cluster.kubectl("create", "--dry-run=server", "-f", "-", input=manifest,
                                check=False)  # fmt: skip
    if proc.returncode == 0:
        return True
    assert "failed calling webhook" in proc.stderr, proc.stderr
    return False


def local_slice(c: Side, p: Side, name: str) -> dict[str, Any] | None:
    return get_object(c, "resourceslices", tenant_namespace(p), name)


def remote_slice(c: Side, p: Side, name: str) -> dict[str, Any] | None:
    return get_object(p, "resourceslices", tenant_namespace(c), name)


def conditions(obj: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in ((obj or {}).get("status") or {}).get("conditions") or []}


def statuses(obj: dict[str, Any] | None) -> dict[str, str]:
    return {kind: c["status"] for kind, c in conditions(obj).items()}


def wait_statuses(c: Side, p: Side, name: str, expected: dict[str, str]) -> dict[str, Any]:
    """C's slice once its (replicated back) conditions are ``expected``."""
    found: dict[str, Any] = wait_for(
        f"slice {name} {expected}",
        lambda: (s := local_slice(c, p, name)) and statuses(s) == expected and s,
        timeout=LONG,
    )
    return found


ACCEPTED = {"Authentication": "Accepted", "Resources": "Accepted"}


def quota(c: Side, p: Side, name: str) -> dict[str, Any] | None:
    cn = slice_common_name(name, c.cluster_id)
    return get_custom(p, QUOTAS, "quotas", tenant_namespace(c), cn)


def identity(c: Side, p: Side, name: str) -> dict[str, Any] | None:
    return get_object(c, "identities", tenant_namespace(p), f"resourceslice-{name}")


def kubeconfig_of(c: Side, p: Side, name: str) -> bytes | None:
    data = c.secret_data(tenant_namespace(p), f"kubeconfig-resourceslice-{name}")
    return None if data is None else data.get("kubeconfig")


def whoami(kubeconfig: bytes, tmp: Path) -> dict[str, Any]:
    """The user the kubeconfig authenticates as (a SelfSubjectReview)."""
    path = tmp / f"whoami-{abs(hash(kubeconfig))}.kubeconfig"
    path.write_bytes(kubeconfig)
    proc = subprocess.run(
        ["kubectl", "--kubeconfig", str(path), "auth", "whoami", "-o", "json"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    user: dict[str, Any] = json.loads(proc.stdout)["status"]["userInfo"]
    return user


def event_reasons(side: Side, namespace: str, name: str) -> dict[str, Any]:
    return {e.reason: e for e in side.events(namespace, name)}


def certificate(obj: dict[str, Any] | None) -> str:
    return str((((obj or {}).get("status") or {}).get("authParams") or {}).get("signedCRT") or "")


def patch_tenant(c: Side, p: Side, condition: str) -> None:
    p.custom.patch_namespaced_custom_object(
        AUTH_GROUP, AUTH_VERSION, tenant_namespace(c), "tenants", c.cluster_id,
        {"spec": {"tenantCondition": condition}},
    )  # fmt: skip


def restart_with(side: Side, authentication: dict[str, Any]) -> None:
    """Restart ``side`` with ``authentication`` settings merged into its settings file."""
    settings = yaml.safe_load(side.config.read_text())
    settings["authentication"] = {**settings.get("authentication", {}), **authentication}
    side.stop()
    side.config.write_text(yaml.safe_dump(settings))
    side.start()


# --- tests -------------------------------------------------------------------------------------


def test_slices_are_authenticated_granted_and_cleaned_up(peers: Peers, tmp_path: Path) -> None:
    c = peers.consumer
    requested = {"cpu": "2", "nvidia.com/gpu": "1"}
    name = f"grant-{peers.suffix}"
    for p in peers.providers:
        create_slice(c, p, name, requested)

    p = peers.providers[0]
    cn = slice_common_name(name, c.cluster_id)
    # C filled in the ids and a CSR for the slice's CN, signed with its own key.
    filled = wait_for(
        "the slice spec", lambda: (s := local_slice(c, p, name)) and s["spec"].get("csr") and s
    )
    assert filled["spec"]["consumerClusterID"] == c.cluster_id
    assert filled["spec"]["providerClusterID"] == p.cluster_id
    csr = base64.b64decode(filled["spec"]["csr"])
    own_key = crypto.load_private_key(c.private_key() or b"")
    assert crypto.check_csr(csr, cn, c.cluster_id, own_key.public_key()) is None

    # Replicated to P, authenticated and granted there; the answer flows back to C.
    for provider in peers.providers:
        done = wait_statuses(c, provider, name, ACCEPTED)
        assert done["status"]["resources"] == {**DEFAULTS, **requested}
        assert done["status"]["nodeLabels"] == CLUSTER_LABELS
        replicated = remote_slice(c, provider, name) or {}
        assert replicated["metadata"]["labels"]["liqo.io/replicated"] == "true"
        assert replicated["metadata"]["labels"]["liqo.io/originID"] == c.cluster_id
        assert statuses(replicated) == ACCEPTED
        reasons = wait_for(
            "the acceptance events",
            lambda provider=provider: (
                (r := event_reasons(provider, tenant_namespace(c), name))
                and {"ResourceSliceAuthenticationAccepted", "ResourceSliceResourcesAccepted"}
                <= set(r)
                and r
            ),
        )
        assert reasons["ResourceSliceResourcesAccepted"].type == "Normal"

    # P: a Quota for the slice's user with the grant, owned by the slice.
    found = wait_for("the Quota", lambda: quota(c, p, name))
    assert found["spec"] == {
        "user": cn,
        "limitsEnforcement": "Hard",
        "resources": {**DEFAULTS, **requested},
        "cordoned": False,
    }
    replicated = remote_slice(c, p, name) or {}
    [owner] = found["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["uid"]) == ("ResourceSlice", replicated["metadata"]["uid"])

    # C: an Identity per slice, and a kubeconfig authenticating as the slice's user in group C.
    for provider in peers.providers:
        ident = wait_for(
            "the slice Identity", lambda provider=provider: identity(c, provider, name)
        )
        assert ident["spec"]["type"] == "ResourceSlice"
        assert ident["spec"]["clusterID"] == provider.cluster_id
        assert ident["spec"]["namespace"] == tenant_namespace(c)
        assert ident["metadata"]["labels"]["liqo.io/resourceslice-name"] == name
        slice_now = local_slice(c, provider, name) or {}
        assert ident["spec"]["authParams"] == slice_now["status"]["authParams"]
        assert [o["kind"] for o in ident["metadata"]["ownerReferences"]] == ["ResourceSlice"]
        kubeconfig = wait_for(
            "the slice kubeconfig", lambda provider=provider: kubeconfig_of(c, provider, name)
        )
        user = whoami(kubeconfig, tmp_path)
        assert user["username"] == cn
        assert c.cluster_id in user.get("groups", [])

    # Each provider holds exactly one replicated slice of this name from C.
    for provider in peers.providers:
        items = provider.custom.list_namespaced_custom_object(
            AUTH_GROUP, AUTH_VERSION, tenant_namespace(c), "resourceslices",
            label_selector=f"liqo.io/originID={c.cluster_id}",
        )["items"]  # fmt: skip
        assert [i["metadata"]["name"] for i in items].count(name) == 1

    # Deleting the slice removes the Quota on P and the Identity and kubeconfig on C.
    for provider in peers.providers:
        c.kubectl("delete", "resourceslice", name, "-n", tenant_namespace(provider), "--wait=false")
    for provider in peers.providers:
        wait_for(
            "everything of the slice gone",
            lambda provider=provider: (
                remote_slice(c, provider, name) is None
                and quota(c, provider, name) is None
                and identity(c, provider, name) is None
                and kubeconfig_of(c, provider, name) is None
                and local_slice(c, provider, name) is None
            ),
            timeout=LONG,
        )


def test_a_slice_of_another_class_is_left_to_its_controller(peers: Peers) -> None:
    c, p = peers.consumer, peers.providers[0]
    name = f"custom-{peers.suffix}"
    create_slice(c, p, name, {"cpu": "1"}, slice_class="gpu-pool")
    done = wait_statuses(c, p, name, {"Authentication": "Accepted"})
    assert "resources" not in done["status"]
    assert quota(c, p, name) is None
    wait_for("the slice Identity", lambda: identity(c, p, name))


def _replicated_slice(name: str, namespace: str, consumer: str, csr: bytes) -> dict[str, Any]:
    """A slice as the replicator would write it on a provider."""
    return {
        "apiVersion": f"{AUTH_GROUP}/{AUTH_VERSION}",
        "kind": "ResourceSlice",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {
                "liqo.io/replicated": "true",
                "liqo.io/originID": consumer,
                "liqo.io/remote-cluster-id": consumer,
            },
        },
        "spec": {"consumerClusterID": consumer, "csr": base64.b64encode(csr).decode()},
    }


def test_forged_slices_are_denied(peers: Peers) -> None:
    c, p = peers.consumer, peers.providers[0]
    # A consumer whose Tenant holds key A, asking with a CSR made with key B.
    intruder = f"intruder-{peers.suffix}"
    intruder_ns = f"liqo-tenant-{intruder}"
    key_a, key_b = crypto.generate_private_key(), crypto.generate_private_key()
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": intruder_ns,
            "labels": {"liqo.io/tenant-namespace": "true", "liqo.io/remote-cluster-id": intruder},
        },
    }
    tenant = {
        "apiVersion": f"{AUTH_GROUP}/{AUTH_VERSION}",
        "kind": "Tenant",
        "metadata": {"name": intruder, "namespace": intruder_ns},
        "spec": {
            "clusterID": intruder,
            "publicKey": base64.b64encode(crypto.public_key_pem(key_a)).decode(),
        },
    }
    p.kubectl("apply", "-f", "-", input=yaml.safe_dump_all([namespace, tenant]))
    stolen = f"stolen-{peers.suffix}"
    csr = crypto.make_csr(key_b, slice_common_name(stolen, intruder), intruder)
    # C's own key and subject, but outside C's tenant namespace.
    forged_ns, astray = f"forged-{peers.suffix}", f"astray-{peers.suffix}"
    p.kubectl("create", "namespace", forged_ns)
    own_key = crypto.load_private_key(c.private_key() or b"")
    own_csr = crypto.make_csr(own_key, slice_common_name(astray, c.cluster_id), c.cluster_id)
    cases = [
        (_replicated_slice(stolen, intruder_ns, intruder, csr), "CSRVerificationFailed"),
        (_replicated_slice(astray, forged_ns, c.cluster_id, own_csr), "NotInTenantNamespace"),
    ]
    for body, _ in cases:
        p.kubectl("create", "-f", "-", input=json.dumps(body))
    for body, reason in cases:
        name, ns = body["metadata"]["name"], body["metadata"]["namespace"]
        denied = wait_for(
            f"slice {name} denied",
            lambda name=name, ns=ns: (
                (s := get_object(p, "resourceslices", ns, name))
                and statuses(s) == {"Authentication": "Denied", "Resources": "Denied"}
                and s
            ),
        )
        assert conditions(denied)["Authentication"]["reason"] == reason
        assert "authParams" not in denied["status"]
        events = wait_for(
            "the denial event",
            lambda name=name, ns=ns: [
                e for e in p.events(ns, name) if e.reason == "ResourceSliceAuthenticationDenied"
            ],
        )
        assert events[0].type == "Warning"
        owner = body["metadata"]["labels"]["liqo.io/originID"]
        assert get_custom(p, QUOTAS, "quotas", ns, slice_common_name(name, owner)) is None


def test_a_disabled_default_class_denies_resources(peers: Peers) -> None:
    c, p = peers.consumer, peers.providers[0]
    name, granted = f"nodefault-{peers.suffix}", f"granted-{peers.suffix}"
    create_slice(c, p, granted)
    wait_statuses(c, p, granted, ACCEPTED)
    wait_for("the Quota of the granted slice", lambda: quota(c, p, granted))
    restart_with(p, {"defaultResourceSliceClassEnabled": False})
    try:
        # Already granted: its resources are withdrawn, and its Quota with them.
        wait_statuses(c, p, granted, {"Authentication": "Accepted", "Resources": "Denied"})
        wait_for("the Quota withdrawn", lambda: quota(c, p, granted) is None)
        create_slice(c, p, name)
        denied = wait_statuses(c, p, name, {"Authentication": "Accepted", "Resources": "Denied"})
        reason = conditions(denied)["Resources"]["reason"]
        assert reason == "DefaultResourceSliceClassDisabled"
        assert "resources" not in denied["status"]
        events = wait_for(
            "the denial event",
            lambda: (
                (r := event_reasons(p, tenant_namespace(c), name)).get(
                    "ResourceSliceResourcesDenied"
                )
                and r
            ),
        )
        event = events["ResourceSliceResourcesDenied"]
        assert event.type == "Warning"
        assert "DefaultResourceSliceClassDisabled" in event.message
        assert quota(c, p, name) is None
    finally:
        restart_with(p, {"defaultResourceSliceClassEnabled": True})
    for slice_name in (name, granted):
        wait_statuses(c, p, slice_name, ACCEPTED)
        wait_for("the Quota once granted", lambda slice_name=slice_name: quota(c, p, slice_name))


def test_cordoning(peers: Peers) -> None:
    c, p = peers.consumer, peers.providers[0]
    before, after = f"early-{peers.suffix}", f"late-{peers.suffix}"
    create_slice(c, p, before)
    wait_statuses(c, p, before, ACCEPTED)
    granted = wait_for("the Quota", lambda: quota(c, p, before))

    # A cordon annotation on the provider's copy cordons its Quota.
    p.custom.patch_namespaced_custom_object(
        AUTH_GROUP, AUTH_VERSION, tenant_namespace(c), "resourceslices", before,
        {"metadata": {"annotations": {"liqo.io/cordon": "true"}}},
    )  # fmt: skip
    wait_for(
        "the Quota cordoned", lambda: (quota(c, p, before) or {})["spec"].get("cordoned") is True
    )

    # A cordoned tenant: new slices are denied, granted ones are kept.
    patch_tenant(c, p, "Cordoned")
    try:
        create_slice(c, p, after)
        denied = wait_statuses(c, p, after, {"Authentication": "Accepted", "Resources": "Denied"})
        assert conditions(denied)["Resources"]["reason"] == "TenantCordoned"
        kept = local_slice(c, p, before) or {}
        assert statuses(kept) == ACCEPTED
        assert (quota(c, p, before) or {})["spec"]["resources"] == granted["spec"]["resources"]
        assert quota(c, p, after) is None
    finally:
        patch_tenant(c, p, "Active")
    wait_statuses(c, p, after, ACCEPTED)


def _as_control_plane(c: Side, p: Side) -> Any:
    """A client authenticated as C's control plane on P (C's ControlPlane kubeconfig)."""
    data = c.secret_data(tenant_namespace(p), f"kubeconfig-controlplane-{p.cluster_id}") or {}
    return config.new_client_from_config_dict(yaml.safe_load(data["kubeconfig"]))


def _refusal(call: Any) -> tuple[int, str]:
    with pytest.raises(client.ApiException) as refused:
        call()
    body = json.loads(refused.value.body or "{}")
    return int(refused.value.status), str(body.get("message"))


def test_the_consumer_cannot_touch_the_providers_cordon(peers: Peers) -> None:
    c, p = peers.consumer, peers.providers[0]
    name = f"held-{peers.suffix}"
    create_slice(c, p, name, {"cpu": "1"})
    wait_statuses(c, p, name, ACCEPTED)
    wait_for("the Quota", lambda: quota(c, p, name))
    namespace = tenant_namespace(c)
    p.custom.patch_namespaced_custom_object(
        AUTH_GROUP, AUTH_VERSION, namespace, "resourceslices", name,
        {"metadata": {"annotations": {"liqo.io/cordon": "true"}}},
    )  # fmt: skip
    wait_for(
        "the Quota cordoned", lambda: (quota(c, p, name) or {})["spec"].get("cordoned") is True
    )

    # With the consumer's own control-plane credentials: every change of a cordon is refused.
    api = _as_control_plane(c, p)
    try:
        custom = client.CustomObjectsApi(api)
        for annotations in (
            {"liqo.io/cordon": None},
            {"liqo.io/cordon": "false"},
            {"liqo.io/cordon-tenant": "true"},
        ):
            body = {"metadata": {"annotations": annotations}}
            status, message = _refusal(
                lambda body=body: custom.patch_namespaced_custom_object(
                    AUTH_GROUP, AUTH_VERSION, namespace, "resourceslices", name, body
                )
            )
            key = next(iter(annotations))
            assert status == 403, message
            assert f"metadata.annotations[{key}]" in message
            assert "control-plane identity may not add, change or remove it" in message
        # What the control plane may do on the slice still goes through (labels, here).
        custom.patch_namespaced_custom_object(
            AUTH_GROUP, AUTH_VERSION, namespace, "resourceslices", name,
            {"metadata": {"labels": {"e2e.liqo.io/touched": "yes"}}},
        )  # fmt: skip
    finally:
        api.close()

    # The consumer's replicator keeps replicating spec changes without stripping the cordon.
    c.custom.patch_namespaced_custom_object(
        AUTH_GROUP, AUTH_VERSION, tenant_namespace(p), "resourceslices", name,
        {"spec": {"resources": {"cpu": "2"}}},
    )  # fmt: skip
    copy = wait_for(
        "the new request replicated",
        lambda: (
            (s := remote_slice(c, p, name)) and s["spec"].get("resources") == {"cpu": "2"} and s
        ),
        timeout=LONG,
    )
    assert copy["metadata"]["annotations"]["liqo.io/cordon"] == "true"
    assert (quota(c, p, name) or {})["spec"]["cordoned"] is True
    c.kubectl("delete", "resourceslice", name, "-n", tenant_namespace(p), "--wait=false")


def test_slice_identity_rules_are_enforced(peers: Peers) -> None:
    c, p = peers.consumer, peers.providers[0]
    name = f"ids-{peers.suffix}"
    create_slice(c, p, name)
    filled = wait_for(
        "the slice's ids", lambda: (s := local_slice(c, p, name)) and s["spec"].get("csr") and s
    )
    namespace = tenant_namespace(p)

    def patch(body: dict[str, Any]) -> Any:
        return c.custom.patch_namespaced_custom_object(
            AUTH_GROUP, AUTH_VERSION, namespace, "resourceslices", name, body
        )

    status, message = _refusal(
        lambda: patch({"metadata": {"labels": {"liqo.io/remote-cluster-id": "someone-else"}}})
    )
    assert status == 422 and "metadata.labels[liqo.io/remote-cluster-id]: is immutable" in message
    status, message = _refusal(lambda: patch({"spec": {"consumerClusterID": "someone-else"}}))
    assert status == 422 and "spec.consumerClusterID: is immutable once set" in message
    assert (local_slice(c, p, name) or {})["spec"] == filled["spec"]

    # Another namespace asking the same provider under the same name.
    twin_ns = f"twin-{peers.suffix}"
    c.kubectl("create", "namespace", twin_ns)
    twin = {
        "apiVersion": f"{AUTH_GROUP}/{AUTH_VERSION}", "kind": "ResourceSlice",
        "metadata": {"name": name, "namespace": twin_ns,
                     "labels": {"liqo.io/remote-cluster-id": p.cluster_id}},
        "spec": {},
    }  # fmt: skip
    status, message = _refusal(
        lambda: c.custom.create_namespaced_custom_object(
            AUTH_GROUP, AUTH_VERSION, twin_ns, "resourceslices", twin
        )
    )
    assert status == 422
    assert f"ResourceSlice {namespace}/{name} already asks cluster {p.cluster_id}" in message
    c.kubectl("delete", "namespace", twin_ns, "--wait=false")
    c.kubectl("delete", "resourceslice", name, "-n", namespace, "--wait=false")


def test_a_drained_tenant_loses_every_slice(peers: Peers) -> None:
    c, p = peers.consumer, peers.providers[1]
    name = f"drain-{peers.suffix}"
    create_slice(c, p, name)
    wait_statuses(c, p, name, ACCEPTED)
    wait_for("the slice kubeconfig", lambda: kubeconfig_of(c, p, name))
    wait_for("the Quota", lambda: quota(c, p, name))

    patch_tenant(c, p, "Drained")
    try:
        denied = wait_statuses(c, p, name, {"Authentication": "Denied", "Resources": "Denied"})
        assert conditions(denied)["Authentication"]["reason"] == "TenantDrained"
        wait_for(
            "the Identity, kubeconfig and Quota gone",
            lambda: (
                identity(c, p, name) is None
                and kubeconfig_of(c, p, name) is None
                and quota(c, p, name) is None
            ),
        )
    finally:
        patch_tenant(c, p, "Active")
    # Active again: the replicator gets its rights back and the slice is granted anew.
    wait_statuses(c, p, name, ACCEPTED)
    wait_for("the slice kubeconfig again", lambda: kubeconfig_of(c, p, name), timeout=LONG)


def test_killed_controllers_neither_re_sign_nor_duplicate(peers: Peers) -> None:
    c, p = peers.consumer, peers.providers[0]
    name, probe = f"steady-{peers.suffix}", f"probe-{peers.suffix}"
    create_slice(c, p, name)
    wait_statuses(c, p, name, ACCEPTED)
    first = certificate(remote_slice(c, p, name))
    assert first
    wait_for("the slice kubeconfig", lambda: kubeconfig_of(c, p, name))
    wait_for("the Quota", lambda: quota(c, p, name))
    csrs = client.CertificatesV1Api(p.api)
    selector = f"liqo.io/remote-cluster-id={c.cluster_id}"

    for side in (p, c):
        assert side.process is not None
        side.process.kill()  # SIGKILL: no clean shutdown
        side.process.wait(10)
        side.start()
    # The restarted controllers went through every slice once a new one is handled.
    create_slice(c, p, probe)
    wait_statuses(c, p, probe, ACCEPTED)
    wait_for("the probe's kubeconfig", lambda: kubeconfig_of(c, p, probe))

    assert certificate(remote_slice(c, p, name)) == first
    assert certificate(local_slice(c, p, name)) == first
    assert csrs.list_certificate_signing_request(label_selector=selector).items == []
    quotas = p.custom.list_namespaced_custom_object(
        "offloading.liqo.io", "v1beta1", tenant_namespace(c), "quotas",
        label_selector=f"liqo.io/resourceslice-name={name}",
    )["items"]  # fmt: skip
    assert len(quotas) == 1
    identities = c.custom.list_namespaced_custom_object(
        AUTH_GROUP, AUTH_VERSION, tenant_namespace(p), "identities",
        label_selector=f"liqo.io/resourceslice-name={name}",
    )["items"]  # fmt: skip
    assert len(identities) == 1
    accepted = [
        e for e in p.events(tenant_namespace(c), name)
        if e.reason == "ResourceSliceAuthenticationAccepted"
    ]  # fmt: skip
    assert len(accepted) == 1
    assert (accepted[0].count or 1) == 1


# --- rotation ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def short_lived(
    kube_cluster_pool: ClusterPool, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Peers]:
    """A consumer and a provider issuing credentials for :data:`CREDENTIAL_LIFETIME` seconds
    (emulated API servers accepting such short CSRs)."""
    env = {MIN_EXPIRATION_ENV: str(CREDENTIAL_LIFETIME)}
    clusters = kube_cluster_pool.get_with_env(2, env)
    tmp = tmp_path_factory.mktemp("rotation")
    auth = {**SETTINGS["authentication"], "credentialLifetime": CREDENTIAL_LIFETIME}
    settings = {**SETTINGS, "authentication": auth}
    prefixes = ["consumer", "provider"]
    with running_sides(clusters, prefixes, tmp, extra_settings=settings) as (suffix, sides):
        consumer, provider = sides
        declarative_handshake(provider, consumer)
        yield Peers(consumer, [provider], suffix)


@pytest.mark.timeout(CREDENTIAL_LIFETIME * 3 + 300)
def test_slice_credentials_are_rotated(short_lived: Peers, tmp_path: Path) -> None:
    c, p = short_lived.consumer, short_lived.providers[0]
    name = f"rotate-{short_lived.suffix}"
    create_slice(c, p, name)
    wait_statuses(c, p, name, ACCEPTED)
    first = certificate(local_slice(c, p, name))
    old = crypto.certificate_validity(base64.b64decode(first))
    assert old is not None

    renewed = wait_for(
        "a renewed slice certificate",
        lambda: (crt := certificate(local_slice(c, p, name))) != first and crt,
        timeout=CREDENTIAL_LIFETIME * 2 + 30,
    )
    new = crypto.certificate_validity(base64.b64decode(renewed))
    assert new is not None
    assert crypto.same_public_key(new.public_key, old.public_key)
    # Renewed at 2/3 of the lifetime, not straight away.
    assert new.not_after - old.not_after >= CREDENTIAL_LIFETIME * 2 / 3 - 5

    wait_for(
        "the Identity updated",
        lambda: (
            ((identity(c, p, name) or {}).get("spec") or {}).get("authParams", {}).get("signedCRT")
            == renewed
        ),
    )
    kubeconfig = wait_for(
        "the kubeconfig rewritten",
        lambda: (k := kubeconfig_of(c, p, name)) and renewed.encode() in k and k,
    )
    assert whoami(kubeconfig, tmp_path)["username"] == slice_common_name(name, c.cluster_id)
