"""Security layer of the API emulator: PKI, authentication, RBAC, CSR, tokens, admission.

The server builds one :class:`Security` per emulated cluster and calls it on every request
(``authenticate``, ``authorize``, ``admission``), serves its subresource handlers and
virtual resources, awaits ``bootstrap()`` once the store is up and runs its controllers.

State kept in ``state_dir``: ``ca.crt``/``ca.key`` (cluster CA), ``sa.key`` (ServiceAccount
token signing key), ``tokens.csv`` (static tokens, kube-apiserver ``--token-auth-file``
format: ``token,user,uid,"group1,group2"``), ``apiserver.crt``/``apiserver.key``.
"""

from __future__ import annotations

import datetime as dt
import ssl
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path

from ..engine import Admission as AdmissionChain
from ..types import InternalAPI, RequestAttributes, SubresourceHandler, UserInfo
from .admission import Admission
from .authn import Authenticator, StaticTokens
from .csr import approval_handler, min_expiration_seconds, signer_controller
from .escalation import EscalationCheck
from .impersonation import impersonate, wants_impersonation
from .jwt import SigningKey
from .kubeconfig import write_cert_kubeconfig, write_token_kubeconfig
from .pki import CertificateAuthority, IssuedCert
from .policy import aggregation_controller, bootstrap_policy
from .rbac import RBACAuthorizer, forbidden_message
from .reviews import Reviews
from .serviceaccounts import (
    default_serviceaccount_controller,
    root_ca_publisher,
    token_request_handler,
    token_secret_controller,
)

__all__ = [
    "Security",
    "forbidden_message",
    "min_expiration_seconds",
    "write_static_token_kubeconfig",
    "write_user_kubeconfig",
]

SERVING_HOSTS = ("127.0.0.1", "::1", "localhost")
ADMIN_USER = "kubernetes-admin"
ADMIN_GROUPS = ("system:masters",)


