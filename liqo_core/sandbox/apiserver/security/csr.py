"""CertificateSigningRequests: create-time strategy, approval, the in-process signer.

Minimum ``spec.expirationSeconds`` is 600 as in Kubernetes; the environment variable
``LIQO_APISERVER_CSR_MIN_EXPIRATION_SECONDS`` lowers it (e.g. to 60) so certificate
rotation tests can run in minutes. The signer honours the requested duration, capped at
one year (kube-controller-manager's default ``--cluster-signing-duration``).
"""

from __future__ import annotations

import base64
import datetime as dt
import os
from collections.abc import Callable, Mapping
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ..types import (
    JSON,
    AdmissionAttributes,
    AdmissionDenied,
    APIError,
    InternalAPI,
    RequestAttributes,
    SubresourceCall,
    SubresourceHandler,
    UserInfo,
)
from .loop import Controller, Event, control_loop, meta
from .pki import CertificateAuthority, load_public_key_of_csr, now, user_from_subject

GROUP = "certificates.k8s.io"
RESOURCE = "certificatesigningrequests"
CLIENT_SIGNER = "kubernetes.io/kube-apiserver-client"
KUBELET_CLIENT_SIGNER = "kubernetes.io/kube-apiserver-client-kubelet"
KUBELET_SERVING_SIGNER = "kubernetes.io/kubelet-serving"
MIN_EXPIRATION_ENV = "LIQO_APISERVER_CSR_MIN_EXPIRATION_SECONDS"
MAX_DURATION = dt.timedelta(days=365)
# kube-controller-manager backdates certificates by 5 minutes; the end of "short" ones
# (under 8 hours) is not backdated.
BACKDATE = dt.timedelta(minutes=5)
SHORT = dt.timedelta(hours=8)

Authorize = Callable[[RequestAttributes], tuple[bool, str]]


def min_expiration_seconds() -> int:
    """The smallest ``spec.expirationSeconds`` accepted (600 unless overridden by env)."""
    return int(os.environ.get(MIN_EXPIRATION_ENV, "600"))


def _timestamp() -> str:
    return now().strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_request(spec: Mapping[str, Any]) -> x509.CertificateSigningRequest:
    """The x509 request of ``spec.request`` (base64 of a PEM CERTIFICATE REQUEST)."""
    raw = base64.b64decode(spec.get("request") or "")
    csr = x509.load_pem_x509_csr(raw)
    if not csr.is_signature_valid:
        raise ValueError("the request signature is invalid")
    return csr


def _invalid(name: str, field: str, value: Any, detail: str) -> APIError:
    kind = "CertificateSigningRequest"
    text = f"Invalid value: {value}: {detail}" if value is not None else detail
    return APIError(
        422,
        "Invalid",
        f'{kind}.{GROUP} "{name}" is invalid: {field}: {text}',
        {"name": name, "group": GROUP, "kind": kind,
         "causes": [{"reason": "FieldValueInvalid", "message": text, "field": field}]},
    )  # fmt: skip


def _forbidden(name: str, message: str) -> AdmissionDenied:
    return AdmissionDenied(
        403,
        "Forbidden",
        f'{RESOURCE}.{GROUP} "{name}" is forbidden: {message}',
        {"name": name, "group": GROUP, "kind": RESOURCE},
    )


def prepare_create(user: UserInfo, obj: JSON) -> JSON:
    """The create strategy: requester identity from the caller, empty status."""
    spec = dict(obj.get("spec") or {})
    spec["username"] = user.name
    spec["uid"] = user.uid
    spec["groups"] = list(user.groups)
    if user.extra:
        spec["extra"] = {k: list(v) for k, v in user.extra.items()}
    else:
        spec.pop("extra", None)
    return {**obj, "spec": spec, "status": {}}


