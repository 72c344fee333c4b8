"""Admission webhook configurations: which webhooks a request matches, and where they live.

Matching follows Kubernetes: rules (operations, apiGroups, apiVersions, resources with
subresources, scope), namespaceSelector (cluster-scoped objects other than Namespaces always
match), objectSelector (old or new object), matchPolicy (``Equivalent``, the default,
ignores the version: the emulator serves one version per resource and does not convert).
``matchConditions`` (CEL) are not evaluated: such webhooks are called whenever the rest
matches.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..types import JSON, AdmissionAttributes, InternalAPI
from .loop import meta
from .policy import labels_match

ADMISSION_GROUP = "admissionregistration.k8s.io"
# Requests on these are never sent to webhooks (as in Kubernetes, to avoid deadlocks).
EXEMPT = {
    (ADMISSION_GROUP, "mutatingwebhookconfigurations"),
    (ADMISSION_GROUP, "validatingwebhookconfigurations"),
    (ADMISSION_GROUP, "validatingadmissionpolicies"),
    (ADMISSION_GROUP, "validatingadmissionpolicybindings"),
    (ADMISSION_GROUP, "mutatingadmissionpolicies"),
    (ADMISSION_GROUP, "mutatingadmissionpolicybindings"),
}


@dataclass(frozen=True)
class Webhook:
    """One webhook of a Mutating/ValidatingWebhookConfiguration."""

    config: str
    spec: JSON

    @property
    def name(self) -> str:
        """The webhook's name (as in error messages)."""
        return str(self.spec.get("name", ""))

    @property
    def fail_open(self) -> bool:
        """failurePolicy Ignore (default is Fail)."""
        return bool(self.spec.get("failurePolicy", "Fail") == "Ignore")

    @property
    def timeout(self) -> float:
        """timeoutSeconds (default 10)."""
        return float(self.spec.get("timeoutSeconds") or 10)


def load_webhooks(api: InternalAPI, resource: str) -> list[Webhook]:
    """The webhooks of all configurations of ``resource``, ordered by configuration name."""
    configs = sorted(api.list(ADMISSION_GROUP, resource), key=lambda c: str(meta(c)["name"]))
    return [Webhook(meta(c)["name"], hook) for c in configs for hook in c.get("webhooks") or []]


def _split(resource: str) -> tuple[str, str]:
    res, _, sub = resource.partition("/")
    return res, sub


def rule_matches(rule: Mapping[str, Any], attrs: AdmissionAttributes, exact: bool) -> bool:
    """One RuleWithOperations against the request."""
    rt = attrs.resource

    def has(key: str, value: str) -> bool:
        items = rule.get(key) or []
        return "*" in items or value in items

    if not has("operations", attrs.operation) or not has("apiGroups", rt.group):
        return False
    if exact and not has("apiVersions", rt.version):
        return False
    if not any(
        r in ("*", rt.resource) and s in ("*", attrs.subresource)
        for r, s in map(_split, rule.get("resources") or [])
    ):
        return False
    scope = rule.get("scope") or "*"
    is_namespace = rt.group == "" and rt.resource == "namespaces"
    if scope == "Cluster":
        return is_namespace or not attrs.namespace
    if scope == "Namespaced":
        return not is_namespace and bool(attrs.namespace)
    return True


def _labels(obj: Mapping[str, Any] | None) -> dict[str, str]:
    return dict(meta(obj).get("labels") or {}) if obj else {}


def webhook_matches(
    hook: Webhook,
    attrs: AdmissionAttributes,
    obj: Mapping[str, Any] | None,
    old: Mapping[str, Any] | None,
    api: InternalAPI,
) -> bool:
    """Whether ``hook`` must be called for this request."""
    if (attrs.resource.group, attrs.resource.resource) in EXEMPT:
        return False
    exact = hook.spec.get("matchPolicy") == "Exact"
    if not any(rule_matches(r, attrs, exact) for r in hook.spec.get("rules") or []):
        return False
    is_namespace = attrs.resource.group == "" and attrs.resource.resource == "namespaces"
    ns_selector = hook.spec.get("namespaceSelector")
    if ns_selector and (attrs.namespace or is_namespace):
        if is_namespace and not attrs.subresource:
            ns_labels = _labels(obj or old)
        else:
            ns_obj = api.get("", "namespaces", "", attrs.namespace or attrs.name)
            ns_labels = _labels(ns_obj)
        if not labels_match(ns_selector, ns_labels):
            return False
    obj_selector = hook.spec.get("objectSelector")
    if obj_selector:
        candidates = [o for o in (obj, old) if o is not None]
        if not any(labels_match(obj_selector, _labels(o)) for o in candidates):
            return False
    return True


class ResolveError(Exception):
    """A webhook's service has no usable endpoint."""


def _host(ip: str) -> str:
    try:
        return f"[{ip}]" if isinstance(ipaddress.ip_address(ip), ipaddress.IPv6Address) else ip
    except ValueError:
        return ip


def shown_url(client_config: Mapping[str, Any]) -> str:
    """The webhook URL as Kubernetes reports it in errors."""
    if client_config.get("url"):
        return str(client_config["url"])
    svc = client_config.get("service") or {}
    port = int(svc.get("port") or 443)
    return f"https://{svc.get('name')}.{svc.get('namespace')}.svc:{port}{svc.get('path') or ''}"


def resolve(api: InternalAPI, client_config: Mapping[str, Any]) -> tuple[str, str, str]:
    """(URL to dial, URL as reported, TLS server name) of a webhook clientConfig."""
    url = client_config.get("url")
    if url:
        return str(url), str(url), ""
    svc_ref = client_config.get("service") or {}
    ns, name = str(svc_ref.get("namespace", "")), str(svc_ref.get("name", ""))
    port = int(svc_ref.get("port") or 443)
    path = str(svc_ref.get("path") or "")
    server_name = f"{name}.{ns}.svc"
    shown = f"https://{server_name}:{port}{path}"
    svc = api.get("", "services", ns, name)
    if svc is None:
        raise ResolveError(f'service "{name}" not found')
    spec = svc.get("spec") or {}
    if spec.get("type") == "ExternalName":
        return f"https://{spec.get('externalName')}:{port}{path}", shown, server_name
    svc_port = next((p for p in spec.get("ports") or [] if p.get("port") == port), None)
    if svc_port is None:
        raise ResolveError(f'service "{name}" does not expose port {port}')
    port_name = svc_port.get("name", "")
    for eps in api.list("discovery.k8s.io", "endpointslices", ns):
        if _labels(eps).get("kubernetes.io/service-name") != name:
            continue
        ports = [p for p in eps.get("ports") or [] if p.get("name", "") == port_name]
        for ep in eps.get("endpoints") or []:
            ready = (ep.get("conditions") or {}).get("ready")
            if ready is False or not ep.get("addresses") or not ports:
                continue
            return (
                f"https://{_host(ep['addresses'][0])}:{ports[0]['port']}{path}",
                shown,
                server_name,
            )
    legacy = api.get("", "endpoints", ns, name)
    for subset in (legacy or {}).get("subsets") or []:
        ports = [p for p in subset.get("ports") or [] if p.get("name", "") == port_name]
        addrs = subset.get("addresses") or []
        if ports and addrs:
            return f"https://{_host(addrs[0]['ip'])}:{ports[0]['port']}{path}", shown, server_name
    raise ResolveError(f'no endpoints available for service "{name}"')
