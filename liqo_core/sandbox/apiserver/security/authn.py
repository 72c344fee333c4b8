"""Authentication: client certificates, static tokens and ServiceAccount tokens.

Static tokens live in ``<state_dir>/tokens.csv``, one per line, in kube-apiserver's
``--token-auth-file`` format: ``token,user,uid,"group1,group2"`` (uid and groups optional).
The file is re-read whenever it changes.
"""

from __future__ import annotations

import base64
import csv
import hmac
import os
import secrets
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..types import InternalAPI, UserInfo
from .jwt import SigningKey
from .pki import CertificateAuthority, user_from_subject

AUTHENTICATED = "system:authenticated"
ISSUER = "https://kubernetes.default.svc.cluster.local"
LEGACY_ISSUER = "kubernetes/serviceaccount"
API_AUDIENCES = (ISSUER,)
_SA = "kubernetes.io/serviceaccount/"


def sa_username(namespace: str, name: str) -> str:
    """``system:serviceaccount:<ns>:<name>``."""
    return f"system:serviceaccount:{namespace}:{name}"


def sa_user(namespace: str, name: str, uid: str, extra: Mapping[str, tuple[str, ...]]) -> UserInfo:
    """The user a ServiceAccount token authenticates as."""
    groups = ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", AUTHENTICATED)
    return UserInfo(sa_username(namespace, name), groups, uid, dict(extra))


def with_authenticated(user: UserInfo) -> UserInfo:
    """``user`` with ``system:authenticated`` added to its groups (once)."""
    if AUTHENTICATED in user.groups:
        return user
    return UserInfo(user.name, (*user.groups, AUTHENTICATED), user.uid, user.extra)


#: Who a request without credentials is (kube-apiserver with anonymous auth on).
ANONYMOUS = UserInfo("system:anonymous", ("system:unauthenticated",))


