"""Admission: built-in plugins that matter here, then dynamic admission webhooks.

Built-ins: RBAC escalation prevention, the CertificateSigningRequest create strategy
(requester identity), field validation and CertificateSubjectRestriction, and
CertificateSigning (status.certificate writes need ``sign`` on the signer).

Webhooks get AdmissionReview v1 over HTTPS, verifying ``caBundle``; mutating webhooks run
in order, each seeing the previous one's patches; validating webhooks run concurrently.
``reinvocationPolicy: IfNeeded`` webhooks are re-run once if later ones changed the object.

Where webhooks are dialed from: by default the emulator's own network namespace. Given
``webhook_netns`` (a ``/run/netns/<name>`` file), every webhook connection is opened in
that namespace instead (:class:`..netns.NetnsSockets`), as kube-apiserver dials from its
control-plane node's network: the sandbox points it at its control-plane node, which
routes to every pod. A service reference resolves to one ready endpoint of the Service
(its EndpointSlices), not to its cluster IP, so no service proxy is needed on the way.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import logging
import ssl
import urllib.parse
import uuid
from collections.abc import Mapping
from typing import Any

import aiohttp
import jsonpatch
import orjson

from ..netns import NetnsSockets
from ..types import JSON, AdmissionAttributes, AdmissionDenied, InternalAPI
from .csr import GROUP as CSR_GROUP
from .csr import RESOURCE as CSR_RESOURCE
from .csr import Authorize, prepare_create, validate_create, validate_status_update
from .escalation import EscalationCheck
from .webhooks import (
    ResolveError,
    Webhook,
    load_webhooks,
    resolve,
    shown_url,
    webhook_matches,
)

log = logging.getLogger(__name__)

_OPTIONS = {"CREATE": "CreateOptions", "UPDATE": "UpdateOptions", "DELETE": "DeleteOptions"}


class WebhookCallError(Exception):
    """Calling a webhook failed (transport, HTTP status or malformed response)."""


def denied(hook_name: str, result: Mapping[str, Any] | None) -> AdmissionDenied:
    """The error a webhook's refusal turns into (Kubernetes' ``ToStatusErr``)."""
    result = dict(result or {})
    by = f'admission webhook "{hook_name}" denied the request'
    code = int(result.get("code") or 0)
    if result.get("message"):
        message = f"{by}: {result['message']}"
    elif result.get("reason"):
        message = f"{by}: {result['reason']}"
    else:
        message = f"{by} without explanation"
    return AdmissionDenied(max(code, 400), str(result.get("reason") or ""), message,
                           result.get("details"))  # fmt: skip


def _call_failed(hook: Webhook, url: str, timeout: float, err: str) -> AdmissionDenied:
    inner = f'failed calling webhook "{hook.name}": failed to call webhook: '
    inner += f'Post "{url}?timeout={int(timeout)}s": {err}'
    return AdmissionDenied(
        500,
        "InternalError",
        f"Internal error occurred: {inner}",
        {"causes": [{"message": inner}]},
    )


def _user_info(attrs: AdmissionAttributes) -> JSON:
    out: JSON = {"username": attrs.user.name, "groups": list(attrs.user.groups)}
    if attrs.user.uid:
        out["uid"] = attrs.user.uid
    if attrs.user.extra:
        out["extra"] = {k: list(v) for k, v in attrs.user.extra.items()}
    return out


def build_review(attrs: AdmissionAttributes, obj: JSON | None, old: JSON | None) -> JSON:
    """An AdmissionReview v1 request for ``attrs``."""
    rt = attrs.resource
    kind = {"group": rt.group, "version": rt.version, "kind": rt.kind}
    if attrs.subresource == "scale":
        kind = {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    resource = {"group": rt.group, "version": rt.version, "resource": rt.resource}
    request: JSON = {
        "uid": str(uuid.uuid4()),
        "kind": kind,
        "resource": resource,
        "requestKind": kind,
        "requestResource": resource,
        "operation": attrs.operation,
        "userInfo": _user_info(attrs),
        "object": obj,
        "oldObject": old,
        "dryRun": attrs.dry_run,
    }
    if attrs.subresource:
        request["subResource"] = attrs.subresource
        request["requestSubResource"] = attrs.subresource
    if attrs.name:
        request["name"] = attrs.name
    if attrs.namespace:
        request["namespace"] = attrs.namespace
    if attrs.operation in _OPTIONS:
        options: JSON = {"kind": _OPTIONS[attrs.operation], "apiVersion": "meta.k8s.io/v1"}
        if attrs.dry_run:
            options["dryRun"] = ["All"]
        request["options"] = options
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


def _is_loopback(url: str) -> bool:
    """Whether ``url`` names a loopback host: the API server's own, which for the emulator
    is the host's (it listens there), so such webhooks are dialled from the host's network
    rather than the control-plane node's."""
    host = urllib.parse.urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _ssl_context(hook: Webhook) -> ssl.SSLContext:
    bundle = (hook.spec.get("clientConfig") or {}).get("caBundle")
    if bundle:
        return ssl.create_default_context(cadata=base64.b64decode(bundle).decode())
    return ssl.create_default_context()


