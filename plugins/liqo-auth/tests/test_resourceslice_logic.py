"""Pure logic of the ResourceSlice controllers: names, decisions, conditions, renewal timing."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from liqo_auth import crypto
from liqo_auth.resourceslice import common
from liqo_auth.resourceslice.local import csr_is_current
from liqo_auth.resourceslice.quota import desired_quota, is_cordoned
from liqo_auth.resourceslice.remote import (
    AuthenticationDenied,
    check_slice_csr,
    reusable_deadline,
)


def test_common_name_is_slice_and_first_six_bytes_of_the_consumer_digest() -> None:
    digest = hashlib.sha256(b"consumer-1").hexdigest()
    assert common.slice_common_name("provider-1", "consumer-1") == f"provider-1-{digest[:12]}"
    assert common.slice_common_name("s", "a") != common.slice_common_name("s", "b")


def test_requested_resources_overlay_the_defaults() -> None:
    defaults = {"cpu": "4", "memory": "8Gi", "pods": "110"}
    granted = common.overlay_resources(defaults, {"cpu": "2", "nvidia.com/gpu": "1"})
    assert granted == {"cpu": "2", "memory": "8Gi", "pods": "110", "nvidia.com/gpu": "1"}
    assert common.overlay_resources(defaults, None) == defaults
    assert defaults == {"cpu": "4", "memory": "8Gi", "pods": "110"}


A, D = "Accepted", "Denied"


@pytest.mark.parametrize(
    ("tenant", "slice_class", "enabled", "current", "expected"),
    [
        ("Active", None, True, None, (A, "ResourcesAccepted")),
        ("Active", "", True, D, (A, "ResourcesAccepted")),
        ("Active", "default", True, A, (A, "ResourcesAccepted")),
        ("Active", None, False, None, (D, "DefaultResourceSliceClassDisabled")),
        ("Active", "default", False, A, (D, "DefaultResourceSliceClassDisabled")),
        ("Active", "gpu", True, None, None),
        ("Active", "gpu", False, None, None),
        ("Cordoned", None, True, None, (D, "TenantCordoned")),
        ("Cordoned", "gpu", True, None, (D, "TenantCordoned")),
        ("Cordoned", None, True, A, None),
        ("Cordoned", None, False, D, None),
        ("Drained", None, True, A, (D, "TenantDrained")),
        ("Drained", "gpu", True, None, (D, "TenantDrained")),
    ],
)
def test_resources_decision_table(
    tenant: str,
    slice_class: str | None,
    enabled: bool,
    current: str | None,
    expected: tuple[str, str] | None,
) -> None:
    decision = common.decide_resources(tenant, slice_class, enabled, current)
    assert (None if decision is None else (decision.status, decision.reason)) == expected


def test_condition_transition_time_is_kept_while_the_status_holds() -> None:
    old = {
        "type": "Resources",
        "status": "Accepted",
        "lastTransitionTime": "2020-01-01T00:00:00Z",
        "reason": "ResourcesAccepted",
        "message": "m",
    }
    auth = {"type": "Authentication", "status": "Accepted", "lastTransitionTime": "x"}
    same = common.with_condition([auth, old], "Resources", "Accepted", "Other", "n")
    assert same[0] == auth
    assert same[1]["lastTransitionTime"] == "2020-01-01T00:00:00Z"
    assert same[1]["reason"] == "Other"
    flipped = common.with_condition([auth, old], "Resources", "Denied", "TenantDrained", "n")
    assert flipped[1]["lastTransitionTime"] != "2020-01-01T00:00:00Z"
    added = common.with_condition([], "Authentication", "Denied", "TenantNotFound", "m")
    assert [c["type"] for c in added] == ["Authentication"]
    assert set(added[0]) == {"type", "status", "lastTransitionTime", "reason", "message"}


def _jwt(claims: dict[str, int]) -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256'})}.{part(claims)}.sig"


def test_credential_window_of_tokens_and_certificates() -> None:
    assert common.credential_window({"token": _jwt({"iat": 10, "exp": 70})}) == (10.0, 70.0)
    assert common.credential_window({"token": _jwt({"nbf": 5, "iat": 10, "exp": 70})}) == (5, 70)
    assert common.credential_window({"token": "opaque"}) is None
    assert common.credential_window({"signedCRT": base64.b64encode(b"junk").decode()}) is None
    assert common.credential_window({}) is None


def _certificate(key: crypto.PrivateKey, start: float, end: float) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "slice")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(datetime.fromtimestamp(start, UTC))
        .not_valid_after(datetime.fromtimestamp(end, UTC))
        .sign(key, None)
    )
    return base64.b64encode(certificate.public_bytes(serialization.Encoding.PEM)).decode()


def test_a_stored_credential_is_reused_until_two_thirds_of_its_lifetime() -> None:
    key, other = crypto.generate_private_key(), crypto.generate_private_key()
    public = key.public_key()
    # Issued at 1000 for 60 s by a signer backdating the start by 5 minutes: due at 1040.
    params = {"signedCRT": _certificate(key, 700, 1060)}
    assert reusable_deadline(params, public, 60, 1001) == pytest.approx(1040)
    assert reusable_deadline(params, public, 60, 1041) is None
    assert reusable_deadline(params, other.public_key(), 60, 1001) is None
    token = {"token": _jwt({"iat": 1000, "exp": 1300})}
    assert reusable_deadline(token, public, None, 1001) == pytest.approx(1200)
    assert reusable_deadline(token, public, None, 1201) is None
    assert reusable_deadline({"token": "opaque"}, public, None, 1001) is None
    assert reusable_deadline(None, public, None, 1001) is None


def test_merge_patch_replacing_nulls_what_is_gone() -> None:
    current = {"clusterID": "p", "namespace": "n", "authParams": {"signedCRT": "c", "ca": "a"}}
    desired = {"clusterID": "p", "authParams": {"token": "t", "ca": "a"}}
    assert common.replacing(current, desired) == {
        "namespace": None,
        "clusterID": "p",
        "authParams": {"signedCRT": None, "token": "t", "ca": "a"},
    }


def test_slice_csr_checks() -> None:
    consumer, cn = "consumer-1", common.slice_common_name("p", "consumer-1")
    key, other = crypto.generate_private_key(), crypto.generate_private_key()
    csr = crypto.make_csr(key, cn, consumer)
    encoded = base64.b64encode(csr).decode()
    assert csr_is_current(encoded, cn, consumer, key)
    assert not csr_is_current(encoded, cn, consumer, other)
    assert not csr_is_current(encoded, "x", consumer, key)
    assert not csr_is_current(None, cn, consumer, key)

    public = base64.b64encode(crypto.public_key_pem(key)).decode()
    tenant = {"clusterID": consumer, "publicKey": public}
    assert crypto.same_public_key(check_slice_csr(csr, cn, consumer, tenant), key.public_key())
    wrong_key = {
        "clusterID": consumer,
        "publicKey": base64.b64encode(crypto.public_key_pem(other)).decode(),
    }
    with pytest.raises(AuthenticationDenied) as denied:
        check_slice_csr(csr, cn, consumer, wrong_key)
    assert denied.value.reason == "CSRVerificationFailed"
    tolerant = {**wrong_key, "authzPolicy": "TolerateNoHandshake"}
    assert crypto.same_public_key(check_slice_csr(csr, cn, consumer, tolerant), key.public_key())
    with pytest.raises(AuthenticationDenied, match="common name"):
        check_slice_csr(crypto.make_csr(key, "other", consumer), cn, consumer, tolerant)
    with pytest.raises(AuthenticationDenied, match="organization"):
        check_slice_csr(crypto.make_csr(key, cn, "liqo.io"), cn, consumer, tenant)


def test_quota_of_a_granted_slice() -> None:
    body = {
        "apiVersion": "authentication.liqo.io/v1beta1",
        "metadata": {
            "name": "p",
            "namespace": "liqo-tenant-c",
            "uid": "u1",
            "annotations": {"liqo.io/cordon-tenant": "true"},
        },
        "status": {"resources": {"cpu": "2"}},
    }
    quota = desired_quota(body, "c", "Hard")
    cn = common.slice_common_name("p", "c")
    assert quota["metadata"]["name"] == cn
    assert quota["spec"] == {
        "user": cn,
        "limitsEnforcement": "Hard",
        "resources": {"cpu": "2"},
        "cordoned": True,
    }
    [owner] = quota["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["uid"], owner["controller"]) == ("ResourceSlice", "u1", True)
    assert not is_cordoned({"metadata": {"annotations": {"liqo.io/cordon": "false"}}})
    assert is_cordoned({"metadata": {"annotations": {"liqo.io/cordon": "true"}}})
