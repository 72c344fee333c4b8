"""ServiceAccount tokens: TokenRequest, the legacy token Secret controller, default SAs."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Mapping
from typing import Any

from ..types import JSON, APIError, InternalAPI, SubresourceCall, SubresourceHandler
from .authn import API_AUDIENCES, ISSUER, LEGACY_ISSUER, sa_username
from .jwt import SigningKey
from .loop import Controller, Event, control_loop, meta
from .pki import now

TOKEN_SECRET_TYPE = "kubernetes.io/service-account-token"
SA_NAME_ANN = "kubernetes.io/service-account.name"
SA_UID_ANN = "kubernetes.io/service-account.uid"
DEFAULT_EXPIRATION = 3600
MIN_EXPIRATION = 600
MAX_EXPIRATION = 2**32


def _invalid(kind: str, name: str, field: str, value: Any, detail: str) -> APIError:
    group = "authentication.k8s.io"
    msg = f'{kind}.{group} "{name}" is invalid: {field}: Invalid value: {value}: {detail}'
    return APIError(
        422,
        "Invalid",
        msg,
        {
            "name": name,
            "group": group,
            "kind": kind,
            "causes": [
                {"reason": "FieldValueInvalid", "message": f"Invalid value: {value}: {detail}",
                 "field": field}
            ],
        },
    )  # fmt: skip


def legacy_token(key: SigningKey, namespace: str, sa: str, uid: str, secret: str) -> str:
    """A non-expiring token as the token controller puts in service-account-token Secrets."""
    return key.sign(
        {
            "iss": LEGACY_ISSUER,
            "kubernetes.io/serviceaccount/namespace": namespace,
            "kubernetes.io/serviceaccount/secret.name": secret,
            "kubernetes.io/serviceaccount/service-account.name": sa,
            "kubernetes.io/serviceaccount/service-account.uid": uid,
            "sub": sa_username(namespace, sa),
        }
    )


def bound_token(
    key: SigningKey,
    sa: Mapping[str, Any],
    audiences: list[str],
    seconds: int,
    bound: Mapping[str, tuple[str, str]] | None = None,
) -> tuple[str, int]:
    """(token, expiry as UNIX time) of a TokenRequest-style token bound to ``sa``."""
    issued = int(time.time())
    k8s: JSON = {
        "namespace": meta(sa)["namespace"],
        "serviceaccount": {"name": meta(sa)["name"], "uid": meta(sa)["uid"]},
    }
    for kind, (name, uid) in (bound or {}).items():
        k8s[kind] = {"name": name, "uid": uid}
    claims = {
        "aud": audiences,
        "exp": issued + seconds,
        "iat": issued,
        "nbf": issued,
        "iss": ISSUER,
        "jti": str(uuid.uuid4()),
        "kubernetes.io": k8s,
        "sub": sa_username(meta(sa)["namespace"], meta(sa)["name"]),
    }
    return key.sign(claims), issued + seconds


def token_request_handler(key: SigningKey) -> SubresourceHandler:
    """The handler of ``POST serviceaccounts/<name>/token``."""

    async def handle(call: SubresourceCall, api: InternalAPI) -> JSON:
        ns, name = call.attrs.namespace, call.attrs.name
        body = call.body or {}
        spec = body.get("spec") or {}
        sa = api.get("", "serviceaccounts", ns, name)
        if sa is None:
            raise APIError(
                404,
                "NotFound",
                f'serviceaccounts "{name}" not found',
                {"name": name, "kind": "serviceaccounts"},
            )
        seconds = spec.get("expirationSeconds")
        seconds = DEFAULT_EXPIRATION if seconds is None else seconds
        if not isinstance(seconds, int) or seconds < MIN_EXPIRATION:
            detail = "may not specify a duration less than 10 minutes"
            raise _invalid("TokenRequest", name, "spec.expirationSeconds", seconds, detail)
        if seconds > MAX_EXPIRATION:
            detail = "may not specify a duration larger than 2^32 seconds"
            raise _invalid("TokenRequest", name, "spec.expirationSeconds", seconds, detail)
        audiences = list(spec.get("audiences") or API_AUDIENCES)
        bound: dict[str, tuple[str, str]] = {}
        ref = spec.get("boundObjectRef")
        if ref:
            kind = str(ref.get("kind", ""))
            resource = {"Pod": "pods", "Secret": "secrets"}.get(kind)
            if resource is None:
                raise APIError(400, "BadRequest", f"cannot bind token to object of type {kind}")
            obj = api.get("", resource, ns, str(ref.get("name", "")))
            if obj is None:
                raise APIError(
                    404,
                    "NotFound",
                    f'{resource} "{ref.get("name")}" not found',
                    {"name": ref.get("name"), "kind": resource},
                )
            uid = meta(obj).get("uid", "")
            if ref.get("uid") and ref["uid"] != uid:
                raise APIError(
                    409,
                    "Conflict",
                    f"the UID in the bound object reference ({ref['uid']}) does not match "
                    f"the UID in record. The object might have been deleted and then recreated",
                )
            bound[kind.lower()] = (str(ref["name"]), str(uid))
        token, expiry = bound_token(key, sa, audiences, seconds, bound)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expiry))
        return {
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {
                "name": name,
                "namespace": ns,
                "creationTimestamp": now().strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
            "spec": {
                "audiences": audiences,
                "expirationSeconds": seconds,
                "boundObjectRef": ref or None,
            },
            "status": {"token": token, "expirationTimestamp": stamp},
        }

    return handle


async def _fill_secret(api: InternalAPI, key: SigningKey, ca_pem: bytes, secret: JSON) -> None:
    md = meta(secret)
    ns, name = md["namespace"], md["name"]
    annotations = dict(md.get("annotations") or {})
    sa_name = annotations.get(SA_NAME_ANN, "")
    sa = api.get("", "serviceaccounts", ns, sa_name) if sa_name else None
    if sa is None or (annotations.get(SA_UID_ANN) not in (None, "", meta(sa)["uid"])):
        if not md.get("deletionTimestamp"):
            await api.delete("", "secrets", ns, name)
        return
    data = dict(secret.get("data") or {})
    uid = meta(sa)["uid"]
    if data.get("token") and annotations.get(SA_UID_ANN) == uid:
        return
    token = legacy_token(key, ns, sa_name, uid, name)
    data["token"] = base64.b64encode(token.encode()).decode()
    data["ca.crt"] = base64.b64encode(ca_pem).decode()
    data["namespace"] = base64.b64encode(ns.encode()).decode()
    annotations[SA_UID_ANN] = uid
    await api.update("", "secrets", {**secret, "metadata": {**md, "annotations": annotations},
                                     "data": data})  # fmt: skip


def token_secret_controller(key: SigningKey, ca_pem: bytes) -> Controller:
    """Fills Secrets of type service-account-token; deletes them with their ServiceAccount."""

    async def run(api: InternalAPI) -> None:
        async def sync(event: Event) -> None:
            if event is not None and event[1].type == "DELETED":
                if event[0] != "serviceaccounts":
                    return
                secrets = api.list("", "secrets", meta(event[1].object).get("namespace"))
            elif event is not None and event[0] == "secrets":
                secrets = [event[1].object]
            else:
                secrets = api.list("", "secrets")
            for secret in secrets:
                if secret.get("type") == TOKEN_SECRET_TYPE:
                    current = api.get(
                        "", "secrets", meta(secret)["namespace"], meta(secret)["name"]
                    )
                    if current is not None:
                        await _fill_secret(api, key, ca_pem, current)

        await control_loop(
            api, "serviceaccount-token", [("", "secrets"), ("", "serviceaccounts")], sync
        )

    return run


async def default_serviceaccount_controller(api: InternalAPI) -> None:
    """Ensure a ``default`` ServiceAccount in every active namespace."""

    async def sync(event: Event) -> None:
        for ns in api.list("", "namespaces"):
            md = meta(ns)
            active = (ns.get("status") or {}).get("phase", "Active") == "Active"
            if md.get("deletionTimestamp") or not active:
                continue
            if api.get("", "serviceaccounts", md["name"], "default") is None:
                try:
                    await api.create(
                        "",
                        "serviceaccounts",
                        {
                            "apiVersion": "v1",
                            "kind": "ServiceAccount",
                            "metadata": {"name": "default", "namespace": md["name"]},
                        },
                    )
                except APIError as exc:
                    if exc.code not in (409, 403, 404):
                        raise

    await control_loop(api, "serviceaccount", [("", "namespaces"), ("", "serviceaccounts")], sync)


ROOT_CA_CONFIGMAP = "kube-root-ca.crt"


def root_ca_publisher(ca_pem: bytes) -> Controller:
    """Keep ConfigMap ``kube-root-ca.crt`` (key ``ca.crt``) in every active namespace."""
    wanted = {"ca.crt": ca_pem.decode()}

    async def run(api: InternalAPI) -> None:
        async def sync(event: Event) -> None:
            name = meta(event[1].object).get("name") if event is not None else None
            if event is not None and event[0] == "configmaps" and name != ROOT_CA_CONFIGMAP:
                return
            for ns in api.list("", "namespaces"):
                md = meta(ns)
                if md.get("deletionTimestamp") or (ns.get("status") or {}).get("phase") == (
                    "Terminating"
                ):
                    continue
                current = api.get("", "configmaps", md["name"], ROOT_CA_CONFIGMAP)
                try:
                    if current is None:
                        await api.create("", "configmaps", {
                            "apiVersion": "v1", "kind": "ConfigMap", "data": wanted,
                            "metadata": {"name": ROOT_CA_CONFIGMAP, "namespace": md["name"]},
                        })  # fmt: skip
                    elif current.get("data") != wanted:
                        await api.update("", "configmaps", {**current, "data": wanted})
                except APIError as exc:
                    if exc.code not in (404, 409, 403):
                        raise

        await control_loop(api, "root-ca-publisher", [("", "namespaces"), ("", "configmaps")], sync)

    return run
