"""Waiting until the zone's authoritative nameservers answer with the records we wrote.

SES can only verify what DNS serves, and asking SES before the records are out wastes its
rate limit and the user's time. So we ask the servers SES will ask: the zone's own
authoritative nameservers (or DNSBRIDGE_NAMESERVERS), directly and non-recursively, never a
caching resolver that might hold an old negative answer.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rdatatype
import dns.resolver

from dnsbridge.errors import UsageError
from dnsbridge.records import Record
from dnsbridge.retry import Backoff, Deadline

log = logging.getLogger(__name__)
QUERY_TIMEOUT = 3.0

Server = tuple[str, int]  # (address, port)


@dataclass(frozen=True)
class Visibility:
    checked: bool
    visible: bool
    note: str
    missing: tuple[Record, ...] = ()


def servers_from_env(env: Mapping[str, str]) -> list[Server] | None:
    """DNSBRIDGE_NAMESERVERS=host[:port],… (IPv6 as [addr]:port), or None when unset."""
    raw = env.get("DNSBRIDGE_NAMESERVERS", "").strip()
    if not raw:
        return None
    servers: list[Server] = []
    for item in raw.split(","):
        item = item.strip()
        host, port = item, 53
        if item.startswith("["):
            host, _, rest = item[1:].partition("]")
            port = int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else 53
        elif item.count(":") == 1:
            host, _, p = item.partition(":")
            if not p.isdigit():
                raise UsageError(f"DNSBRIDGE_NAMESERVERS: {item!r} is not host[:port]")
            port = int(p)
        if not host or not 0 < port < 65536:
            raise UsageError(f"DNSBRIDGE_NAMESERVERS: {item!r} is not host[:port]")
        servers.extend((address, port) for address in _addresses(host))
    return servers


def _addresses(host: str) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_DGRAM)
    except OSError:
        return []
    return sorted({str(info[4][0]) for info in infos})


def zone_servers(zone: str, nameservers: Sequence[str]) -> list[Server]:
    """The zone's authoritative servers: the provider's list, else the zone's NS over DNS."""
    hosts = list(nameservers)
    if not hosts:
        try:
            answer = dns.resolver.resolve(zone, "NS", lifetime=QUERY_TIMEOUT)
            hosts = [str(r.target).rstrip(".") for r in answer]
        except dns.exception.DNSException as exc:
            log.debug("no NS for %s: %s", zone, exc)
            return []
    return [(address, 53) for host in hosts for address in _addresses(host)]


def answers(server: Server, name: str, rtype: str) -> list[Record] | None:
    """What one server answers for (name, type), as Records; None when it didn't answer."""
    query = dns.message.make_query(name, rtype)
    query.flags &= ~dns.flags.RD
    try:
        response, _ = dns.query.udp_with_fallback(query, server[0], timeout=QUERY_TIMEOUT, port=server[1])
    except (dns.exception.DNSException, OSError):
        return None
    out: list[Record] = []
    for rrset in response.answer:
        if dns.rdatatype.to_text(rrset.rdtype) != rtype:
            continue
        for rdata in rrset:
            out.append(_record(name, rtype, rdata))
    return out


def _record(name: str, rtype: str, rdata: object) -> Record:
    if rtype == "TXT":
        value = b"".join(rdata.strings).decode("utf-8", errors="replace")  # type: ignore[attr-defined]
        return Record(name, rtype, value)
    if rtype == "MX":
        host = str(rdata.exchange).rstrip(".").lower()  # type: ignore[attr-defined]
        return Record(name, rtype, host, priority=int(rdata.preference))  # type: ignore[attr-defined]
    if rtype == "CNAME":
        return Record(name, rtype, str(rdata.target).rstrip(".").lower())  # type: ignore[attr-defined]
    return Record(name, rtype, str(rdata))


def wait_visible(
    records: Sequence[Record],
    servers: Sequence[Server],
    deadline: Deadline,
    *,
    backoff: Backoff | None = None,
    sleep: Callable[[float], None] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> Visibility:
    """Poll every server until each of `records` is in its answers, or the deadline passes."""
    import time

    if not servers:
        return Visibility(False, False, "the zone's nameservers could not be found; propagation not checked")
    backoff = backoff or Backoff(base=1.0, cap=15.0, floor=0.5)
    sleep = sleep or time.sleep
    pending = list(records)
    attempt, last = 0, -1
    while True:
        pending = [r for r in pending if not all(_served(s, r) for s in servers)]
        done = len(records) - len(pending)
        if on_progress and done != last:
            on_progress(done, len(records))
            last = done
        if not pending:
            return Visibility(True, True, f"all {len(records)} records answer at {len(servers)} nameservers")
        delay = min(backoff.delay(attempt), deadline.remaining())
        if delay <= 0:
            return Visibility(True, False, "not every record answers at the nameservers yet", tuple(pending))
        sleep(delay)
        attempt += 1


def _served(server: Server, record: Record) -> bool:
    got = answers(server, record.name, record.type)
    return bool(got) and any(g.value == record.value for g in got or ())
