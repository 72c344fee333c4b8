"""The per-cluster certificate authority: persistent CA, serving certificate, client certs.

Files kept in the state directory (``0600`` for keys): ``ca.crt``/``ca.key`` (the cluster
CA, created on first start and reused afterwards so issued credentials survive a restart)
and ``apiserver.crt``/``apiserver.key`` (re-issued at every start).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# OpenSSL's X509_V_FLAG_NO_CHECK_TIME: the TLS layer accepts expired client certificates so
# that ``authenticate`` can answer 401 for them, as kube-apiserver does.
_NO_CHECK_TIME = 0x200000
CLOCK_SKEW = dt.timedelta(seconds=60)

KEY_USAGES = {
    "digital signature": "digital_signature",
    "key encipherment": "key_encipherment",
    "content commitment": "content_commitment",
    "data encipherment": "data_encipherment",
    "key agreement": "key_agreement",
    "cert sign": "key_cert_sign",
    "crl sign": "crl_sign",
}
EXT_USAGES = {
    "client auth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "server auth": ExtendedKeyUsageOID.SERVER_AUTH,
    "code signing": ExtendedKeyUsageOID.CODE_SIGNING,
    "email protection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
}


def now() -> dt.datetime:
    """The current time, timezone-aware (UTC)."""
    return dt.datetime.now(dt.UTC)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` readable by the owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def subject_name(user: str, groups: Sequence[str] = ()) -> x509.Name:
    """The subject Kubernetes reads as a user: CN = user name, one O per group."""
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, g) for g in groups]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, user))
    return x509.Name(attrs)


def user_from_subject(name: x509.Name) -> tuple[str, tuple[str, ...]]:
    """(CN, O values) of a certificate or request subject."""
    cns = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    orgs = name.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    cn = str(cns[0].value) if cns else ""
    return cn, tuple(str(o.value) for o in orgs)


@dataclass(frozen=True)
class IssuedCert:
    """A certificate and, when generated here, its private key (both PEM)."""

    cert_pem: bytes
    key_pem: bytes = b""


class CertificateAuthority:
    """A cluster CA persisted in ``state_dir``; signs serving and client certificates."""

    def __init__(self, state_dir: Path, cluster_name: str) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.state_dir = state_dir
        crt, key = state_dir / "ca.crt", state_dir / "ca.key"
        if crt.exists() and key.exists():
            self.cert = x509.load_pem_x509_certificate(crt.read_bytes())
            loaded = serialization.load_pem_private_key(key.read_bytes(), None)
            if not isinstance(loaded, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
                raise ValueError(f"unsupported CA key type in {key}")
            self.key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey = loaded
        else:
            self.key = _new_key()
            name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{cluster_name}-ca")])
            start = now() - CLOCK_SKEW
            self.cert = (
                x509.CertificateBuilder()
                .subject_name(name)
                .issuer_name(name)
                .public_key(self.key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(start)
                .not_valid_after(start + dt.timedelta(days=3650))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(
                    x509.KeyUsage(
                        digital_signature=True,
                        content_commitment=False,
                        key_encipherment=True,
                        data_encipherment=False,
                        key_agreement=False,
                        key_cert_sign=True,
                        crl_sign=True,
                        encipher_only=False,
                        decipher_only=False,
                    ),
                    critical=True,
                )
                .add_extension(
                    x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()),
                    critical=False,
                )
                .sign(self.key, hashes.SHA256())
            )
            write_private(key, _key_pem(self.key))
            crt.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        self.pem = self.cert.public_bytes(serialization.Encoding.PEM)

    def sign(
        self,
        subject: x509.Name,
        public_key: CertificateIssuerPublicKeyTypes,
        lifetime: dt.timedelta,
        usages: Sequence[str] = ("digital signature", "key encipherment", "client auth"),
        *,
        sans: Sequence[x509.GeneralName] = (),
        backdate: dt.timedelta = CLOCK_SKEW,
    ) -> x509.Certificate:
        """Issue a leaf certificate valid from ``now - backdate`` to ``now + lifetime``."""
        start = now()
        end = min(start + lifetime, self.cert.not_valid_after_utc)
        flags = {v: False for v in KEY_USAGES.values()}
        for usage in usages:
            if usage in KEY_USAGES:
                flags[KEY_USAGES[usage]] = True
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(start - backdate)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
        )
        if any(flags.values()):
            builder = builder.add_extension(
                x509.KeyUsage(encipher_only=False, decipher_only=False, **flags), critical=True
            )
        ext = [EXT_USAGES[u] for u in usages if u in EXT_USAGES]
        if ext:
            builder = builder.add_extension(x509.ExtendedKeyUsage(ext), critical=False)
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
        return builder.sign(self.key, hashes.SHA256())

    def issue_client(
        self, user: str, groups: Sequence[str] = (), lifetime: dt.timedelta | None = None
    ) -> IssuedCert:
        """A fresh key and client certificate for ``user`` in ``groups`` (default 1 year)."""
        key = _new_key()
        cert = self.sign(
            subject_name(user, groups), key.public_key(), lifetime or dt.timedelta(days=365)
        )
        return IssuedCert(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))

    def issue_serving(self, hosts: Sequence[str]) -> IssuedCert:
        """A fresh key and serving certificate for DNS names / IP addresses ``hosts``."""
        key = _new_key()
        sans: list[x509.GeneralName] = []
        for host in hosts:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                sans.append(x509.DNSName(host))
        cert = self.sign(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]),
            key.public_key(),
            dt.timedelta(days=365),
            usages=("digital signature", "key encipherment", "server auth"),
            sans=sans,
        )
        return IssuedCert(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))

    def verify_client(self, der: bytes) -> x509.Certificate | None:
        """The certificate if issued by this CA, currently valid and usable for client auth."""
        try:
            cert = x509.load_der_x509_certificate(der)
        except ValueError:
            return None
        if cert.issuer != self.cert.subject or not self._signed_by_us(cert):
            return None
        moment = now()
        if not cert.not_valid_before_utc <= moment <= cert.not_valid_after_utc:
            return None
        try:
            eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            return cert
        return cert if ExtendedKeyUsageOID.CLIENT_AUTH in eku else None

    def _signed_by_us(self, cert: x509.Certificate) -> bool:
        pub = self.key.public_key()
        algo = cert.signature_hash_algorithm
        try:
            if isinstance(pub, ec.EllipticCurvePublicKey) and algo is not None:
                pub.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(algo))
            elif isinstance(pub, rsa.RSAPublicKey) and algo is not None:
                pub.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), algo)
            else:
                return False
        except InvalidSignature:
            return False
        return True

    def server_ssl_context(self, hosts: Sequence[str]) -> ssl.SSLContext:
        """TLS server context: serving cert for ``hosts``; optional client certs of this CA."""
        issued = self.issue_serving(hosts)
        crt, key = self.state_dir / "apiserver.crt", self.state_dir / "apiserver.key"
        crt.write_bytes(issued.cert_pem)
        write_private(key, issued.key_pem)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(crt, key)
        ctx.load_verify_locations(cadata=self.pem.decode())
        ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.verify_flags = ssl.VerifyFlags(ctx.verify_flags | _NO_CHECK_TIME)
        return ctx


def load_public_key_of_csr(
    csr: x509.CertificateSigningRequest,
) -> CertificateIssuerPublicKeyTypes:
    """The public key of a CSR, restricted to the key types a certificate may carry."""
    key = csr.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        raise ValueError("unsupported public key type")
    return key
