"""Credential rotation: renewal time, renewal timers, and the Renew channel's pure rules."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import NameOID
from liqo_auth import crypto
from liqo_auth.renew import (
    SIGNER_BACKDATE,
    RenewalTimers,
    adoptable_auth_params,
    desired_renew,
    renewal_time,
)

T0 = 1_800_000_000.0


def test_a_backdated_short_certificate_is_renewed_at_two_thirds_of_the_asked_lifetime() -> None:
    # Kubernetes: start 5 minutes in the past, end not backdated for short certificates.
    issued = T0
    assert renewal_time(issued - SIGNER_BACKDATE, issued + 60, 60) == pytest.approx(issued + 40)


def test_without_an_asked_lifetime_the_signer_backdate_is_discounted() -> None:
    start, end = T0 - SIGNER_BACKDATE, T0 + 3600
    assert renewal_time(start, end) == pytest.approx(T0 + 2400)


def test_a_signer_ignoring_the_asked_lifetime_does_not_postpone_renewal_to_the_end() -> None:
    year = 365 * 86400.0
    at = renewal_time(T0 - SIGNER_BACKDATE, T0 + year, 60)
    assert at == pytest.approx(T0 + year * 2 / 3, rel=1e-6)


def test_short_certificates_without_backdate_renew_at_two_thirds() -> None:
    assert renewal_time(T0, T0 + 90) == pytest.approx(T0 + 60)


async def test_timers_fire_once_and_a_new_schedule_replaces_the_pending_one() -> None:
    timers = RenewalTimers()
    fired: list[str] = []
    done = asyncio.Event()

    async def wake(tag: str) -> None:
        fired.append(tag)
        done.set()

    timers.schedule("ns/t", time.time() + 30, lambda: wake("late"))
    assert timers.due("ns/t")
    timers.schedule("ns/t", time.time(), lambda: wake("now"))
    await asyncio.wait_for(done.wait(), 5)
    assert fired == ["now"]
    assert not timers.due("ns/t")


async def test_a_wake_up_may_schedule_the_next_one_without_cancelling_itself() -> None:
    timers = RenewalTimers()
    rounds: list[int] = []
    finished = asyncio.Event()

    async def wake() -> None:
        async with timers.lock("k"):
            rounds.append(len(rounds))
            if len(rounds) < 3:
                timers.schedule("k", time.time(), wake)
            else:
                finished.set()

    timers.schedule("k", time.time(), wake)
    await asyncio.wait_for(finished.wait(), 5)
    assert rounds == [0, 1, 2]


async def test_cancelled_timers_never_fire() -> None:
    timers = RenewalTimers()
    fired: list[str] = []

    async def wake() -> None:
        fired.append("x")

    timers.schedule("a", time.time() + 0.05, wake)
    timers.schedule("b", time.time() + 0.05, wake)
    timers.cancel("a")
    timers.cancel_all()
    assert not timers.due("a") and not timers.due("b")
    assert fired == []


def _certificate(key: ed25519.Ed25519PrivateKey, start: float, end: float) -> str:
    issuer = ed25519.Ed25519PrivateKey.generate()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "consumer")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(dt.datetime.fromtimestamp(start, dt.UTC))
        .not_valid_after(dt.datetime.fromtimestamp(end, dt.UTC))
        .sign(issuer, None)
    )
    return base64.b64encode(cert.public_bytes(serialization.Encoding.PEM)).decode()


def test_only_newer_certificates_for_our_key_are_adopted() -> None:
    ours = ed25519.Ed25519PrivateKey.generate()
    public = crypto.load_public_key(crypto.public_key_pem(ours))
    current = {"ca": "Y2E=", "apiServer": "https://p", "signedCRT": _certificate(ours, T0, T0 + 60)}
    newer = {**current, "signedCRT": _certificate(ours, T0 + 40, T0 + 100)}
    older = {**current, "signedCRT": _certificate(ours, T0 - 40, T0 + 20)}
    foreign = {
        **current,
        "signedCRT": _certificate(ed25519.Ed25519PrivateKey.generate(), T0, T0 + 99),
    }
    assert adoptable_auth_params(newer, current, public)
    assert adoptable_auth_params(newer, None, public)
    assert not adoptable_auth_params(current, current, public)
    assert not adoptable_auth_params({**current, "proxyURL": "http://x"}, current, public)
    assert not adoptable_auth_params(older, current, public)
    assert not adoptable_auth_params(foreign, current, public)
    assert not adoptable_auth_params(None, current, public)
    assert not adoptable_auth_params({**current, "signedCRT": ""}, current, public)


def test_new_tokens_are_adopted() -> None:
    public = crypto.load_public_key(crypto.public_key_pem(ed25519.Ed25519PrivateKey.generate()))
    current = {"apiServer": "https://p", "token": "t1"}
    assert adoptable_auth_params({**current, "token": "t2"}, current, public)
    assert not adoptable_auth_params(dict(current), current, public)
    assert not adoptable_auth_params({"apiServer": "https://p"}, current, public)


def test_the_renew_of_an_identity_is_replicated_to_its_provider_and_owned_by_it() -> None:
    key = crypto.generate_private_key()
    csr = crypto.make_csr(key, "consumer-1", crypto.CONTROL_PLANE_ORGANIZATION)
    identity = {
        "metadata": {"name": "controlplane-p", "namespace": "liqo-tenant-p", "uid": "u-1"},
        "spec": {"clusterID": "p", "type": "ControlPlane"},
    }
    renew = desired_renew(identity, "consumer-1", crypto.public_key_pem(key), csr)
    assert renew["metadata"]["name"] == "controlplane-p"
    assert renew["metadata"]["namespace"] == "liqo-tenant-p"
    assert renew["metadata"]["labels"] == {
        "liqo.io/replication": "true",
        "liqo.io/remoteID": "p",
        "liqo.io/remote-cluster-id": "p",
    }
    [owner] = renew["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"]) == ("Identity", "controlplane-p", "u-1")
    spec = renew["spec"]
    assert spec["consumerClusterID"] == "consumer-1"
    assert spec["identityType"] == "ControlPlane"
    assert base64.b64decode(spec["csr"]) == csr
    assert base64.b64decode(spec["publicKey"]) == crypto.public_key_pem(key)
