"""Leader election on a ``coordination.k8s.io/v1`` Lease, with client-go's semantics.

- A candidate acquires the Lease when it is absent, released (empty holder) or expired.
  Expiry is judged on the *local* clock: a Lease is expired when it has not changed for
  ``leaseDurationSeconds`` since this process last saw it change (the remote ``renewTime``
  is written for humans and never compared with the local clock).
- The leader renews every ``retry_period``; when renewals keep failing for ``renew_deadline``
  it loses leadership (:class:`LeadershipLost`) and must stop acting as leader.
- On a clean shutdown the leader releases the Lease (empty holder, 1 s duration), so a
  standby takes over at once.
- Writes carry the ``resourceVersion`` they were based on; a conflict means somebody else
  wrote first, and the next attempt re-reads the Lease.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from liqo_core.kube import JSONObject, Kube, KubeError, describe_error

logger = logging.getLogger(__name__)

_JITTER_FACTOR = 1.2  # client-go's JitterFactor for the acquire loop


class LeadershipLost(Exception):
    """The leader could not renew its Lease within the renew deadline."""


class LeaseConflict(Exception):
    """The Lease changed (or appeared) since it was read: re-read and try again."""


@dataclass(frozen=True)
class LeaseRecord:
    """The part of a Lease's spec that leader election reads and writes."""

    holder_identity: str = ""
    lease_duration_seconds: int = 0
    acquire_time: str | None = None
    renew_time: str | None = None
    lease_transitions: int = 0

    @classmethod
    def from_spec(cls, spec: JSONObject) -> LeaseRecord:
        """Read a record from a Lease ``spec`` (missing fields take their zero value)."""
        return cls(
            holder_identity=spec.get("holderIdentity") or "",
            lease_duration_seconds=int(spec.get("leaseDurationSeconds") or 0),
            acquire_time=spec.get("acquireTime"),
            renew_time=spec.get("renewTime"),
            lease_transitions=int(spec.get("leaseTransitions") or 0),
        )

    def to_spec(self) -> JSONObject:
        """The Lease ``spec`` that stores this record."""
        return {
            "holderIdentity": self.holder_identity,
            "leaseDurationSeconds": self.lease_duration_seconds,
            "acquireTime": self.acquire_time,
            "renewTime": self.renew_time,
            "leaseTransitions": self.lease_transitions,
        }


@dataclass(frozen=True)
class StoredLease:
    """A record as read from (or written to) the store, with its resource version."""

    record: LeaseRecord
    resource_version: str


class LeaseStore(Protocol):
    """Where the Lease lives: the Kubernetes API, or a fake in tests."""

    async def get(self) -> StoredLease | None:
        """Read the Lease; ``None`` when it does not exist."""

    async def create(self, record: LeaseRecord) -> StoredLease:
        """Create the Lease; raise :class:`LeaseConflict` if it already exists."""

    async def update(self, record: LeaseRecord, resource_version: str) -> StoredLease:
        """Replace the Lease; raise :class:`LeaseConflict` if it changed since that version."""


class KubernetesLeaseStore:
    """A :class:`LeaseStore` on a real (or emulated) API server."""

    def __init__(self, kube: Kube, namespace: str, name: str) -> None:
        self._kube = kube
        self._namespace = namespace
        self._name = name
        base = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
        self._collection = base
        self._path = f"{base}/{name}"

    async def get(self) -> StoredLease | None:
        lease = await self._kube.get(self._path)
        return None if lease is None else _stored(lease)

    async def create(self, record: LeaseRecord) -> StoredLease:
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self._name, "namespace": self._namespace},
            "spec": record.to_spec(),
        }
        return await self._write("POST", self._collection, body)

    async def update(self, record: LeaseRecord, resource_version: str) -> StoredLease:
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": self._name,
                "namespace": self._namespace,
                "resourceVersion": resource_version,
            },
            "spec": record.to_spec(),
        }
        return await self._write("PUT", self._path, body)

    async def _write(self, method: str, path: str, body: JSONObject) -> StoredLease:
        try:
            return _stored(await self._kube.request(method, path, body))
        except KubeError as exc:
            if exc.status == 409:
                raise LeaseConflict(f"lease {self._namespace}/{self._name} changed") from exc
            raise


def _stored(lease: JSONObject) -> StoredLease:
    metadata: dict[str, Any] = lease.get("metadata") or {}
    return StoredLease(
        record=LeaseRecord.from_spec(lease.get("spec") or {}),
        resource_version=str(metadata.get("resourceVersion", "")),
    )


@dataclass(frozen=True)
class ElectionConfig:
    """Timing and identity of one candidate (client-go's ``LeaderElectionConfig``)."""

    identity: str
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    release_on_cancel: bool = True

    def __post_init__(self) -> None:
        if not self.identity:
            raise ValueError("leader election needs a non-empty identity")
        if self.retry_period <= 0:
            raise ValueError("retry period must be positive")
        if self.lease_duration <= self.renew_deadline:
            raise ValueError("lease duration must be greater than the renew deadline")
        if self.renew_deadline <= _JITTER_FACTOR * self.retry_period:
            raise ValueError("renew deadline must be greater than 1.2 x the retry period")


