"""Control-plane credential rotation end to end: Tenant renewal and the Renew channel.

The provider issues control-plane certificates for :data:`LIFETIME` seconds (60 on
emulated API servers, ``LIQO_TEST_CREDENTIAL_LIFETIME`` on real ones, which refuse less
than 600). Its Tenant controller re-signs the consumer's CSR once a certificate has passed
2/3 of its lifetime; the new one travels back through the replicated ``Renew`` into the
consumer's Identity and kubeconfig Secret. Meanwhile the consumer samples its kubeconfig
Secret about every second and lists ResourceSlices in its tenant namespace with it: every
one of those checks must succeed with the certificate the Secret holds at that moment.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml
from e2e_support import wait_for
from kubernetes import client
from liqo_auth import crypto
from liqo_sides import Side, running_sides
from peering_support import (
    Handshake,
    control_plane_secret,
    declarative_handshake,
    get_object,
)
from replication_support import SLICES, create_replicated, list_as, replicated_names

from liqo_core.sandbox.apiserver.security.csr import MIN_EXPIRATION_ENV
from liqo_core.testing.clusters import ClusterPool

LIFETIME = int(os.environ.get("LIQO_TEST_CREDENTIAL_LIFETIME", "60"))
#: Rotations the test watches.
ROTATIONS = 3
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(LIFETIME * (ROTATIONS + 2) + 300)]
#: Slack on timings observed by sampling (and on clocks of real clusters).
SLACK = max(8.0, LIFETIME * 0.05)


@dataclass
class Rotation:
    provider: Side
    consumer: Side
    handshake: Handshake
    suffix: str


@pytest.fixture(scope="module")
def rotation(
    kube_cluster_pool: ClusterPool, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Rotation]:
    clusters = kube_cluster_pool.get_with_env(2, {MIN_EXPIRATION_ENV: str(LIFETIME)})
    tmp = tmp_path_factory.mktemp("rotation")
    settings = {"authentication": {"credentialLifetime": LIFETIME}}
    with running_sides(clusters, ["provider", "consumer"], tmp, extra_settings=settings) as (
        suffix,
        (provider, consumer),
    ):
        yield Rotation(provider, consumer, declarative_handshake(provider, consumer), suffix)


def _kubeconfig_certificate(kubeconfig: bytes) -> bytes:
    config = yaml.safe_load(kubeconfig)
    return base64.b64decode(config["users"][0]["user"]["client-certificate-data"])


def _validity(certificate: bytes) -> crypto.CertificateValidity:
    validity = crypto.certificate_validity(certificate)
    assert validity is not None
    return validity


@dataclass
class Samples:
    """When each certificate was first seen where, and every check of the kubeconfig."""

    stored: dict[bytes, float] = field(default_factory=dict)
    identity: dict[bytes, float] = field(default_factory=dict)
    kubeconfig: dict[bytes, float] = field(default_factory=dict)
    #: (time, certificate of the Secret, HTTP status of the allowed request)
    checks: list[tuple[float, bytes, int]] = field(default_factory=list)


def _sample(r: Rotation, samples: Samples) -> None:
    p, c, h = r.provider, r.consumer, r.handshake
    now = time.time()
    stored = (p.secret_data(h.provider_namespace, "liqo-remote-certificate") or {})["certificate"]
    samples.stored.setdefault(stored, now)
    identity = get_object(c, "identities", h.consumer_namespace, h.identity["metadata"]["name"])
    signed = base64.b64decode((identity or {})["spec"]["authParams"]["signedCRT"])
    samples.identity.setdefault(signed, now)
    kubeconfig = (c.secret_data(h.consumer_namespace, control_plane_secret(p)) or {})["kubeconfig"]
    certificate = _kubeconfig_certificate(kubeconfig)
    samples.kubeconfig.setdefault(certificate, now)
    samples.checks.append((now, certificate, list_as(kubeconfig, h.provider_namespace)))


def test_control_plane_certificates_rotate_and_the_kubeconfig_keeps_working(
    rotation: Rotation,
) -> None:
    r = rotation
    p, c, h = r.provider, r.consumer, r.handshake
    tenant_ns, consumer_ns = h.provider_namespace, h.consumer_namespace
    first = base64.b64decode(h.identity["spec"]["authParams"]["signedCRT"])
    samples = Samples()

    def rotated() -> bool:
        _sample(r, samples)
        return len([crt for crt in samples.kubeconfig if crt != first]) >= ROTATIONS

    wait_for(
        f"{ROTATIONS} rotations reaching the consumer's kubeconfig",
        rotated,
        timeout=LIFETIME * (ROTATIONS + 1) + 60,
        interval=1.0,
    )

    # Every check used the Secret's kubeconfig of that moment, whose certificate was valid.
    failures = [(t, status) for t, _, status in samples.checks if status != 200]
    assert not failures, f"requests with the current kubeconfig failed: {failures}"
    for t, certificate, _ in samples.checks:
        assert _validity(certificate).not_after > t, "the consumer held an expired certificate"

    # Each renewed certificate: same key, ~LIFETIME long, issued at 2/3 of the previous one.
    public = crypto.load_public_key(base64.b64decode(h.tenant["spec"]["publicKey"]))
    chain = sorted(samples.stored.items(), key=lambda item: item[1])
    if chain[0][0] != first:
        chain.insert(0, (first, 0.0))
    assert len(chain) >= ROTATIONS + 1, [t for _, t in chain]
    for (previous, _), (certificate, seen) in itertools.pairwise(chain):
        old, new = _validity(previous), _validity(certificate)
        assert crypto.same_public_key(new.public_key, public)
        assert LIFETIME - SLACK <= new.not_after - seen <= LIFETIME + 2
        due = old.not_after - LIFETIME / 3
        assert due - 2 <= seen <= due + SLACK, (seen - old.not_after, LIFETIME)
        # It reached the Identity and the kubeconfig before the previous one expired.
        if certificate in samples.kubeconfig:
            assert samples.identity[certificate] <= samples.kubeconfig[certificate]
            assert samples.kubeconfig[certificate] < old.not_after
    renewed_in_kubeconfig = [crt for crt, _ in chain[1:] if crt in samples.kubeconfig]
    assert len(renewed_in_kubeconfig) >= ROTATIONS

    events = [e for e in p.events(tenant_ns, c.cluster_id) if e.reason == "CertificateRenewed"]
    assert sum(e.count or 1 for e in events) >= ROTATIONS

    # The channel: C's permanent Renew and its answered copy on P.
    renew_name = h.identity["metadata"]["name"]
    local = get_object(c, "renews", consumer_ns, renew_name) or {}
    labels = local["metadata"]["labels"]
    assert labels["liqo.io/replication"] == "true"
    assert labels["liqo.io/remoteID"] == p.cluster_id
    assert labels["liqo.io/remote-cluster-id"] == p.cluster_id
    assert local["spec"]["identityType"] == "ControlPlane"
    assert local["spec"]["consumerClusterID"] == c.cluster_id
    wait_for(
        "the replicated Renew answered with the Tenant's credentials",
        lambda: (
            ((get_object(p, "renews", tenant_ns, renew_name) or {}).get("status") or {}).get(
                "authParams"
            )
            == ((p.tenant(tenant_ns, c.cluster_id) or {}).get("status") or {}).get("authParams")
        ),
        timeout=SLACK * 2,
    )

    # Replication still works over the rotated kubeconfig.
    name = f"after-rotation-{r.suffix}"
    create_replicated(c, p, SLICES, name, {})
    wait_for(
        "the new ResourceSlice replicated to the provider",
        lambda: name in replicated_names(p, c, SLICES),
        timeout=60,
    )


def test_a_provider_restarted_past_the_renewal_time_renews_at_once(rotation: Rotation) -> None:
    p, c, h = rotation.provider, rotation.consumer, rotation.handshake

    def stored() -> bytes:
        data = p.secret_data(h.provider_namespace, "liqo-remote-certificate") or {}
        return data["certificate"]

    def in_kubeconfig() -> bytes:
        data = c.secret_data(h.consumer_namespace, control_plane_secret(p)) or {}
        return _kubeconfig_certificate(data["kubeconfig"])

    before = stored()
    old = _validity(before)
    due = old.not_after - LIFETIME / 3
    p.stop()
    wait_for(
        "the renewal time to pass while the provider is down",
        lambda: time.time() > due + 1,
        timeout=LIFETIME,
        interval=0.5,
    )
    assert stored() == before
    p.start()  # the time comes from the stored certificate: renewed straight away
    renewed = wait_for(
        "the overdue certificate renewed", lambda: (crt := stored()) != before and crt
    )
    assert time.time() < old.not_after
    wait_for(
        "the renewed certificate in the consumer's kubeconfig",
        lambda: in_kubeconfig() == renewed,
        timeout=max(1.0, old.not_after - time.time()),
    )


def test_deleting_the_identity_deletes_its_renew(rotation: Rotation) -> None:
    r = rotation
    c, h = r.consumer, r.handshake
    name, namespace = h.identity["metadata"]["name"], h.consumer_namespace
    # The Renew is created by the consumer's controller after the Identity: wait for it
    # (this test may be the first of its module to run).
    wait_for(
        "the Renew of the ControlPlane Identity",
        lambda: get_object(c, "renews", namespace, name),
        timeout=60,
    )
    # A finalizer of the test's own holds the Identity while it is being deleted: garbage
    # collection leaves the dependents of an owner that still exists alone, so only the
    # controller reacting to the deletion can remove the Renew meanwhile.
    hold = {"metadata": {"finalizers": [*_finalizers(c, namespace, name), HOLD]}}
    c.custom.patch_namespaced_custom_object(
        "authentication.liqo.io", "v1beta1", namespace, "identities", name, hold
    )
    try:
        c.kubectl("delete", "identity", name, "-n", namespace, "--wait=false",
                  "--cascade=background")  # fmt: skip
        wait_for(
            "the Renew deleted as soon as its Identity is being deleted",
            lambda: get_object(c, "renews", namespace, name) is None,
            timeout=30,
        )
        held = get_object(c, "identities", namespace, name) or {}
        assert held["metadata"].get("deletionTimestamp"), "the Identity is still being deleted"
        renews: Any = c.custom.list_namespaced_custom_object(
            "authentication.liqo.io", "v1beta1", namespace, "renews"
        )
        assert [item["metadata"]["name"] for item in renews["items"]] == []
    finally:
        left = [f for f in _finalizers(c, namespace, name) if f != HOLD]
        with contextlib.suppress(client.ApiException):
            c.custom.patch_namespaced_custom_object(
                "authentication.liqo.io", "v1beta1", namespace, "identities", name,
                {"metadata": {"finalizers": left}},
            )  # fmt: skip
    wait_for("the Identity gone", lambda: get_object(c, "identities", namespace, name) is None)


#: A finalizer no controller knows: the test removes it itself.
HOLD = "e2e.liqo.io/hold"


def _finalizers(side: Side, namespace: str, name: str) -> list[str]:
    found = get_object(side, "identities", namespace, name) or {}
    return list(found.get("metadata", {}).get("finalizers") or [])
