"""The Quota accounting of the validating webhook: cached ShadowPods plus recent admissions."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import kopf
import pytest
from liqo_offloading.shadowpod import webhooks
from liqo_offloading.shadowpod.webhooks import Admission, Caches, Ledger

from liqo_core.kube import ObjectCache
from liqo_core.kube.quantity import Quantity

USER = "slice-a"
q = Quantity.parse


def shadow(name: str, cpu: str, *, uid: str = "", deleting: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name, "namespace": "app-c", "uid": uid or f"uid-{name}",
        "labels": {"offloading.liqo.io/origin": "c", "liqo.io/creator-user": USER},
    }  # fmt: skip
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    container = {"name": "app", "resources": {"requests": {"cpu": cpu, "memory": "1Gi"}}}
    return {"metadata": meta, "spec": {"pod": {"containers": [container]}}}


def caches(*shadows: dict[str, Any], cpu: str = "2") -> Caches:
    shadow_cache = ObjectCache({webhooks.BY_CREATOR: webhooks.creator_index})
    for obj in shadows:
        shadow_cache.upsert(obj)
    quota_cache = ObjectCache({webhooks.BY_USER: webhooks.quota_user_index})
    quota_cache.upsert(
        {"metadata": {"name": USER, "namespace": "t"},
         "spec": {"user": USER, "limitsEnforcement": "Soft",
                  "resources": {"cpu": cpu, "memory": "8Gi"}}}
    )  # fmt: skip
    informer = SimpleNamespace
    return Caches(
        informer(cache=shadow_cache),  # type: ignore[arg-type]
        informer(cache=quota_cache),  # type: ignore[arg-type]
        informer(cache=ObjectCache()),  # type: ignore[arg-type]
    )


def test_pods_of_the_creator_in_the_cache_count_but_not_terminating_ones() -> None:
    admission = Admission()
    cached = caches(shadow("a", "1"), shadow("b", "500m", deleting=True))
    admission.admit(cached, shadow("c", "1"), dry_run=False)
    with pytest.raises(kopf.AdmissionError) as refused:
        admission.admit(cached, shadow("d", "1"), dry_run=False)
    assert str(refused.value) == (
        "ShadowPod app-c/d: the cpu quota of user 'slice-a' is exceeded: requested 1, "
        "in use 2 of 2 (free 0)"
    )
    assert refused.value.code == 403


def test_admissions_not_yet_cached_are_counted_until_seen_or_expired() -> None:
    now = [0.0]
    admission = Admission(ledger=Ledger(ttl=30, clock=lambda: now[0]))
    empty = caches()
    admission.admit(empty, shadow("a", "1500m"), dry_run=False)
    with pytest.raises(kopf.AdmissionError):  # together they would overrun the quota
        admission.admit(empty, shadow("b", "1"), dry_run=False)
    # Once the informer shows "a", it is counted from there, once.
    seen = caches(shadow("a", "1500m"))
    assert admission.used_by(seen, USER, "x") == {"cpu": q("1500m"), "memory": q("1Gi")}
    assert admission.ledger.pending(USER, {}) == []
    # An admission whose object never appears stops counting after the time-to-live.
    admission.admit(empty, shadow("c", "2"), dry_run=False)
    now[0] = 31
    admission.admit(empty, shadow("d", "2"), dry_run=False)


def test_dry_runs_are_not_counted() -> None:
    admission = Admission()
    empty = caches()
    admission.admit(empty, shadow("a", "2"), dry_run=True)
    admission.admit(empty, shadow("a", "2"), dry_run=False)
