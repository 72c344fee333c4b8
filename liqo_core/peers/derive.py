"""Deriving a ForeignCluster's status from the modules' reports (pure functions).

Conditions keep their ``lastTransitionTime`` while their status is unchanged; everything
else is recomputed from the reports on every reconciliation, as upstream does.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from liqo_core.peers.contract import MODULE_NAMES, ModulePeerStatus, PeerCondition

JSON = dict[str, Any]


def merge_reports(reports: Iterable[ModulePeerStatus]) -> ModulePeerStatus:
    """Combine several sources' reports for one module (flags or-ed, first value wins)."""
    merged = ModulePeerStatus()
    for report in reports:
        merged.in_use |= report.in_use
        merged.consumer |= report.consumer
        merged.provider |= report.provider
        merged.conditions.extend(report.conditions)
        merged.details.extend(report.details)
        for name in (
            "tenant_namespace_local",
            "tenant_namespace_remote",
            "api_server_url",
            "proxy_url",
            "kubeconfig",
        ):
            if getattr(merged, name) is None:
                setattr(merged, name, getattr(report, name))
    return merged


def peering_role(consumer: bool, provider: bool) -> str:
    """``Consumer`` (the peer consumes our resources), ``Provider``, both, or ``Unknown``."""
    if consumer and provider:
        return "ConsumerAndProvider"
    if consumer:
        return "Consumer"
    if provider:
        return "Provider"
    return "Unknown"


def merge_conditions(
    previous: Iterable[Mapping[str, Any]] | None, current: Iterable[PeerCondition], now: str
) -> list[JSON]:
    """``current`` as status conditions; a condition whose status did not change keeps
    its previous ``lastTransitionTime``."""
    before = {str(c.get("type")): c for c in previous or ()}
    merged: list[JSON] = []
    for condition in current:
        old = before.get(condition.type)
        unchanged = old is not None and old.get("status") == condition.status
        since = str(old.get("lastTransitionTime")) if unchanged and old else now
        entry: JSON = {
            "type": condition.type,
            "status": condition.status,
            "lastTransitionTime": since,
        }
        if condition.reason:
            entry["reason"] = condition.reason
        if condition.message:
            entry["message"] = condition.message
        merged.append(entry)
    return merged


def derive_status(
    previous: Mapping[str, Any] | None,
    enabled_modules: Collection[str],
    reports: Mapping[str, ModulePeerStatus],
    api_server: PeerCondition | None,
    now: str,
    *,
    generation: int | None = None,
) -> JSON:
    """The ForeignCluster ``status`` for one peer.

    :param previous: The current status (for transition times).
    :param enabled_modules: Modules this controller-manager runs; the others are shown
        disabled, with no conditions.
    :param reports: One merged report per module (see :func:`merge_reports`).
    :param api_server: Outcome of the API server check, when the peer can be probed.
    :param now: RFC 3339 timestamp for new transitions.
    :param generation: The ForeignCluster's ``metadata.generation``.
    """
    previous = previous or {}
    previous_modules = previous.get("modules") or {}
    modules: JSON = {}
    consumer = provider = False
    active: list[ModulePeerStatus] = []
    for name in MODULE_NAMES:
        report = reports.get(name)
        if name not in enabled_modules or report is None or not report.in_use:
            modules[name] = {"enabled": False}
            continue
        active.append(report)
        consumer |= report.consumer
        provider |= report.provider
        section: JSON = {"enabled": True}
        old = (previous_modules.get(name) or {}).get("conditions")
        conditions = merge_conditions(old, report.conditions, now)
        if conditions:
            section["conditions"] = conditions
        modules[name] = section
    status: JSON = {"role": peering_role(consumer, provider), "modules": modules}
    if generation is not None:
        status["observedGeneration"] = generation
    merged = merge_reports(active)
    if merged.api_server_url:
        status["apiServerUrl"] = merged.api_server_url
    if merged.proxy_url:
        status["foreignProxyUrl"] = merged.proxy_url
    namespaces = {
        key: value
        for key, value in (
            ("local", merged.tenant_namespace_local),
            ("remote", merged.tenant_namespace_remote),
        )
        if value
    }
    if namespaces:
        status["tenantNamespace"] = namespaces
    if api_server is not None:
        status["conditions"] = merge_conditions(previous.get("conditions"), [api_server], now)
    return status


def in_use(reports: Iterable[ModulePeerStatus]) -> bool:
    """Whether any module still holds objects for the peer."""
    return any(report.in_use for report in reports)
