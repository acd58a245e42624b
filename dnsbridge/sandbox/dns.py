"""A small authoritative DNS server on loopback that answers from the shared ZoneStore.

dnsbridge's propagation check asks a zone's authoritative nameservers whether the records it wrote
are visible. Pointing that check at this server (DNSBRIDGE_NAMESERVERS) runs it over real DNS, with
the real corner cases: a 2048-bit DKIM TXT answer is larger than 512 octets, so a UDP client
without EDNS gets a truncated reply (TC) and has to retry over TCP (RFC 1035 4.2.1, RFC 7766).

Behaviour (RFC 1034 4.3.2, RFC 2308): AA on every answer inside a zone; CNAMEs followed while the
target stays in the same zone; NODATA and NXDOMAIN carry the zone's SOA in the authority
section; NXDOMAIN only when the name has no records and no descendants (an empty non-terminal is
NODATA); REFUSED for names outside every zone. The apex NS set comes from StoredZone.nameservers.
Wildcards, DNSSEC and zone transfers are not implemented.
"""

from __future__ import annotations

import logging
import selectors
import socket
import struct
import threading
from types import TracebackType
from typing import Self

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.CNAME
import dns.rrset

from dnsbridge.sandbox.zones import StoredRecord, StoredZone, ZoneStore

log = logging.getLogger(__name__)

MAX_CNAME_HOPS = 8
SOA_TTL = 600
# RFC 1035 2.3.4: the UDP limit without EDNS.
CLASSIC_UDP_SIZE = 512


def _absolute(name: str) -> dns.name.Name:
    return dns.name.from_text(name.rstrip(".") + ".")


def _rdata_text(record: StoredRecord) -> str:
    """StoredRecord.value (presentation form, hosts without trailing dot) as master-file rdata."""
    if record.type == "MX":
        return f"{record.priority or 0} {record.value.rstrip('.')}."
    if record.type in ("CNAME", "NS", "PTR"):
        return record.value.rstrip(".") + "."
    return record.value


