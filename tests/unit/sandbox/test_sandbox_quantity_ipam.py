"""Quantities, pod CIDR planning, pod IP allocation and restart back-off."""

from __future__ import annotations

from fractions import Fraction

import pytest

from liqo_core.kube import Backoff
from liqo_core.kube.quantity import parse_quantity
from liqo_core.sandbox.ipam import (
    IPExhaustedError,
    PodIPAllocator,
    gateway_ip,
    node_pod_cidr,
)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("100m", Fraction(1, 10)),
        ("1", Fraction(1)),
        ("1.5", Fraction(3, 2)),
        ("128Mi", Fraction(128 * 2**20)),
        ("1Gi", Fraction(2**30)),
        ("2k", Fraction(2000)),
        ("1e3", Fraction(1000)),
        ("500n", Fraction(5, 10**7)),
    ],
)
def test_parse_quantity(text: str, value: Fraction) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "abc", "1.2.3", "10Xi", "m"])
def test_parse_quantity_rejects_garbage(text: str) -> None:
    with pytest.raises(ValueError, match="invalid quantity"):
        parse_quantity(text)


def test_node_pod_cidrs_are_consecutive_subnets() -> None:
    assert node_pod_cidr("10.101.0.0/16", 0) == "10.101.0.0/24"
    assert node_pod_cidr("10.101.0.0/16", 7) == "10.101.7.0/24"
    with pytest.raises(ValueError, match="only 256"):
        node_pod_cidr("10.101.0.0/16", 256)
    assert gateway_ip("10.101.7.0/24") == "10.101.7.1"


def test_allocator_skips_network_gateway_and_broadcast() -> None:
    alloc = PodIPAllocator("10.0.0.0/29")
    got = [alloc.allocate(f"pod-{i}") for i in range(5)]
    assert got == ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"]
    with pytest.raises(IPExhaustedError):
        alloc.allocate("one-too-many")


def test_allocator_is_idempotent_and_reuses_released_addresses() -> None:
    alloc = PodIPAllocator("10.0.0.0/29")
    first = alloc.allocate("a")
    assert alloc.allocate("a") == first
    for key in "bcde":
        alloc.allocate(key)
    alloc.release("c")
    assert alloc.allocate("f") == "10.0.0.4"
    assert len(alloc) == 5


def test_reserve_restores_known_addresses_and_refuses_conflicts() -> None:
    alloc = PodIPAllocator("10.0.1.0/24")
    assert alloc.reserve("a", "10.0.1.2")
    assert not alloc.reserve("b", "10.0.1.2")
    assert not alloc.reserve("b", "10.0.2.9")
    assert not alloc.reserve("b", "10.0.1.1")
    assert alloc.allocate("c") == "10.0.1.3"
    assert alloc.get("a") == "10.0.1.2"


def test_backoff_doubles_caps_and_resets() -> None:
    backoff = Backoff(initial=10, cap=40)
    assert [backoff.next_delay() for _ in range(4)] == [10, 20, 40, 40]
    backoff.reset()
    assert backoff.next_delay() == 10
