"""A minimal ICMP echo (ping) over a raw socket, for tests in network namespaces.

``python -m liqo_core.sandbox.icmp ADDRESS [TIMEOUT]`` exits 0 when ADDRESS
answers (printing the round-trip time in ms), 1 otherwise. Needs root.
"""

from __future__ import annotations

import os
import select
import socket
import struct
import sys
import time


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    result: int = ~total & 0xFFFF
    return result


def ping(address: str, timeout: float = 2.0) -> float | None:
    """Send one echo request; return the RTT in seconds, or None on timeout."""
    ident = os.getpid() & 0xFFFF
    payload = b"liqo-sandbox-ping"
    header = struct.pack("!BBHHH", 8, 0, 0, ident, 1)
    packet = struct.pack("!BBHHH", 8, 0, _checksum(header + payload), ident, 1) + payload
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as sock:
        start = time.monotonic()
        sock.sendto(packet, (address, 0))
        deadline = start + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([sock], [], [], remaining)
            if not ready:
                break
            data, source = sock.recvfrom(2048)
            header_len = (data[0] & 0x0F) * 4
            kind, _, _, reply_id, _ = struct.unpack("!BBHHH", data[header_len : header_len + 8])
            if kind == 0 and reply_id == ident and source[0] == address:
                return time.monotonic() - start
    return None


def main() -> int:
    """Command-line entry point."""
    rtt = ping(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 2.0)
    if rtt is None:
        return 1
    sys.stdout.write(f"{rtt * 1000:.3f}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
