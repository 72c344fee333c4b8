"""Pod IP allocation from a node's podCIDR, and per-node podCIDRs from a cluster's pod CIDR."""

from __future__ import annotations

import ipaddress


class IPExhaustedError(RuntimeError):
    """No free address is left in the range."""


def node_pod_cidr(cluster_pod_cidr: str, index: int, prefix: int = 24) -> str:
    """The ``index``-th ``/prefix`` subnet of the cluster pod CIDR (``node.spec.podCIDR``)."""
    network = ipaddress.ip_network(cluster_pod_cidr)
    if prefix < network.prefixlen:
        raise ValueError(f"prefix /{prefix} is larger than the cluster pod CIDR {network}")
    count = 2 ** (prefix - network.prefixlen)
    if not 0 <= index < count:
        raise ValueError(f"{network} has only {count} /{prefix} subnets, not {index + 1}")
    subnet = ipaddress.ip_network(
        (int(network.network_address) + index * 2 ** (32 - prefix), prefix)
    )
    return str(subnet)


def gateway_ip(cidr: str) -> str:
    """First usable address of a range (the node bridge's address, as kubenet's ``cbr0``)."""
    return str(ipaddress.ip_network(cidr).network_address + 1)


class PodIPAllocator:
    """Hands out pod IPs from one CIDR, keyed by pod UID.

    The network address, the gateway (first usable address) and the broadcast address are
    never allocated. Allocation is idempotent per key and ``reserve`` re-registers an address
    learnt from the API after a restart.
    """

    def __init__(self, cidr: str) -> None:
        self.network = ipaddress.ip_network(cidr)
        if self.network.num_addresses < 4:
            raise ValueError(f"{cidr} is too small for pods")
        self._by_key: dict[str, ipaddress.IPv4Address | ipaddress.IPv6Address] = {}
        self._used: set[int] = set()
        self._next = 2

    def allocate(self, key: str) -> str:
        """Return the key's address, allocating the next free one if it has none."""
        if key in self._by_key:
            return str(self._by_key[key])
        size = self.network.num_addresses
        for step in range(size):
            offset = 2 + (self._next - 2 + step) % (size - 3)
            if offset not in self._used:
                self._used.add(offset)
                self._next = offset + 1
                address = self.network.network_address + offset
                self._by_key[key] = address
                return str(address)
        raise IPExhaustedError(f"no free address left in {self.network}")

    def reserve(self, key: str, address: str) -> bool:
        """Record an address already in use; False if it lies outside or is taken by another key."""
        ip = ipaddress.ip_address(address)
        if ip not in self.network:
            return False
        offset = int(ip) - int(self.network.network_address)
        if self._by_key.get(key) == ip:
            return True
        if offset in self._used or offset < 2 or offset >= self.network.num_addresses - 1:
            return False
        self.release(key)
        self._used.add(offset)
        self._by_key[key] = ip
        return True

    def release(self, key: str) -> None:
        """Free the key's address (no-op when it has none)."""
        address = self._by_key.pop(key, None)
        if address is not None:
            self._used.discard(int(address) - int(self.network.network_address))

    def get(self, key: str) -> str | None:
        """The key's address, if allocated."""
        address = self._by_key.get(key)
        return None if address is None else str(address)

    def __len__(self) -> int:
        return len(self._by_key)
