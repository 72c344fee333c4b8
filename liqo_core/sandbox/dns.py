"""The cluster DNS: what CoreDNS's ``kubernetes`` plugin answers, from Services and
EndpointSlices (watched).

``python -m liqo_core.sandbox.dns [--port 53] [--domain cluster.local]`` runs in a pod
(Deployment ``kube-system/kube-dns`` behind Service ``kube-dns``, put there by
:mod:`networking`) with its service account, and answers over UDP and TCP:

* ``<svc>.<ns>.svc.<domain>``: A with the cluster IP; for a headless Service, one A per
  ready endpoint (every endpoint with ``publishNotReadyAddresses``); CNAME for
  ``ExternalName``;
* ``<hostname>.<svc>.<ns>.svc.<domain>``: a headless Service's endpoint by its
  ``hostname`` (StatefulSet pods) or its address with dashes (``10-1-2-3``);
* ``_<port>._<proto>.<svc>.<ns>.svc.<domain>``: SRV for each named port (targets the
  Service's name, or each endpoint's for a headless one, with their A records);
* ``<a-b-c-d>.<ns>.pod.<domain>``: A ``a.b.c.d``.

Known names asked for another type get an empty answer (NODATA); anything else NXDOMAIN.
Names outside the cluster are not forwarded (the sandbox has no Internet). Records have a
TTL of 5 s, as CoreDNS's. The DNS wire format needed here (one question, A, AAAA, SRV,
CNAME answers) is handled below, without a DNS library.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import logging
import struct
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]
log = logging.getLogger("liqo.sandbox.dns")

A, CNAME, AAAA, SRV, ANY = 1, 5, 28, 33, 255
NOERROR, FORMERR, NXDOMAIN, NOTIMP = 0, 1, 3, 4
TTL = 5
SERVICE_NAME = "kubernetes.io/service-name"


@dataclass(frozen=True)
class Record:
    """One resource record (class IN)."""

    name: str
    type: int
    data: bytes


def encode_name(name: str) -> bytes:
    """A domain name in wire format (no compression)."""
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            raw = label.encode("idna") if not label.isascii() else label.encode()
            out += bytes([len(raw)]) + raw
    return out + b"\0"


def a_record(name: str, address: str) -> Record:
    """An A record."""
    return Record(name, A, ipaddress.IPv4Address(address).packed)


def srv_record(name: str, weight: int, port: int, target: str) -> Record:
    """An SRV record (priority 0)."""
    return Record(name, SRV, struct.pack("!HHH", 0, weight, port) + encode_name(target))


@dataclass(frozen=True)
class Query:
    """A parsed query: its id, flags, question and the question's raw bytes."""

    id: int
    flags: int
    name: str
    type: int
    question: bytes


def parse_query(packet: bytes) -> Query:
    """The first question of ``packet``; ValueError if malformed."""
    if len(packet) < 12:
        raise ValueError("short packet")
    ident, flags, qdcount = struct.unpack("!HHH", packet[:6])
    if qdcount < 1:
        raise ValueError("no question")
    labels, offset = [], 12
    while True:
        if offset >= len(packet):
            raise ValueError("truncated name")
        length = packet[offset]
        offset += 1
        if length == 0:
            break
        if length & 0xC0:
            raise ValueError("compressed question name")
        labels.append(packet[offset : offset + length].decode("ascii", "replace"))
        offset += length
    if offset + 4 > len(packet):
        raise ValueError("truncated question")
    qtype, _ = struct.unpack("!HH", packet[offset : offset + 4])
    return Query(ident, flags, ".".join(labels).lower(), qtype, packet[12 : offset + 4])


