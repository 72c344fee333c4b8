"""The ShadowPod admission webhooks (upstream's ``shadowpod.mutate`` / ``shadowpod.validate``).

- ``shadowpod.mutate`` (CREATE, UPDATE): stamps ``liqo.io/creator-user`` with the requesting
  user and refuses updates by anyone else;
- ``shadowpod.validate`` (CREATE, UPDATE): origin label matching the namespace's cluster,
  the limited updates, and on creation the creator's Quota (:mod:`.rules`).

Deletions are not intercepted: they are always allowed. Quotas, ShadowPods and namespaces
are read from the operator's shared informers; what the informers have not shown yet is
kept in a :class:`Ledger` of recent admissions, so that two pods admitted at once cannot
together overrun a Quota each fits alone (upstream keeps the same accounting in memory).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import kopf

from liqo_core.api.consts import CREATOR_USER_LABEL
from liqo_core.api.offloading_v1beta1 import GROUP, VERSION
from liqo_core.kube import Informer, object_key
from liqo_offloading.shadowpod import rules
from liqo_offloading.shadowpod.rules import JSONObject, Resources, meta_of

FORBIDDEN, INVALID, UNAVAILABLE = 403, 422, 503
OPERATIONS: list[Literal["CREATE", "UPDATE"]] = ["CREATE", "UPDATE"]
QUOTAS: Final = f"/apis/{GROUP}/{VERSION}/quotas"
NAMESPACES: Final = "/api/v1/namespaces"
#: Index of ShadowPods by creator, and of Quotas by (escaped) user.
BY_CREATOR: Final = "shadowpod/creator"
BY_USER: Final = "shadowpod/quota-user"
#: Seconds an admission waits for the informers at start-up before refusing.
READY_TIMEOUT = 10.0
#: Seconds an admitted ShadowPod the informer has not shown yet is counted (upstream: 30).
LEDGER_TTL = 30.0


def creator_index(shadow: JSONObject) -> list[str]:
    """Index function: the creator of a ShadowPod."""
    creator = rules.labels_of(shadow).get(CREATOR_USER_LABEL)
    return [creator] if creator else []


def quota_user_index(quota: JSONObject) -> list[str]:
    """Index function: a Quota's user, escaped as creator labels are."""
    user = (quota.get("spec") or {}).get("user")
    return [rules.escape_label(str(user))] if user else []


@dataclass
class _Admitted:
    uid: str
    requests: Resources
    at: float


@dataclass
class Ledger:
    """ShadowPods admitted recently, by creator, until the informer shows them (or
    ``ttl`` seconds pass: the creation may have failed after admission)."""

    ttl: float = LEDGER_TTL
    clock: Callable[[], float] = time.monotonic
    _admitted: dict[str, dict[str, _Admitted]] = field(default_factory=dict)

    def admit(self, creator: str, key: str, uid: str, requests: Resources) -> None:
        """Count ``requests`` of ShadowPod ``key`` for ``creator``."""
        self._admitted.setdefault(creator, {})[key] = _Admitted(uid, dict(requests), self.clock())

    def pending(self, creator: str, seen: Mapping[str, JSONObject]) -> list[Resources]:
        """The requests admitted for ``creator`` and not among ``seen`` (by key) yet."""
        entries = self._admitted.get(creator, {})
        now = self.clock()
        for key, entry in list(entries.items()):
            shown = seen.get(key)
            shown_uid = meta_of(shown).get("uid") if shown is not None else None
            if now - entry.at > self.ttl or (shown is not None and entry.uid in ("", shown_uid)):
                del entries[key]
        if not entries:
            self._admitted.pop(creator, None)
        return [entry.requests for entry in entries.values()]


@dataclass
class Caches:
    """The informers the webhooks read (the operator's shared ones)."""

    shadow_pods: Informer
    quotas: Informer
    namespaces: Informer

    async def wait_synced(self) -> None:
        """Return once the three have their first list."""
        await asyncio.gather(
            *(i.wait_synced() for i in (self.shadow_pods, self.quotas, self.namespaces))
        )


