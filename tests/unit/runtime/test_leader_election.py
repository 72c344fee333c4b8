"""Leader election state machine (client-go semantics) against an in-memory Lease store."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from liqo_core._runtime.leader import (
    ElectionConfig,
    LeaderElector,
    LeadershipLost,
    LeaseConflict,
    LeaseRecord,
    StoredLease,
    microtime,
)


class FakeLeaseStore:
    """One Lease with optimistic concurrency, like the API server's."""

    def __init__(self) -> None:
        self.lease: StoredLease | None = None
        self.calls: list[str] = []
        self.broken = False
        self._version = 0

    def _check(self, call: str) -> None:
        self.calls.append(call)
        if self.broken:
            raise ConnectionError("API server unreachable")

    def _store(self, record: LeaseRecord) -> StoredLease:
        self._version += 1
        self.lease = StoredLease(record, str(self._version))
        return self.lease

    async def get(self) -> StoredLease | None:
        self._check("get")
        return self.lease

    async def create(self, record: LeaseRecord) -> StoredLease:
        self._check("create")
        if self.lease is not None:
            raise LeaseConflict("exists")
        return self._store(record)

    async def update(self, record: LeaseRecord, resource_version: str) -> StoredLease:
        self._check("update")
        if self.lease is None or self.lease.resource_version != resource_version:
            raise LeaseConflict("changed")
        return self._store(record)

    def write(self, record: LeaseRecord) -> None:
        """Somebody else writes the Lease."""
        self._store(record)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store() -> FakeLeaseStore:
    return FakeLeaseStore()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def candidate(store: FakeLeaseStore, clock: FakeClock, identity: str) -> LeaderElector:
    config = ElectionConfig(identity, lease_duration=15, renew_deadline=10, retry_period=2)
    return LeaderElector(store, config, clock=clock)


async def test_first_candidate_creates_the_lease(store, clock):
    a = candidate(store, clock, "a")
    assert await a.try_acquire_or_renew()
    assert a.is_leader
    assert store.lease is not None
    record = store.lease.record
    assert (record.holder_identity, record.lease_duration_seconds) == ("a", 15)
    assert record.lease_transitions == 0
    assert record.acquire_time == record.renew_time


async def test_held_lease_blocks_others_until_unchanged_for_its_duration(store, clock):
    a, b = candidate(store, clock, "a"), candidate(store, clock, "b")
    assert await a.try_acquire_or_renew()
    assert not await b.try_acquire_or_renew()
    assert not b.is_leader
    assert b.observed_holder == "a"

    clock.now += 10
    assert await a.try_acquire_or_renew()  # renewal: the record changes
    clock.now += 2
    assert not await b.try_acquire_or_renew()  # b sees the change now, at t=12
    clock.now += 14
    assert not await b.try_acquire_or_renew()  # 14 s after b saw it change: still valid
    clock.now += 2
    assert await b.try_acquire_or_renew()  # 16 s without change: expired
    assert b.is_leader
    assert store.lease is not None
    assert store.lease.record.holder_identity == "b"
    assert store.lease.record.lease_transitions == 1


async def test_expiry_uses_local_observation_not_remote_renew_time(store, clock):
    ancient = microtime(datetime(1990, 1, 1, tzinfo=UTC))
    store.write(LeaseRecord("gone", 15, ancient, ancient, 3))
    b = candidate(store, clock, "b")
    assert not await b.try_acquire_or_renew()  # just observed: valid for 15 s from now
    clock.now += 15.5
    assert await b.try_acquire_or_renew()
    assert store.lease is not None
    assert store.lease.record.lease_transitions == 4


async def test_renewal_keeps_acquire_time_and_skips_the_read(store, clock):
    a = candidate(store, clock, "a")
    assert await a.try_acquire_or_renew()
    assert store.lease is not None
    acquired = store.lease.record.acquire_time
    store.calls.clear()
    clock.now += 2
    assert await a.try_acquire_or_renew()
    assert store.calls == ["update"]  # optimistic renewal on the known resourceVersion
    assert store.lease.record.acquire_time == acquired
    assert store.lease.record.lease_transitions == 0


async def test_conflicting_write_is_reread_and_respected(store, clock):
    a = candidate(store, clock, "a")
    assert await a.try_acquire_or_renew()
    store.write(LeaseRecord("intruder", 15, "t", "t", 1))  # changes the resourceVersion
    clock.now += 2
    assert not await a.try_acquire_or_renew()  # conflict, re-read: held by intruder
    assert not a.is_leader
    assert a.observed_holder == "intruder"


