"""Key material, handshake verification, forged manifests and kubeconfigs, without a cluster."""

from __future__ import annotations

import base64

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from liqo_auth import crypto
from liqo_auth.forge import forge_identity, forge_tenant
from liqo_auth.identity import build_kubeconfig
from liqo_auth.keys import key_data
from liqo_auth.nonce import new_nonce_text
from liqo_auth.tenant import HandshakeRefused, verify_handshake

from liqo_core.api.authentication_v1beta1 import (
    AuthParams,
    Identity,
    IdentitySpec,
    Tenant,
    TenantSpec,
)

NONCE = new_nonce_text().encode()


@pytest.fixture(params=[False, True], ids=["ed25519", "rsa"])
def key(request: pytest.FixtureRequest) -> crypto.PrivateKey:
    return crypto.generate_private_key(rsa_compatible=request.param)


def test_default_keys_are_ed25519_and_compatibility_mode_is_rsa_2048() -> None:
    assert isinstance(crypto.generate_private_key(), ed25519.Ed25519PrivateKey)
    rsa_key = crypto.generate_private_key(rsa_compatible=True)
    assert isinstance(rsa_key, rsa.RSAPrivateKey)
    assert rsa_key.key_size == 2048


def test_keys_secret_data_is_pem_and_consistent() -> None:
    data = key_data(rsa_compatible=False)
    private = base64.b64decode(data["privateKey"])
    public = base64.b64decode(data["publicKey"])
    assert private.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert public.startswith(b"-----BEGIN PUBLIC KEY-----")
    assert crypto.public_key_pem(crypto.load_private_key(private)) == public


def test_nonce_is_base64_of_64_random_bytes() -> None:
    assert len(base64.b64decode(NONCE)) == 64
    assert new_nonce_text() != new_nonce_text()


def test_signatures_verify_only_with_the_right_key_and_message(key: crypto.PrivateKey) -> None:
    signature = crypto.sign(key, NONCE)
    public = crypto.load_public_key(crypto.public_key_pem(key))
    assert crypto.verify(public, NONCE, signature)
    assert not crypto.verify(public, NONCE + b"x", signature)
    other = crypto.load_public_key(crypto.public_key_pem(crypto.generate_private_key()))
    assert not crypto.verify(other, NONCE, signature)


def test_raw_ed25519_public_keys_are_accepted() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes_raw()
    assert crypto.verify(crypto.load_public_key(raw), NONCE, crypto.sign(key, NONCE))


def test_garbage_keys_are_refused() -> None:
    with pytest.raises(crypto.CryptoError):
        crypto.load_public_key(b"not a key")
    with pytest.raises(crypto.CryptoError):
        crypto.load_private_key(b"not a key")


def test_csr_subject_and_key_are_checked(key: crypto.PrivateKey) -> None:
    public = crypto.load_public_key(crypto.public_key_pem(key))
    good = crypto.make_csr(key, "consumer", "liqo.io")
    request = x509.load_pem_x509_csr(good)
    assert request.is_signature_valid
    assert crypto.check_csr(good, "consumer", "liqo.io", public) is None
    wrong_cn = crypto.make_csr(key, "someone-else", "liqo.io")
    assert "common name" in (crypto.check_csr(wrong_cn, "consumer", "liqo.io", public) or "")
    wrong_o = crypto.make_csr(key, "consumer", "system:masters")
    assert "organization" in (crypto.check_csr(wrong_o, "consumer", "liqo.io", public) or "")
    other = crypto.make_csr(crypto.generate_private_key(), "consumer", "liqo.io")
    assert "public key" in (crypto.check_csr(other, "consumer", "liqo.io", public) or "")
    assert crypto.check_csr(b"junk", "consumer", "liqo.io", public) is not None


def _spec(tenant: dict[str, object]) -> TenantSpec:
    return Tenant.from_dict(tenant).spec


def test_forged_tenant_passes_the_handshake(key: crypto.PrivateKey) -> None:
    tenant = forge_tenant("consumer", key, crypto.sign(key, NONCE), namespace="liqo-tenant-c")
    assert tenant["kind"] == "Tenant"
    assert tenant["apiVersion"] == "authentication.liqo.io/v1beta1"
    assert tenant["metadata"] == {
        "name": "consumer",
        "namespace": "liqo-tenant-c",
        "labels": {"liqo.io/remote-cluster-id": "consumer"},
    }
    assert tenant["spec"]["clusterID"] == "consumer"
    assert set(tenant["spec"]) >= {"publicKey", "csr", "signature"}
    verify_handshake(_spec(tenant), NONCE)


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("no-nonce", "NonceNotFound"),
        ("other-nonce", "SignatureVerificationFailed"),
        ("forged-signature", "SignatureVerificationFailed"),
        ("wrong-cn", "CSRVerificationFailed"),
        ("other-key-csr", "CSRVerificationFailed"),
        ("bad-public-key", "InvalidPublicKey"),
    ],
)
def test_handshake_failures_name_their_reason(case: str, reason: str) -> None:
    key = crypto.generate_private_key()
    intruder = crypto.generate_private_key()
    nonce: bytes | None = NONCE
    tenant = forge_tenant("consumer", key, crypto.sign(key, NONCE))
    spec = tenant["spec"]
    if case == "no-nonce":
        nonce = None
    elif case == "other-nonce":
        nonce = new_nonce_text().encode()
    elif case == "forged-signature":
        spec["signature"] = base64.b64encode(crypto.sign(intruder, NONCE)).decode()
    elif case == "wrong-cn":
        csr = crypto.make_csr(key, "provider-admin", "liqo.io")
        spec["csr"] = base64.b64encode(csr).decode()
    elif case == "other-key-csr":
        csr = crypto.make_csr(intruder, "consumer", "liqo.io")
        spec["csr"] = base64.b64encode(csr).decode()
    elif case == "bad-public-key":
        spec["publicKey"] = base64.b64encode(b"junk").decode()
    with pytest.raises(HandshakeRefused) as refused:
        verify_handshake(_spec(tenant), nonce)
    assert refused.value.reason == reason


def test_forged_identity_and_its_kubeconfig() -> None:
    params = {"ca": "Y2E=", "signedCRT": "Y3J0", "apiServer": "https://p.example:6443"}
    identity = forge_identity("provider", params, "liqo-tenant-consumer", namespace="liqo-tenant-p")
    assert identity["metadata"]["name"] == "controlplane-provider"
    assert identity["metadata"]["labels"] == {"liqo.io/remote-cluster-id": "provider"}
    assert identity["spec"] == {
        "clusterID": "provider",
        "type": "ControlPlane",
        "authParams": params,
        "namespace": "liqo-tenant-consumer",
    }
    spec: IdentitySpec = Identity.from_dict(identity).spec
    key_pem = crypto.private_key_pem(crypto.generate_private_key())
    config = yaml.safe_load(build_kubeconfig(spec, key_pem, "consumer"))
    assert config["clusters"][0]["cluster"] == {
        "server": "https://p.example:6443",
        "certificate-authority-data": "Y2E=",
    }
    user = config["users"][0]["user"]
    assert user["client-certificate-data"] == "Y3J0"
    assert base64.b64decode(user["client-key-data"]) == key_pem
    assert config["contexts"][0]["context"]["namespace"] == "liqo-tenant-consumer"


def test_kubeconfig_needs_a_certificate() -> None:
    spec = IdentitySpec(cluster_id="p", type="ControlPlane", auth_params=AuthParams(api_server="x"))
    with pytest.raises(ValueError, match="no certificate"):
        build_kubeconfig(spec, b"", "c")