def microtime(moment: datetime) -> str:
    """Format a moment as a Kubernetes ``MicroTime`` (RFC 3339, six fractional digits, UTC)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    """One candidate in a leader election on a :class:`LeaseStore`.

    ``clock`` measures the local observation time (monotonic seconds); ``wall_clock`` gives
    the timestamps written into the Lease.
    """

    def __init__(
        self,
        store: LeaseStore,
        config: ElectionConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self.config = config
        self._clock = clock
        self._wall_clock = wall_clock
        self._observed: StoredLease | None = None
        self._observed_at = 0.0

    @property
    def identity(self) -> str:
        """This candidate's holder identity."""
        return self.config.identity

    @property
    def is_leader(self) -> bool:
        """Whether the last observed Lease names this candidate as holder."""
        return self._observed is not None and (
            self._observed.record.holder_identity == self.config.identity
        )

    @property
    def observed_holder(self) -> str:
        """The holder of the Lease as last observed ('' when none)."""
        return self._observed.record.holder_identity if self._observed else ""

    def _observe(self, stored: StoredLease, now: float) -> None:
        self._observed = stored
        self._observed_at = now

    def _observed_valid(self, now: float) -> bool:
        if self._observed is None:
            return False
        duration = self._observed.record.lease_duration_seconds
        return self._observed_at + duration > now

    async def try_acquire_or_renew(self) -> bool:
        """One attempt to become (or stay) the holder; ``True`` when this candidate holds it."""
        now = self._clock()
        stamp = microtime(self._wall_clock())
        desired = LeaseRecord(
            holder_identity=self.config.identity,
            lease_duration_seconds=max(1, math.ceil(self.config.lease_duration)),
            acquire_time=stamp,
            renew_time=stamp,
        )
        observed = self._observed
        if observed is not None and self.is_leader and self._observed_valid(now):
            # Fast path: renew on top of what we wrote last, without reading first.
            renewal = replace(
                desired,
                acquire_time=observed.record.acquire_time,
                lease_transitions=observed.record.lease_transitions,
            )
            try:
                self._observe(await self._store.update(renewal, observed.resource_version), now)
                return True
            except Exception as exc:  # fall back to the slow path, as client-go does
                logger.info(
                    "optimistic renewal failed (%s), re-reading the lease", describe_error(exc)
                )

        current = await self._store.get()
        if current is None:
            try:
                self._observe(await self._store.create(desired), now)
            except LeaseConflict:
                return False
            return True

        if self._observed is None or self._observed.record != current.record:
            self._observe(current, now)
        elif self._observed.resource_version != current.resource_version:
            self._observed = current  # same content, newer version: keep the observation time
        holder = current.record.holder_identity
        if holder and holder != self.config.identity and self._observed_valid(now):
            return False

        if holder == self.config.identity:
            desired = replace(
                desired,
                acquire_time=current.record.acquire_time,
                lease_transitions=current.record.lease_transitions,
            )
        else:
            desired = replace(desired, lease_transitions=current.record.lease_transitions + 1)
        try:
            self._observe(await self._store.update(desired, current.resource_version), now)
        except LeaseConflict:
            return False
        return True

    async def _attempt(self) -> bool:
        try:
            async with asyncio.timeout(self.config.renew_deadline):
                return await self.try_acquire_or_renew()
        except Exception as exc:
            logger.warning("lease attempt failed: %s", describe_error(exc))
        return False

    async def acquire(self) -> None:
        """Wait (retrying with jitter) until this candidate holds the Lease."""
        reported = ""
        while not await self._attempt():
            if self.observed_holder != reported:
                reported = self.observed_holder
                logger.info("lease is held by %r, waiting", reported)
            period = self.config.retry_period
            await asyncio.sleep(period + random.random() * _JITTER_FACTOR * period)
        logger.info("acquired lease as %r", self.config.identity)

    async def hold(self) -> None:
        """Renew the Lease forever; raise :class:`LeadershipLost` once renewals fail too long."""
        while True:
            await asyncio.sleep(self.config.retry_period)
            if not await self._renew_within_deadline():
                raise LeadershipLost(f"failed to renew lease as {self.config.identity!r}")

    async def _renew_within_deadline(self) -> bool:
        try:
            async with asyncio.timeout(self.config.renew_deadline):
                while not await self._attempt():
                    if not self.is_leader:
                        return False  # somebody else holds it now: retrying cannot help
                    await asyncio.sleep(self.config.retry_period)
                return True
        except TimeoutError:
            return False

    async def release(self) -> bool:
        """Give the Lease up (empty holder, 1 s duration); ``True`` once it is not held."""
        observed = self._observed
        if observed is None or not self.is_leader:
            return True
        stamp = microtime(self._wall_clock())
        record = LeaseRecord(
            holder_identity="",
            lease_duration_seconds=1,
            acquire_time=stamp,
            renew_time=stamp,
            lease_transitions=observed.record.lease_transitions,
        )
        try:
            async with asyncio.timeout(self.config.renew_deadline):
                released = await self._store.update(record, observed.resource_version)
        except Exception as exc:
            logger.warning("failed to release lease: %s", describe_error(exc))
            return False
        self._observe(released, self._clock())
        logger.info("released lease")
        return True