class Admission:
    """The admission chain the server runs on writes (``mutate`` then ``validate``)."""

    def __init__(
        self,
        api: InternalAPI,
        authorize: Authorize,
        escalation: EscalationCheck | None = None,
        *,
        webhook_netns: str | None = None,
    ) -> None:
        self.api, self.authorize, self.escalation = api, authorize, escalation
        self.sockets = NetnsSockets(webhook_netns) if webhook_netns else None

    def _is_csr(self, attrs: AdmissionAttributes) -> bool:
        return (attrs.resource.group, attrs.resource.resource) == (CSR_GROUP, CSR_RESOURCE)

    async def mutate(self, attrs: AdmissionAttributes, obj: JSON, old: JSON | None) -> JSON:
        """Built-in defaulting, then each matching mutating webhook in order.

        Webhooks with ``reinvocationPolicy: IfNeeded`` are called once more if a later
        webhook changed the object after them.
        """
        if self._is_csr(attrs) and attrs.operation == "CREATE" and not attrs.subresource:
            obj = prepare_create(attrs.user, obj)
        hooks = load_webhooks(self.api, "mutatingwebhookconfigurations")
        seen: dict[int, JSON] = {}
        for index, hook in enumerate(hooks):
            obj, called = await self._mutate_once(hook, attrs, obj, old)
            if called:
                seen[index] = obj
        for index, hook in enumerate(hooks):
            reinvoke = hook.spec.get("reinvocationPolicy") == "IfNeeded"
            if reinvoke and index in seen and seen[index] != obj:
                obj, _ = await self._mutate_once(hook, attrs, obj, old)
        return obj

    async def _mutate_once(
        self, hook: Webhook, attrs: AdmissionAttributes, obj: JSON, old: JSON | None
    ) -> tuple[JSON, bool]:
        """(object after ``hook``'s patch, whether it was called)."""
        sent_obj, sent_old = self._objects(attrs, obj, old)
        if not webhook_matches(hook, attrs, sent_obj, sent_old, self.api):
            return obj, False
        response = await self._call(hook, attrs, sent_obj, sent_old)
        patch = (response or {}).get("patch")
        if response is None or attrs.operation == "DELETE" or not patch:
            return obj, True
        if response.get("patchType", "JSONPatch") != "JSONPatch":
            raise _call_failed(hook, shown_url(hook.spec.get("clientConfig") or {}),
                               hook.timeout, "unsupported patchType")  # fmt: skip
        try:
            ops = orjson.loads(base64.b64decode(patch))
            patched: JSON = jsonpatch.apply_patch(obj, ops)
        except (ValueError, jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
            raise AdmissionDenied(
                500, "InternalError",
                f"Internal error occurred: JSON patch from webhook {hook.name!r} "
                f"failed to apply: {exc}",
            ) from None  # fmt: skip
        return patched, True

    async def validate(self, attrs: AdmissionAttributes, obj: JSON, old: JSON | None) -> None:
        """Built-in validation, then all matching validating webhooks (concurrently)."""
        if self.escalation is not None:
            self.escalation.check(attrs, obj)
        if self._is_csr(attrs):
            if attrs.operation == "CREATE" and not attrs.subresource:
                validate_create(attrs.name or str((obj.get("metadata") or {}).get("name")), obj)
            if attrs.operation == "UPDATE" and attrs.subresource == "status" and old is not None:
                validate_status_update(self.authorize, attrs, obj, old)
        sent_obj, sent_old = self._objects(attrs, obj, old)
        hooks = [
            h
            for h in load_webhooks(self.api, "validatingwebhookconfigurations")
            if webhook_matches(h, attrs, sent_obj, sent_old, self.api)
        ]
        results = await asyncio.gather(
            *(self._call(h, attrs, sent_obj, sent_old) for h in hooks), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result

    @staticmethod
    def _objects(
        attrs: AdmissionAttributes, obj: JSON | None, old: JSON | None
    ) -> tuple[JSON | None, JSON | None]:
        if attrs.operation == "DELETE":
            return None, old if old is not None else obj
        return obj, old

    async def _call(
        self, hook: Webhook, attrs: AdmissionAttributes, obj: JSON | None, old: JSON | None
    ) -> JSON | None:
        """The webhook's allowed response, None if ignored; raises when it refuses."""
        if attrs.dry_run and hook.spec.get("sideEffects") not in ("None", "NoneOnDryRun"):
            raise AdmissionDenied(
                400, "BadRequest", f'admission webhook "{hook.name}" does not support dry run'
            )
        review = build_review(attrs, obj, old)
        shown = shown_url(hook.spec.get("clientConfig") or {})
        try:
            url, _, server_name = resolve(self.api, hook.spec.get("clientConfig") or {})
            response = await self._post(hook, url, server_name, review, self.sockets)
            if response.get("uid") != review["request"]["uid"]:
                raise WebhookCallError(
                    f'expected response.uid "{review["request"]["uid"]}", '
                    f'got "{response.get("uid")}"'
                )
        except (ResolveError, WebhookCallError) as exc:
            if hook.fail_open:
                log.warning("webhook %s failed, ignored (failurePolicy Ignore): %s", hook.name, exc)
                return None
            raise _call_failed(hook, shown, hook.timeout, str(exc)) from None
        if not response.get("allowed"):
            raise denied(hook.name, response.get("status"))
        # As kube-apiserver: each warning becomes a ``Warning: 299`` header of the answer.
        attrs.warnings.extend(str(w) for w in response.get("warnings") or [])
        return response

    @staticmethod
    async def _post(
        hook: Webhook, url: str, server_name: str, review: JSON, sockets: NetnsSockets | None
    ) -> JSON:
        timeout = aiohttp.ClientTimeout(total=hook.timeout)
        connector = (
            aiohttp.TCPConnector(socket_factory=sockets.socket_factory)
            if sockets is not None and not _is_loopback(url)
            else None
        )
        sep = "&" if "?" in url else "?"
        target = f"{url}{sep}timeout={int(hook.timeout)}s"
        kwargs: dict[str, Any] = {"ssl": _ssl_context(hook)}
        if server_name:
            kwargs["server_hostname"] = server_name
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout, connector=connector) as session,
                session.post(
                    target,
                    data=orjson.dumps(review),
                    headers={"Content-Type": "application/json", "Accept": "application/json"},
                    **kwargs,
                ) as resp,
            ):
                body = await resp.read()
                if resp.status != 200:
                    raise WebhookCallError(
                        f"the server responded with the status code {resp.status}"
                    )
        except TimeoutError:
            raise WebhookCallError("context deadline exceeded") from None
        except aiohttp.ClientError as exc:
            raise WebhookCallError(str(exc) or type(exc).__name__) from None
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise WebhookCallError("the response is not JSON") from None
        if not isinstance(data, dict) or not isinstance(data.get("response"), dict):
            raise WebhookCallError("the response is not an AdmissionReview with a response")
        response: JSON = data["response"]
        return response