def validate_create(name: str, obj: Mapping[str, Any]) -> None:
    """Field validation of a new CSR, plus the CertificateSubjectRestriction plugin."""
    spec = obj.get("spec") or {}
    if not spec.get("signerName"):
        raise _invalid(name, "spec.signerName", None, "Required value")
    if not spec.get("usages"):
        raise _invalid(name, "spec.usages", None, "Required value")
    try:
        req = parse_request(spec)
    except ValueError as exc:
        raise _invalid(name, "spec.request", "[]byte{...}", str(exc)) from None
    seconds = spec.get("expirationSeconds")
    if seconds is not None and (not isinstance(seconds, int) or seconds < min_expiration_seconds()):
        floor = min_expiration_seconds()
        detail = f"may not specify a duration less than {floor} seconds ({floor // 60} minutes)"
        raise _invalid(name, "spec.expirationSeconds", seconds, detail)
    if (
        spec["signerName"] == CLIENT_SIGNER
        and "system:masters" in user_from_subject(req.subject)[1]
    ):
        raise _forbidden(
            name, f"use of {CLIENT_SIGNER} signer with system:masters group is not allowed"
        )


def signer_allowed(authorize: Authorize, user: UserInfo, verb: str, signer: str) -> bool:
    """Whether ``user`` may ``verb`` (approve/sign) for ``signer`` or its ``domain/*``."""
    names = [signer]
    if "/" in signer:
        names.append(signer.split("/", 1)[0] + "/*")
    for name in names:
        attrs = RequestAttributes(
            user=user,
            verb=verb,
            resource_request=True,
            api_group=GROUP,
            api_version="v1",
            resource="signers",
            name=name,
        )
        if authorize(attrs)[0]:
            return True
    return False


def validate_status_update(
    authorize: Authorize, attrs: AdmissionAttributes, obj: Mapping[str, Any], old: Mapping[str, Any]
) -> None:
    """The CertificateSigning plugin: setting status.certificate needs ``sign`` on the signer."""
    new_cert = (obj.get("status") or {}).get("certificate")
    if new_cert == (old.get("status") or {}).get("certificate"):
        return
    signer = (old.get("spec") or {}).get("signerName", "")
    if not signer_allowed(authorize, attrs.user, "sign", signer):
        raise _forbidden(
            attrs.name, f'user not permitted to sign requests with signerName "{signer}"'
        )


def _merge_conditions(old: list[JSON], new: list[JSON], name: str) -> list[JSON]:
    types = [c.get("type") for c in new]
    if len(set(types)) != len(types):
        raise _invalid(name, "status.conditions", None, "Duplicate value")
    if "Approved" in types and "Denied" in types:
        raise _invalid(name, "status.conditions", None, "Approved and Denied are exclusive")
    for cond in old:
        if cond.get("type") in ("Approved", "Denied") and cond.get("type") not in types:
            raise _invalid(
                name,
                "status.conditions",
                None,
                f"Forbidden: updates may not remove a condition of type {cond.get('type')!r}",
            )
    merged = []
    for given in new:
        cond = dict(given)
        if cond.get("type") in ("Approved", "Denied") and cond.get("status") != "True":
            raise _invalid(name, "status.conditions", cond.get("status"), 'must be "True"')
        cond.setdefault("status", "True")
        cond.setdefault("lastUpdateTime", _timestamp())
        cond.setdefault("lastTransitionTime", cond["lastUpdateTime"])
        merged.append(cond)
    return merged


def approval_handler(authorize: Authorize) -> SubresourceHandler:
    """The handler of ``PUT certificatesigningrequests/<name>/approval``."""

    async def handle(call: SubresourceCall, api: InternalAPI) -> JSON:
        name = call.attrs.name
        current = api.get(GROUP, RESOURCE, "", name)
        if current is None:
            raise APIError(
                404,
                "NotFound",
                f'{RESOURCE}.{GROUP} "{name}" not found',
                {"name": name, "group": GROUP, "kind": RESOURCE},
            )
        body = call.body or {}
        signer = (current.get("spec") or {}).get("signerName", "")
        if not signer_allowed(authorize, call.attrs.user, "approve", signer):
            raise _forbidden(
                name, f'user not permitted to approve requests with signerName "{signer}"'
            )
        status = dict(current.get("status") or {})
        old_conditions = list(status.get("conditions") or [])
        new_conditions = list((body.get("status") or {}).get("conditions") or [])
        status["conditions"] = _merge_conditions(old_conditions, new_conditions, name)
        md = dict(meta(current))
        rv = meta(body).get("resourceVersion")
        if rv:
            md["resourceVersion"] = rv
        return await api.update(GROUP, RESOURCE, {**current, "metadata": md, "status": status},
                                subresource="approval")  # fmt: skip

    return handle