def build_response(query: Query, rcode: int, answers: list[Record], extra: list[Record]) -> bytes:
    """The response to ``query``: authoritative, recursion not available."""
    flags = 0x8000 | 0x0400 | (query.flags & 0x0100) | rcode
    header = struct.pack("!HHHHHH", query.id, flags, 1, len(answers), 0, len(extra))
    body = b""
    for record in [*answers, *extra]:
        owner = (
            b"\xc0\x0c"
            if record.name.rstrip(".").lower() == query.name
            else encode_name(record.name)
        )
        body += owner + struct.pack("!HHIH", record.type, 1, TTL, len(record.data)) + record.data
    return header + query.question + body


def error_response(packet: bytes, rcode: int) -> bytes:
    """A bare error answer to an unparsable packet (its id kept)."""
    ident = struct.unpack("!H", packet[:2])[0] if len(packet) >= 2 else 0
    return struct.pack("!HHHHHH", ident, 0x8000 | rcode, 0, 0, 0, 0)


class Zone:
    """Answers from the current Services and EndpointSlices."""

    def __init__(self, domain: str = "cluster.local") -> None:
        self.domain = domain.strip(".").lower()
        self.services: dict[tuple[str, str], JSON] = {}
        self.slices: dict[tuple[str, str], list[JSON]] = {}

    def load(self, services: Iterable[JSON], slices: Iterable[JSON]) -> None:
        """Replace the zone's content."""
        self.services = {(s["metadata"]["namespace"], s["metadata"]["name"]): s for s in services}
        grouped: dict[tuple[str, str], list[JSON]] = {}
        for item in slices:
            meta = item.get("metadata") or {}
            owner = (meta.get("labels") or {}).get(SERVICE_NAME)
            if owner and item.get("addressType", "IPv4") == "IPv4":
                grouped.setdefault((meta.get("namespace", ""), owner), []).append(item)
        self.slices = grouped

    def _endpoints(self, key: tuple[str, str]) -> list[tuple[str, str, JSON]]:
        """(address, hostname-or-dashed-address, slice) of the Service's published endpoints."""
        service = self.services[key]
        everyone = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
        found: dict[str, tuple[str, str, JSON]] = {}
        for item in self.slices.get(key, []):
            for endpoint in item.get("endpoints") or []:
                if not everyone and (endpoint.get("conditions") or {}).get("ready") is False:
                    continue
                for address in endpoint.get("addresses") or []:
                    host = endpoint.get("hostname") or str(address).replace(".", "-")
                    found.setdefault(str(address), (str(address), str(host), item))
        return sorted(found.values())

    def _service_records(self, key: tuple[str, str], fqdn: str) -> list[Record]:
        spec = self.services[key].get("spec") or {}
        if spec.get("type") == "ExternalName":
            return [Record(fqdn, CNAME, encode_name(str(spec.get("externalName", ""))))]
        if spec.get("clusterIP") in (None, "", "None"):
            return [a_record(fqdn, address) for address, _, _ in self._endpoints(key)]
        return [a_record(fqdn, ip) for ip in spec.get("clusterIPs") or [spec["clusterIP"]]]

    def _srv(
        self, key: tuple[str, str], fqdn: str, port_name: str, proto: str, base: str
    ) -> tuple[list[Record], list[Record]] | None:
        spec = self.services[key].get("spec") or {}
        port = next(
            (
                p
                for p in spec.get("ports") or []
                if (p.get("name") or "").lower() == port_name
                and p.get("protocol", "TCP").lower() == proto
            ),
            None,
        )
        if port is None:
            return None
        if spec.get("clusterIP") not in (None, "", "None"):
            return [srv_record(fqdn, 100, int(port["port"]), base)], []
        answers, extra = [], []
        endpoints = self._endpoints(key)
        for address, host, item in endpoints:
            number = next(
                (
                    int(p["port"])
                    for p in item.get("ports") or []
                    if (p.get("name") or "").lower() == port_name
                ),
                None,
            )
            if number is None:
                continue
            target = f"{host}.{base}"
            answers.append(srv_record(fqdn, max(1, 100 // len(endpoints)), number, target))
            extra.append(a_record(target, address))
        return answers, extra

    def resolve(self, name: str, qtype: int) -> tuple[int, list[Record], list[Record]]:
        """(rcode, answers, additional records) for a question."""
        fqdn = name.rstrip(".").lower()
        suffix = "." + self.domain
        if not fqdn.endswith(suffix):
            return NXDOMAIN, [], []
        labels = fqdn[: -len(suffix)].split(".")
        records: list[Record] | None = None
        extra: list[Record] = []
        if len(labels) == 3 and labels[2] == "pod":
            address = labels[0].replace("-", ".")
            with contextlib.suppress(ValueError):
                records = [a_record(fqdn, str(ipaddress.IPv4Address(address)))]
        elif len(labels) >= 3 and labels[-1] == "svc":
            key = (labels[-2], labels[-3])
            base = f"{key[1]}.{key[0]}.svc.{self.domain}"
            rest = labels[:-3]
            if key not in self.services:
                records = None
            elif not rest:
                records = self._service_records(key, fqdn)
            elif len(rest) == 2 and rest[0].startswith("_") and rest[1].startswith("_"):
                found = self._srv(key, fqdn, rest[0][1:], rest[1][1:], base)
                if found is not None:
                    records, extra = found
            elif len(rest) == 1:
                matches = [a for a, host, _ in self._endpoints(key) if host == rest[0]]
                records = [a_record(fqdn, address) for address in matches] or None
        if records is None:
            return NXDOMAIN, [], []
        wanted = [r for r in records if qtype in (r.type, ANY) or r.type == CNAME]
        return NOERROR, wanted, extra if wanted else []

    def answer(self, packet: bytes, limit: int = 65535) -> bytes:
        """The response packet to a query packet; longer than ``limit`` (UDP: 512), only
        the header and question with the truncation bit, so the client asks over TCP."""
        try:
            query = parse_query(packet)
        except ValueError:
            return error_response(packet, FORMERR)
        if (query.flags >> 11) & 0xF:  # not a standard query
            return build_response(query, NOTIMP, [], [])
        rcode, answers, extra = self.resolve(query.name, query.type)
        reply = build_response(query, rcode, answers, extra)
        if len(reply) > limit:
            reply = build_response(query, rcode, [], [])
            reply = reply[:2] + bytes([reply[2] | 0x02]) + reply[3:]
        return reply


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, zone: Zone) -> None:
        self.zone = zone
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.transport is not None:
            self.transport.sendto(self.zone.answer(data, limit=512), addr)


async def _tcp(zone: Zone, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            size = struct.unpack("!H", await reader.readexactly(2))[0]
            reply = zone.answer(await reader.readexactly(size))
            writer.write(struct.pack("!H", len(reply)) + reply)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def serve(port: int, domain: str) -> None:
    """Watch the cluster (in-cluster credentials) and answer until cancelled."""
    from liqo_core.kube import Informers, Kube, KubeTarget

    zone = Zone(domain)
    kube = await Kube.from_target(KubeTarget(), request_timeout=30.0)
    informers = Informers(kube)
    services = informers.get("/api/v1/services")
    slices = informers.get("/apis/discovery.k8s.io/v1/endpointslices")

    def reload(kind: str, obj: JSON) -> None:
        zone.load(services.items(), slices.items())

    services.add_handler(reload)
    slices.add_handler(reload)
    async with informers:
        await informers.wait_synced()
        zone.load(services.items(), slices.items())
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Udp(zone), local_addr=("0.0.0.0", port)
        )
        server = await asyncio.start_server(
            lambda r, w: _tcp(zone, r, w), host="0.0.0.0", port=port
        )
        log.info("answering for %s on port %d", domain, port)
        try:
            await server.serve_forever()
        finally:
            transport.close()
            await kube.close()


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m liqo_core.sandbox.dns")
    parser.add_argument("--port", type=int, default=53)
    parser.add_argument("--domain", default="cluster.local")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, args.domain))
    return 0


if __name__ == "__main__":
    sys.exit(main())
