"""Key material of the handshake: cluster keys, nonce signatures, CSRs.

Ed25519 signs the message itself; RSA (TLS compatibility mode) signs a SHA-256 digest with
PKCS#1 v1.5, as upstream Liqo does. Keys travel as PEM (PKCS#8 private, SubjectPublicKeyInfo
public); a raw 32-byte Ed25519 public key is accepted where upstream accepts one.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from cryptography.x509.oid import NameOID

#: Organization of the control-plane certificate a consumer asks for (upstream's).
CONTROL_PLANE_ORGANIZATION = "liqo.io"
#: Bytes of randomness in a nonce (before base64).
NONCE_BYTES = 64
RSA_KEY_SIZE = 2048

PrivateKey = ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
PublicKey = ed25519.Ed25519PublicKey | rsa.RSAPublicKey


class CryptoError(ValueError):
    """Key material that cannot be parsed or is of an unsupported type."""


def generate_private_key(*, rsa_compatible: bool = False) -> PrivateKey:
    """A new Ed25519 key, or RSA-2048 when ``rsa_compatible`` (TLS compatibility mode)."""
    if rsa_compatible:
        return rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_SIZE)
    return ed25519.Ed25519PrivateKey.generate()


def private_key_pem(key: PrivateKey) -> bytes:
    """PKCS#8 PEM of ``key`` (unencrypted: it lives in a Kubernetes Secret)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_key_pem(key: PrivateKey | PublicKey) -> bytes:
    """SubjectPublicKeyInfo PEM of ``key`` (or of a private key's public half)."""
    public = key.public_key() if isinstance(key, PrivateKey) else key
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_private_key(pem: bytes) -> PrivateKey:
    """Parse a PEM private key; only Ed25519 and RSA are supported."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as err:
        raise CryptoError("the private key is not a valid unencrypted PEM key") from err
    if not isinstance(key, PrivateKey):
        raise CryptoError(f"unsupported private key type {type(key).__name__}")
    return key


def load_public_key(data: bytes) -> PublicKey:
    """Parse a PEM public key, or a raw 32-byte Ed25519 key."""
    if len(data) == 32:
        return ed25519.Ed25519PublicKey.from_public_bytes(data)
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as err:
        raise CryptoError("the public key is neither PEM nor a raw Ed25519 key") from err
    if not isinstance(key, PublicKey):
        raise CryptoError(f"unsupported public key type {type(key).__name__}")
    return key


def new_nonce() -> bytes:
    """:data:`NONCE_BYTES` random bytes."""
    return secrets.token_bytes(NONCE_BYTES)


def sign(key: PrivateKey, message: bytes) -> bytes:
    """Sign ``message``: Ed25519 directly, RSA with PKCS#1 v1.5 over SHA-256."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(message)
    return key.sign(message, padding.PKCS1v15(), hashes.SHA256())


def verify(key: PublicKey, message: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is ``key``'s signature of ``message``."""
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, message)
        else:
            key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def same_public_key(first: PublicKey, second: PublicKey) -> bool:
    """Whether two public keys are the same key."""
    return public_key_pem(first) == public_key_pem(second)


def make_csr(key: PrivateKey, common_name: str, organization: str) -> bytes:
    """A PEM CSR with subject ``CN=common_name, O=organization``, signed with ``key``."""
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
        ]
    )
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    request = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, algorithm)
    return request.public_bytes(serialization.Encoding.PEM)


def load_csr(pem: bytes) -> x509.CertificateSigningRequest:
    """Parse a PEM CSR and check its self-signature."""
    try:
        request = x509.load_pem_x509_csr(pem)
    except ValueError as err:
        raise CryptoError("the CSR is not a valid PEM certificate signing request") from err
    if not request.is_signature_valid:
        raise CryptoError("the CSR signature is not valid")
    return request


def subject_values(
    request: x509.CertificateSigningRequest, oid: x509.ObjectIdentifier
) -> list[str]:
    """The values of one attribute of a CSR's subject."""
    return [str(attr.value) for attr in request.subject.get_attributes_for_oid(oid)]


def csr_public_key(request: x509.CertificateSigningRequest) -> PublicKey:
    """The public key a CSR carries (Ed25519 or RSA)."""
    key = request.public_key()
    if not isinstance(key, PublicKey):
        raise CryptoError(f"unsupported CSR key type {type(key).__name__}")
    return key


def check_csr(pem: bytes, common_name: str, organization: str, public_key: PublicKey) -> str | None:
    """Why the CSR is unacceptable (``None`` if it is fine).

    It must parse, be self-signed, have exactly ``CN=common_name`` and ``O=organization``,
    and carry ``public_key``.
    """
    try:
        request = load_csr(pem)
        key = csr_public_key(request)
    except CryptoError as err:
        return str(err)
    names = subject_values(request, NameOID.COMMON_NAME)
    if names != [common_name]:
        return f"the CSR common name is {', '.join(names) or 'missing'}, expected {common_name}"
    organizations = subject_values(request, NameOID.ORGANIZATION_NAME)
    if organizations != [organization]:
        shown = ", ".join(organizations) or "missing"
        return f"the CSR organization is {shown}, expected {organization}"
    if not same_public_key(key, public_key):
        return "the CSR public key is not the tenant's public key"
    return None


@dataclass(frozen=True)
class CertificateValidity:
    """The key and validity window of a certificate."""

    public_key: PublicKey
    not_before: float
    not_after: float


def certificate_validity(pem: bytes) -> CertificateValidity | None:
    """Key and validity (POSIX times) of the first certificate in ``pem``; ``None`` if unusable."""
    try:
        certificate = x509.load_pem_x509_certificate(pem)
    except ValueError:
        return None
    key = certificate.public_key()
    if not isinstance(key, PublicKey):
        return None
    return CertificateValidity(
        key,
        certificate.not_valid_before_utc.timestamp(),
        certificate.not_valid_after_utc.timestamp(),
    )