@dataclass
class Admission:
    """The webhooks' state: the caches (once the operator has built them) and the ledger."""

    ledger: Ledger = field(default_factory=Ledger)
    caches: Caches | None = None
    ready_timeout: float = READY_TIMEOUT
    _built: asyncio.Event | None = None

    def attach(self, caches: Caches) -> None:
        """Hand over the operator's informers (called when the controllers are built)."""
        self.caches = caches
        self._event().set()

    def _event(self) -> asyncio.Event:
        if self._built is None:
            self._built = asyncio.Event()
        return self._built

    async def ready(self) -> Caches:
        """The synced caches; refuses (503) while the operator is still starting."""
        try:
            async with asyncio.timeout(self.ready_timeout):
                await self._event().wait()
                assert self.caches is not None
                await self.caches.wait_synced()
        except TimeoutError:
            raise kopf.AdmissionError(
                "the ShadowPod webhook is starting (its caches are not ready): retry",
                code=UNAVAILABLE,
            ) from None
        return self.caches

    def used_by(self, caches: Caches, creator: str, excluded: str) -> Resources:
        """What ``creator``'s ShadowPods request, cluster-wide (but ``excluded``)."""
        shadows = {
            object_key(s): s
            for s in caches.shadow_pods.cache.by_index(BY_CREATOR, creator)
            if object_key(s) != excluded and not meta_of(s).get("deletionTimestamp")
        }
        counted = [rules.pod_requests(rules.pod_spec_of(s))[0] for s in shadows.values()]
        return rules.total_of([*counted, *self.ledger.pending(creator, shadows)])

    def admit(self, caches: Caches, shadow: JSONObject, dry_run: bool) -> None:
        """Refuse (:class:`kopf.AdmissionError`) a new ShadowPod its creator's Quota
        cannot take; otherwise count it. Synchronous: no other admission interleaves."""
        creator = rules.labels_of(shadow).get(CREATOR_USER_LABEL) or ""
        meta = meta_of(shadow)
        key = f"{meta.get('namespace')}/{meta.get('name') or meta.get('generateName') or ''}"
        quota = (
            rules.quota_of(caches.quotas.cache.by_index(BY_USER, creator), creator)
            if creator
            else None
        )
        requested, problems = rules.admission_problems(
            shadow, quota, self.used_by(caches, creator, key) if quota else {}
        )
        refuse(shadow, problems, FORBIDDEN)
        if not dry_run:
            self.ledger.admit(creator, key, str(meta_of(shadow).get("uid") or ""), requested)


def refuse(shadow: Mapping[str, Any], problems: list[str], code: int) -> None:
    """Raise the admission error listing ``problems`` (nothing if there are none)."""
    if problems:
        raise kopf.AdmissionError(f"{rules.describe(shadow)}: {'; '.join(problems)}", code=code)


def register(registry: kopf.OperatorRegistry, admission: Admission) -> None:
    """Register the mutating and validating ShadowPod webhooks."""

    @kopf.on.mutate(
        GROUP, VERSION, "shadowpods", registry=registry, id="shadowpod.mutate",
        operations=OPERATIONS, persistent=True,
    )  # fmt: skip
    async def stamp_creator(
        body: kopf.Body, patch: kopf.Patch, userinfo: kopf.UserInfo, **kwargs: Any
    ) -> None:
        old = _old(kwargs)
        creator, problems = rules.creator_stamp(
            str(kwargs.get("operation") or ""), old, dict(userinfo)
        )
        refuse(body, problems, FORBIDDEN)
        if creator is not None and rules.labels_of(body).get(CREATOR_USER_LABEL) != creator:
            patch.setdefault("metadata", {}).setdefault("labels", {})[CREATOR_USER_LABEL] = creator

    @kopf.on.validate(
        GROUP, VERSION, "shadowpods", registry=registry, id="shadowpod.validate",
        operations=OPERATIONS, persistent=True,
    )  # fmt: skip
    async def validate(body: kopf.Body, **kwargs: Any) -> None:
        shadow, old = dict(body), _old(kwargs)
        if kwargs.get("operation") == "UPDATE" and old is not None:
            refuse(shadow, rules.update_problems(old, shadow), INVALID)
            return
        caches = await admission.ready()
        namespace = caches.namespaces.cache.get(str(meta_of(shadow).get("namespace") or ""))
        refuse(shadow, rules.origin_problems(shadow, namespace), FORBIDDEN)
        admission.admit(caches, shadow, bool(kwargs.get("dryrun")))


def _old(kwargs: Mapping[str, Any]) -> JSONObject | None:
    old = kwargs.get("old")
    return None if old is None else dict(old)


__all__ = ["Admission", "Caches", "Ledger", "register"]