class Security:
    """Authentication, authorization and admission of one emulated cluster."""

    def __init__(
        self,
        state_dir: Path,
        cluster_name: str,
        api: InternalAPI,
        *,
        webhook_netns: str | None = None,
    ) -> None:
        self.state_dir = state_dir
        self.cluster_name = cluster_name
        self.api = api
        self.ca = CertificateAuthority(state_dir, cluster_name)
        self.signing_key = SigningKey(state_dir / "sa.key")
        self.static_tokens = StaticTokens(state_dir / "tokens.csv")
        self.authenticator = Authenticator(self.ca, self.signing_key, self.static_tokens, api)
        self.rbac = RBACAuthorizer(api)
        self.admission: AdmissionChain = Admission(
            api, self.authorize, EscalationCheck(self.rbac), webhook_netns=webhook_netns
        )
        self._reviews = Reviews(self.authenticator, self.rbac)

    @property
    def ca_pem(self) -> bytes:
        """The cluster CA certificate (PEM)."""
        return self.ca.pem

    def server_ssl_context(self, hosts: Sequence[str] = SERVING_HOSTS) -> ssl.SSLContext:
        """TLS context for the API server; client certificates optional, verified by the CA."""
        return self.ca.server_ssl_context(hosts)

    def issue_client_cert(
        self, user: str, groups: Sequence[str] = (), lifetime: dt.timedelta | None = None
    ) -> IssuedCert:
        """A new key and client certificate (CN=user, O=groups) signed by the cluster CA."""
        return self.ca.issue_client(user, groups, lifetime)

    def write_kubeconfig(self, path: Path, server_url: str) -> None:
        """Admin kubeconfig: CN=kubernetes-admin, O=system:masters."""
        self.write_user_kubeconfig(path, server_url, ADMIN_USER, ADMIN_GROUPS)

    def write_user_kubeconfig(
        self,
        path: Path,
        server_url: str,
        user: str,
        groups: Sequence[str] = (),
        lifetime: dt.timedelta | None = None,
    ) -> None:
        """Kubeconfig for ``user`` in ``groups`` with a freshly issued client certificate."""
        issued = self.issue_client_cert(user, groups, lifetime)
        write_cert_kubeconfig(
            path,
            cluster_name=self.cluster_name,
            server_url=server_url,
            ca_pem=self.ca_pem,
            user=user,
            cert_pem=issued.cert_pem,
            key_pem=issued.key_pem,
        )

    def add_static_token(self, user: str, groups: Sequence[str] = (), uid: str = "") -> str:
        """Register a new static bearer token for ``user`` (in ``tokens.csv``); return it."""
        return self.static_tokens.add(user, groups, uid)

    def write_token_kubeconfig(self, path: Path, server_url: str, token: str, user: str) -> None:
        """Kubeconfig authenticating with bearer ``token`` (the name ``user`` is cosmetic)."""
        write_token_kubeconfig(
            path,
            cluster_name=self.cluster_name,
            server_url=server_url,
            ca_pem=self.ca_pem,
            user=user,
            token=token,
        )

    def authenticate(
        self, headers: Mapping[str, str], peer_cert_der: bytes | None
    ) -> UserInfo | None:
        """The caller, or None (401) for missing, bad or expired credentials.

        With ``Impersonate-*`` headers, the impersonated user; raises ``APIError`` 403 when
        the caller may not impersonate it (as kube-apiserver's impersonation filter).
        """
        user = self.authenticator.authenticate(headers, peer_cert_der)
        if user is None or not wants_impersonation(headers):
            return user
        return impersonate(headers, user, self.authorize)

    def authorize(self, attrs: RequestAttributes) -> tuple[bool, str]:
        """RBAC decision; when denied, the message is the 403 Status message."""
        return self.rbac.authorize(attrs)

    async def bootstrap(self) -> None:
        """Create the default cluster roles and bindings (idempotent)."""
        await bootstrap_policy(self.api)

    def subresource_handlers(self) -> dict[tuple[str, str, str, str], SubresourceHandler]:
        """(group, resource, subresource, HTTP method) -> handler."""
        return {
            ("", "serviceaccounts", "token", "POST"): token_request_handler(self.signing_key),
            ("certificates.k8s.io", "certificatesigningrequests", "approval", "PUT"): (
                approval_handler(self.authorize)
            ),
        }

    def virtual_resources(self) -> dict[tuple[str, str], SubresourceHandler]:
        """(group, resource) -> create handler of the review resources."""
        return self._reviews.handlers()

    def controllers(self) -> list[Callable[[InternalAPI], Awaitable[None]]]:
        """In-process controllers: CSR signer, SA tokens, default SAs, role aggregation and
        the ``kube-root-ca.crt`` ConfigMap in every namespace, as kube-controller-manager."""
        return [
            signer_controller(self.ca),
            token_secret_controller(self.signing_key, self.ca_pem),
            default_serviceaccount_controller,
            aggregation_controller,
            root_ca_publisher(self.ca_pem),
        ]


def write_user_kubeconfig(
    state_dir: Path,
    cluster_name: str,
    path: Path,
    server_url: str,
    *,
    user: str,
    groups: Sequence[str] = (),
    lifetime: dt.timedelta | None = None,
) -> None:
    """From outside the emulator process: a client-certificate kubeconfig for ``user``.

    Uses the CA persisted in ``state_dir``, so the running emulator accepts it.
    """
    ca = CertificateAuthority(state_dir, cluster_name)
    issued = ca.issue_client(user, groups, lifetime)
    write_cert_kubeconfig(
        path,
        cluster_name=cluster_name,
        server_url=server_url,
        ca_pem=ca.pem,
        user=user,
        cert_pem=issued.cert_pem,
        key_pem=issued.key_pem,
    )


def write_static_token_kubeconfig(
    state_dir: Path,
    cluster_name: str,
    path: Path,
    server_url: str,
    *,
    user: str,
    groups: Sequence[str] = (),
) -> str:
    """From outside the emulator process: register a static token for ``user`` in
    ``state_dir/tokens.csv`` (the running emulator reloads it) and write a kubeconfig
    using it; returns the token."""
    ca = CertificateAuthority(state_dir, cluster_name)
    token = StaticTokens(state_dir / "tokens.csv").add(user, groups)
    write_token_kubeconfig(
        path,
        cluster_name=cluster_name,
        server_url=server_url,
        ca_pem=ca.pem,
        user=user,
        token=token,
    )
    return token