class StaticTokens:
    """The static token file, reloaded when its modification time changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._mtime = -1.0
        self._users: dict[str, UserInfo] = {}

    def _load(self) -> None:
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            self._users, self._mtime = {}, -1.0
            return
        if mtime == self._mtime:
            return
        users: dict[str, UserInfo] = {}
        with self.path.open(newline="") as fh:
            for row in csv.reader(fh):
                if len(row) < 2 or row[0].startswith("#"):
                    continue
                groups = tuple(g for g in (row[3].split(",") if len(row) > 3 else []) if g)
                users[row[0]] = UserInfo(row[1], groups, row[2] if len(row) > 2 else "")
        self._users, self._mtime = users, mtime

    def lookup(self, token: str) -> UserInfo | None:
        """The user of ``token``, compared in constant time."""
        self._load()
        found = None
        for known, user in self._users.items():
            if hmac.compare_digest(known.encode(), token.encode()):
                found = user
        return found

    def add(self, user: str, groups: Sequence[str] = (), uid: str = "") -> str:
        """Append a new random token for ``user`` and return it."""
        token = secrets.token_urlsafe(32)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", newline="") as fh:
            csv.writer(fh).writerow([token, user, uid or str(uuid.uuid4()), ",".join(groups)])
        return token


class Authenticator:
    """Turns request credentials into a :class:`UserInfo`."""

    def __init__(
        self, ca: CertificateAuthority, key: SigningKey, tokens: StaticTokens, api: InternalAPI
    ) -> None:
        self.ca, self.key, self.tokens, self.api = ca, key, tokens, api

    def authenticate(
        self, headers: Mapping[str, str], peer_cert_der: bytes | None
    ) -> UserInfo | None:
        """The caller, or None for bad, expired or unknown credentials (answered 401).

        A request that presents no credentials (no client certificate, no non-empty bearer
        token) is ``system:anonymous`` in group ``system:unauthenticated``, as with
        kube-apiserver's default ``--anonymous-auth=true``:
        RBAC then lets it read only the public endpoints (/healthz, /livez, /readyz,
        /version) and answers 403 everywhere else.
        """
        if peer_cert_der:
            cert = self.ca.verify_client(peer_cert_der)
            if cert is not None:
                name, groups = user_from_subject(cert.subject)
                if name:
                    return with_authenticated(UserInfo(name, groups))
        auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        scheme, _, token = auth.strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            found = self.authenticate_token(token.strip())
            return found[0] if found else None
        # An invalid client certificate is a presented credential: 401, not anonymous.
        return None if peer_cert_der else ANONYMOUS

    def authenticate_token(
        self, token: str, audiences: Sequence[str] = ()
    ) -> tuple[UserInfo, list[str]] | None:
        """(user, audiences the token is valid for) as a TokenReview answers, or None."""
        wanted = list(audiences) or list(API_AUDIENCES)
        agnostic_ok = bool(set(wanted) & set(API_AUDIENCES))
        user = self.tokens.lookup(token)
        if user is not None:
            return (with_authenticated(user), wanted) if agnostic_ok else None
        claims = self.key.verify(token)
        if claims is None:
            return None
        if claims.get("iss") == LEGACY_ISSUER:
            legacy = self._legacy(token, claims)
            return (legacy, wanted) if legacy is not None and agnostic_ok else None
        if claims.get("iss") == ISSUER:
            return self._bound(claims, wanted)
        return None

    def _service_account(self, namespace: str, name: str, uid: str) -> bool:
        sa = self.api.get("", "serviceaccounts", namespace, name)
        if sa is None or sa["metadata"].get("uid") != uid:
            return False
        return not sa["metadata"].get("deletionTimestamp")

    def _legacy(self, token: str, claims: Mapping[str, Any]) -> UserInfo | None:
        ns = str(claims.get(_SA + "namespace", ""))
        name = str(claims.get(_SA + "service-account.name", ""))
        uid = str(claims.get(_SA + "service-account.uid", ""))
        secret_name = str(claims.get(_SA + "secret.name", ""))
        if not (ns and name and secret_name) or not self._service_account(ns, name, uid):
            return None
        secret = self.api.get("", "secrets", ns, secret_name)
        if secret is None or secret["metadata"].get("deletionTimestamp"):
            return None
        stored = base64.b64decode((secret.get("data") or {}).get("token", ""))
        if not hmac.compare_digest(stored, token.encode()):
            return None
        return sa_user(ns, name, uid, {})

    def _bound(
        self, claims: Mapping[str, Any], wanted: list[str]
    ) -> tuple[UserInfo, list[str]] | None:
        now = time.time()
        if not isinstance(claims.get("exp"), int) or claims["exp"] <= now:
            return None
        if isinstance(claims.get("nbf"), int) and claims["nbf"] > now + 60:
            return None
        aud = claims.get("aud")
        aud_list = [aud] if isinstance(aud, str) else list(aud or [])
        matched = [a for a in wanted if a in aud_list]
        if not matched:
            return None
        k8s = claims.get("kubernetes.io")
        if not isinstance(k8s, dict):
            return None
        ns, sa = str(k8s.get("namespace", "")), k8s.get("serviceaccount") or {}
        if not self._service_account(ns, str(sa.get("name", "")), str(sa.get("uid", ""))):
            return None
        extra: dict[str, tuple[str, ...]] = {}
        for kind, resource in (("pod", "pods"), ("secret", "secrets")):
            ref = k8s.get(kind)
            if not isinstance(ref, dict):
                continue
            obj = self.api.get("", resource, ns, str(ref.get("name", "")))
            if obj is None or obj["metadata"].get("uid") != ref.get("uid"):
                return None
            if kind == "pod":
                extra["authentication.kubernetes.io/pod-name"] = (str(ref["name"]),)
                extra["authentication.kubernetes.io/pod-uid"] = (str(ref["uid"]),)
        if claims.get("jti"):
            extra["authentication.kubernetes.io/credential-id"] = (f"JTI={claims['jti']}",)
        return sa_user(ns, str(sa["name"]), str(sa["uid"]), extra), matched