async def test_release_lets_a_standby_take_over_at_once(store, clock):
    a, b = candidate(store, clock, "a"), candidate(store, clock, "b")
    assert await a.try_acquire_or_renew()
    assert not await b.try_acquire_or_renew()
    assert await a.release()
    assert not a.is_leader
    assert store.lease is not None
    assert store.lease.record.holder_identity == ""
    assert store.lease.record.lease_duration_seconds == 1
    assert await b.try_acquire_or_renew()  # no waiting for expiry
    assert store.lease.record.lease_transitions == 1


async def test_release_without_leadership_writes_nothing(store, clock):
    a, b = candidate(store, clock, "a"), candidate(store, clock, "b")
    assert await a.try_acquire_or_renew()
    assert not await b.try_acquire_or_renew()
    store.calls.clear()
    assert await b.release()
    assert store.calls == []
    assert store.lease is not None
    assert store.lease.record.holder_identity == "a"


async def test_api_errors_are_failed_attempts_not_crashes(store, clock):
    a = candidate(store, clock, "a")
    store.broken = True
    with pytest.raises(ConnectionError):
        await a.try_acquire_or_renew()
    assert not await a._attempt()
    store.broken = False
    assert await a._attempt()


def fast(identity: str) -> ElectionConfig:
    return ElectionConfig(identity, lease_duration=1.0, renew_deadline=0.5, retry_period=0.05)


async def test_hold_raises_when_renewals_fail_past_the_deadline(store):
    a = LeaderElector(store, fast("a"))
    await asyncio.wait_for(a.acquire(), timeout=5)
    store.broken = True
    with pytest.raises(LeadershipLost):
        await asyncio.wait_for(a.hold(), timeout=5)


async def test_hold_survives_short_outages(store):
    a = LeaderElector(store, fast("a"))
    await asyncio.wait_for(a.acquire(), timeout=5)
    holding = asyncio.create_task(a.hold())
    store.broken = True
    await _until(lambda: store.calls.count("get") >= 2)  # a few failed renewals
    store.broken = False
    updates = store.calls.count("update")
    await _until(lambda: store.calls.count("update") > updates + 3)
    assert not holding.done()
    assert a.is_leader
    holding.cancel()


async def test_hold_raises_at_once_when_someone_else_holds_the_lease(store):
    a = LeaderElector(store, fast("a"))
    await asyncio.wait_for(a.acquire(), timeout=5)
    store.write(LeaseRecord("b", 15, "t", "t", 1))
    with pytest.raises(LeadershipLost):
        await asyncio.wait_for(a.hold(), timeout=0.45)  # before the renew deadline


async def test_standby_acquires_when_leader_releases(store):
    a, b = LeaderElector(store, fast("a")), LeaderElector(store, fast("b"))
    await asyncio.wait_for(a.acquire(), timeout=5)
    waiting = asyncio.create_task(b.acquire())
    await _until(lambda: b.observed_holder == "a")
    assert not waiting.done()
    assert await a.release()
    await asyncio.wait_for(waiting, timeout=5)
    assert b.is_leader


async def test_standby_acquires_when_leader_vanishes(store):
    a, b = LeaderElector(store, fast("a")), LeaderElector(store, fast("b"))
    await asyncio.wait_for(a.acquire(), timeout=5)  # and then never renews
    await asyncio.wait_for(b.acquire(), timeout=10)
    assert b.is_leader
    assert store.lease is not None
    assert store.lease.record.holder_identity == "b"


@pytest.mark.parametrize(
    ("duration", "deadline", "retry"),
    [(10, 10, 2), (15, 10, 0), (15, 2, 2), (5, 10, 2)],
)
def test_inconsistent_timings_are_rejected(duration, deadline, retry):
    with pytest.raises(ValueError):
        ElectionConfig("a", lease_duration=duration, renew_deadline=deadline, retry_period=retry)


def test_identity_is_required():
    with pytest.raises(ValueError):
        ElectionConfig("")


def test_microtime_has_six_fractional_digits_in_utc():
    moment = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
    assert microtime(moment) == "2024-05-01T12:00:00.000000Z"


def test_record_round_trips_through_a_lease_spec():
    record = LeaseRecord("a", 15, "x", "y", 2)
    assert LeaseRecord.from_spec(record.to_spec()) == record
    assert LeaseRecord.from_spec({}) == LeaseRecord()


async def _until(condition, limit: float = 5.0) -> None:
    """Wait (at most ``limit`` seconds) until ``condition()``, which other tasks make true."""
    async with asyncio.timeout(limit):
        while not condition():  # noqa: ASYNC110 - the state belongs to the elector's task
            await asyncio.sleep(0.01)
