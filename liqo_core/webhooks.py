"""Admission webhooks of a module, served by its kopf operator in the controller-manager.

A module whose settings section holds a :class:`~liqo_core.settings.WebhookSettings`
calls :func:`serve_webhooks` from ``liqo_register_handlers``, then registers its
``kopf.on.mutate`` / ``kopf.on.validate`` handlers (``persistent=True``, so that the
webhooks stay configured while the controller-manager restarts, failure policy Fail, as
upstream's). Each module has its own port and configuration names: kopf rewrites the
whole configuration it manages.

:class:`WebhookServer` differs from :class:`kopf.WebhookServer` in two things: the
self-signed serving certificate is made with ``cryptography`` (kopf's own needs the
optional ``certbuilder``), and behind a Service the webhook configurations kopf maintains
reference that Service (namespace, name, port, with the CA bundle) instead of a URL.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
from collections.abc import AsyncIterator, Collection
from typing import Any

import kopf
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from liqo_core.settings import WebhookSettings

logger = logging.getLogger(__name__)


#: Validity of the self-signed certificate; a new one is made at every start.
SELF_SIGNED_VALIDITY = dt.timedelta(days=365)


def self_signed_certificate(hostnames: Collection[str]) -> tuple[bytes, bytes]:
    """(certificate, private key) in PEM, self-signed for ``hostnames`` (DNS names and IPs
    as subject alternative names; the first DNS name, else the first IP, as CN)."""
    names: list[x509.GeneralName] = []
    dns: list[str] = []
    for host in dict.fromkeys(h for h in hostnames if h and h not in ("0.0.0.0", "::")):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
            dns.append(host)
    if not names:
        raise ValueError("a webhook certificate needs at least one host name or IP address")
    common_name = dns[0] if dns else str(names[0].value)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + SELF_SIGNED_VALIDITY)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    return (
        certificate.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


class WebhookServer(kopf.WebhookServer):
    """:class:`kopf.WebhookServer` with a ``cryptography`` self-signed certificate and,
    given ``service`` (``{"namespace", "name", "port"}``), Service client configs."""

    def __init__(
        self, *, service: kopf.WebhookClientConfigService | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.service = service

    @staticmethod
    def build_certificate(
        hostnames: Collection[str], password: str | None = None
    ) -> tuple[bytes, bytes]:
        """A self-signed certificate for ``hostnames`` (the key is never encrypted)."""
        if password:
            raise ValueError("the webhook's self-signed key is not encrypted: give no password")
        return self_signed_certificate(hostnames)

    async def __call__(  # type: ignore[override]
        self, fn: kopf.WebhookFn
    ) -> AsyncIterator[kopf.WebhookClientConfig]:
        async for config in super().__call__(fn):
            if self.service is None:
                yield config
                continue
            by_service = kopf.WebhookClientConfig(service=self.service)
            if "caBundle" in config:
                by_service["caBundle"] = config["caBundle"]
            yield by_service


def webhook_server(config: WebhookSettings, namespace: str) -> WebhookServer:
    """The server ``config`` describes, for the controller-manager in ``namespace``."""
    service: kopf.WebhookClientConfigService | None = None
    sans: list[str] = []
    host = config.host
    if config.service:
        service = kopf.WebhookClientConfigService(
            namespace=namespace, name=config.service, port=config.service_port
        )
        host = f"{config.service}.{namespace}.svc"
        sans = [config.service, f"{config.service}.{namespace}", f"{host}.cluster.local"]
    return WebhookServer(
        service=service,
        addr=config.address,
        port=config.port,
        host=host,
        extra_sans=sans,
        certfile=config.cert_file,
        pkeyfile=config.key_file,
        cafile=config.ca_file,
    )


def serve_webhooks(
    registry: kopf.OperatorRegistry, config: WebhookSettings, namespace: str, *, module: str
) -> bool:
    """Give ``module``'s operator the webhook server ``config`` describes (a start-up
    handler), kopf keeping configurations ``config.configuration`` up to date.

    Returns whether webhooks are enabled: register the admission handlers only then.
    """
    if not config.enabled:
        return False

    @kopf.on.startup(registry=registry, id=f"{module}-webhook-server")
    def start_webhook_server(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.admission.server = webhook_server(config, namespace)
        settings.admission.managed = config.configuration
        where = (
            f"Service {namespace}/{config.service}"
            if config.service
            else f"https://{config.host or config.address}:{config.port}"
        )
        logger.info(
            "%s admission webhooks on %s:%d, reached at %s (configurations %s)",
            module, config.address, config.port, where, config.configuration,
        )  # fmt: skip

    return True