def _has_condition(csr: Mapping[str, Any], kind: str) -> bool:
    conds = (csr.get("status") or {}).get("conditions") or []
    return any(c.get("type") == kind and c.get("status", "True") == "True" for c in conds)


def check_signer_policy(
    signer: str, req: x509.CertificateSigningRequest, usages: list[str]
) -> str | None:
    """Why the signer refuses this request (None = acceptable), as kube-controller-manager."""
    cn, orgs = user_from_subject(req.subject)
    allowed = {"digital signature", "key encipherment", "client auth"}
    if signer == KUBELET_SERVING_SIGNER:
        allowed = {"digital signature", "key encipherment", "server auth"}
    if signer in (KUBELET_CLIENT_SIGNER, KUBELET_SERVING_SIGNER):
        if list(orgs) != ["system:nodes"]:
            return "subject organization is not system:nodes"
        if not cn.startswith("system:node:"):
            return "subject common name does not begin with system:node:"
    for usage in usages:
        if usage not in allowed:
            kind = "serving" if signer == KUBELET_SERVING_SIGNER else "client"
            return f"invalid usage for {kind} certificate: {usage}"
    required = "server auth" if signer == KUBELET_SERVING_SIGNER else "client auth"
    if required not in usages:
        return f"missing required usage for certificate: {required}"
    return None


def _sans(req: x509.CertificateSigningRequest) -> list[x509.GeneralName]:
    try:
        return list(req.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    except x509.ExtensionNotFound:
        return []


async def sign_one(api: InternalAPI, ca: CertificateAuthority, csr: JSON) -> None:
    """Issue (or fail) one approved CSR of a built-in signer; no-op otherwise."""
    spec, status = csr.get("spec") or {}, csr.get("status") or {}
    signer = spec.get("signerName")
    if signer not in (CLIENT_SIGNER, KUBELET_CLIENT_SIGNER, KUBELET_SERVING_SIGNER):
        return
    if not _has_condition(csr, "Approved") or _has_condition(csr, "Denied"):
        return
    if _has_condition(csr, "Failed") or status.get("certificate"):
        return
    usages = list(spec.get("usages") or [])
    problem: str | None
    try:
        req = parse_request(spec)
        problem = check_signer_policy(signer, req, usages)
    except ValueError as exc:
        problem = f"unable to parse csr: {exc}"
    if problem is None:
        seconds = spec.get("expirationSeconds")
        lifetime = MAX_DURATION
        if isinstance(seconds, int):
            lifetime = min(lifetime, dt.timedelta(seconds=seconds))
        if lifetime >= SHORT:
            lifetime -= BACKDATE
        sans = _sans(req) if signer == KUBELET_SERVING_SIGNER else []
        key = load_public_key_of_csr(req)
        cert = ca.sign(req.subject, key, lifetime, usages, sans=sans, backdate=BACKDATE)
        pem = cert.public_bytes(serialization.Encoding.PEM)
        status = {**status, "certificate": base64.b64encode(pem).decode()}
    else:
        conds = list(status.get("conditions") or [])
        stamp = _timestamp()
        conds.append(
            {"type": "Failed", "status": "True", "reason": "SignerValidationFailure",
             "message": problem, "lastUpdateTime": stamp, "lastTransitionTime": stamp}
        )  # fmt: skip
        status = {**status, "conditions": conds}
    await api.update(GROUP, RESOURCE, {**csr, "status": status}, subresource="status")


def signer_controller(ca: CertificateAuthority) -> Controller:
    """The kube-controller-manager CSR signer for the kubernetes.io client/kubelet signers."""

    async def run(api: InternalAPI) -> None:
        async def sync(event: Event) -> None:
            if event is not None and event[1].type == "DELETED":
                return
            names = (
                [meta(event[1].object)["name"]]
                if event is not None
                else [meta(c)["name"] for c in api.list(GROUP, RESOURCE)]
            )
            for name in names:
                current = api.get(GROUP, RESOURCE, "", name)
                if current is not None:
                    await sign_one(api, ca, current)

        await control_loop(api, "csr-signer", [(GROUP, RESOURCE)], sync)

    return run