class AuthoritativeServer:
    """UDP and TCP on one ephemeral port of 127.0.0.1 (or `host`), answering from `store`."""

    def __init__(self, store: ZoneStore, host: str = "127.0.0.1", port: int = 0) -> None:
        self.store = store
        self.host = host
        self._requested_port = port
        self._udp: socket.socket | None = None
        self._tcp: socket.socket | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.queries: list[tuple[str, str, str]] = []  # (transport, qname, qtype) for tests

    # lifecycle ---------------------------------------------------------------------------
    def start(self) -> Self:
        if self._thread is not None:
            return self
        self._bind()
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, name="dns-authoritative", daemon=True)
        self._thread.start()
        return self

    def _bind(self) -> None:
        # Bind UDP on an ephemeral port, then TCP on the same number; another process may hold
        # that TCP port, so try a few times.
        last: OSError | None = None
        for _ in range(20):
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.bind((self.host, self._requested_port))
            port = udp.getsockname()[1]
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                tcp.bind((self.host, port))
            except OSError as exc:
                udp.close()
                tcp.close()
                last = exc
                if self._requested_port:
                    raise
                continue
            tcp.listen(16)
            udp.setblocking(False)
            tcp.setblocking(False)
            self._udp, self._tcp = udp, tcp
            return
        raise OSError(f"could not bind UDP and TCP on one port: {last}")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        for sock in (self._udp, self._tcp):
            if sock is not None:
                sock.close()
        self._udp = self._tcp = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def address(self) -> tuple[str, int]:
        if self._udp is None:
            raise RuntimeError("AuthoritativeServer is not started")
        return self.host, int(self._udp.getsockname()[1])

    # serving -----------------------------------------------------------------------------
    def _serve(self) -> None:
        assert self._udp is not None and self._tcp is not None
        with selectors.DefaultSelector() as sel:
            sel.register(self._udp, selectors.EVENT_READ, "udp")
            sel.register(self._tcp, selectors.EVENT_READ, "tcp")
            while not self._stop.is_set():
                for key, _ in sel.select(timeout=0.1):
                    try:
                        if key.data == "udp":
                            self._serve_udp()
                        else:
                            conn, _addr = self._tcp.accept()
                            threading.Thread(target=self._serve_tcp, args=(conn,), daemon=True).start()
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError:
                        if self._stop.is_set():
                            return
                        log.exception("DNS socket error")
                    except Exception:  # one bad query must not stop the server
                        log.exception("DNS query failed")

    def _serve_udp(self) -> None:
        assert self._udp is not None
        wire, addr = self._udp.recvfrom(65535)
        reply = self.respond(wire, udp=True)
        if reply is not None:
            self._udp.sendto(reply, addr)

    def _serve_tcp(self, conn: socket.socket) -> None:
        """RFC 7766: two-octet length prefix; several queries may share one connection."""
        conn.settimeout(5.0)
        try:
            with conn:
                while not self._stop.is_set():
                    header = _recv_exact(conn, 2)
                    if header is None:
                        return
                    (length,) = struct.unpack("!H", header)
                    wire = _recv_exact(conn, length)
                    if wire is None:
                        return
                    reply = self.respond(wire, udp=False)
                    if reply is None:
                        return
                    conn.sendall(struct.pack("!H", len(reply)) + reply)
        except OSError:
            return

    # answering ---------------------------------------------------------------------------
    def respond(self, wire: bytes, *, udp: bool) -> bytes | None:
        """The wire reply to one query; None when the query can't even be parsed."""
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        response = dns.message.make_response(query)
        if query.opcode() != dns.opcode.QUERY or len(query.question) != 1:
            response.set_rcode(dns.rcode.NOTIMP if query.opcode() != dns.opcode.QUERY else dns.rcode.FORMERR)
            return response.to_wire()
        question = query.question[0]
        self.queries.append(("udp" if udp else "tcp", question.name.to_text(), dns.rdatatype.to_text(question.rdtype)))
        try:
            self._answer(response, question.name, question.rdtype)
        except Exception:  # answer SERVFAIL rather than leave the client waiting
            log.exception("answering %s failed", question)
            response = dns.message.make_response(query)
            response.set_rcode(dns.rcode.SERVFAIL)
        if not udp:
            return response.to_wire(max_size=65535)
        limit = max(query.payload, CLASSIC_UDP_SIZE) if query.edns >= 0 else CLASSIC_UDP_SIZE
        try:
            return response.to_wire(max_size=limit)
        except dns.exception.TooBig:
            # RFC 2181 9: set TC and send what fits; here, the header and question only, so the
            # client can't mistake a partial RRset for the whole one.
            response.answer.clear()
            response.authority.clear()
            response.additional.clear()
            response.flags |= dns.flags.TC
            return response.to_wire(max_size=limit)

    def _answer(self, response: dns.message.Message, qname: dns.name.Name, qtype: int) -> None:
        name = qname.to_text().rstrip(".").lower()
        zone = self.store.zone_for(name)
        if zone is None:
            response.set_rcode(dns.rcode.REFUSED)
            return
        response.flags |= dns.flags.AA
        current, owner = name, qname
        for _ in range(MAX_CNAME_HOPS):
            sets = self._rrsets(zone, current)
            cname = sets.get(dns.rdatatype.CNAME)
            if cname is not None and qtype not in (dns.rdatatype.CNAME, dns.rdatatype.ANY):
                response.answer.append(self._rrset(owner, cname))
                cname_rdata = cname[0][1]
                assert isinstance(cname_rdata, dns.rdtypes.ANY.CNAME.CNAME)
                target = cname_rdata.target
                target_name = target.to_text().rstrip(".").lower()
                if self.store.zone_for(target_name) is not zone:
                    return  # out of zone: the client resolves the rest
                current, owner = target_name, target
                continue
            wanted = list(sets.values()) if qtype == dns.rdatatype.ANY else [sets[qtype]] if qtype in sets else []
            if wanted:
                response.answer.extend(self._rrset(owner, rds) for rds in wanted)
                return
            if not sets and not self._has_descendants(zone, current):
                response.set_rcode(dns.rcode.NXDOMAIN)
            response.authority.append(self._soa(zone))
            return
        response.set_rcode(dns.rcode.SERVFAIL)  # CNAME loop

    @staticmethod
    def _rrset(owner: dns.name.Name, rdatas: list[tuple[int, dns.rdata.Rdata]]) -> dns.rrset.RRset:
        rrset = dns.rrset.RRset(owner, dns.rdataclass.IN, rdatas[0][1].rdtype)
        for ttl, rd in rdatas:
            rrset.add(rd, ttl)  # the set's TTL ends as the smallest (RFC 2181 5.2)
        return rrset

    def _rrsets(self, zone: StoredZone, name: str) -> dict[int, list[tuple[int, dns.rdata.Rdata]]]:
        out: dict[int, list[tuple[int, dns.rdata.Rdata]]] = {}
        if name == zone.name:
            soa = self._soa(zone)
            out[dns.rdatatype.SOA] = [(soa.ttl, rd) for rd in soa]
            for ns in zone.nameservers:
                try:
                    rd = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.NS, ns.rstrip(".") + ".")
                except dns.exception.DNSException:
                    log.warning("skipping unparsable nameserver %r of %s", ns, zone.name)
                    continue
                out.setdefault(dns.rdatatype.NS, []).append((SOA_TTL, rd))
        for record in self.store.records(zone.name, name):
            try:
                rdtype = dns.rdatatype.from_text(record.type)
                rd = dns.rdata.from_text(
                    dns.rdataclass.IN, rdtype, _rdata_text(record), origin=dns.name.root, relativize=False
                )
            except dns.exception.DNSException:
                log.warning("skipping unparsable record %s %s %r", record.name, record.type, record.value)
                continue
            if all(rd != existing for _, existing in out.get(rdtype, [])):
                out.setdefault(rdtype, []).append((record.ttl, rd))
        return out

    def _has_descendants(self, zone: StoredZone, name: str) -> bool:
        suffix = "." + name
        return any(r.name.endswith(suffix) for r in self.store.records(zone.name))

    def _soa(self, zone: StoredZone) -> dns.rrset.RRset:
        mname = (zone.nameservers[0].rstrip(".") if zone.nameservers else f"ns1.{zone.name}") + "."
        # The serial moves whenever a record changes, as a real primary's would.
        records = self.store.records(zone.name)
        serial = max((int(r.updated_at) for r in records), default=1) % (2**32) or 1
        text = f"{mname} hostmaster.{zone.name}. {serial} 3600 600 86400 {SOA_TTL}"
        rrset = dns.rrset.RRset(_absolute(zone.name), dns.rdataclass.IN, dns.rdatatype.SOA)
        rrset.add(dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.SOA, text), SOA_TTL)
        return rrset


def _recv_exact(conn: socket.socket, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf
