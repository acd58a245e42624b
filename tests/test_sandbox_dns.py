"""The loopback authoritative server, queried with dnspython over real UDP and TCP sockets."""

from __future__ import annotations

from collections.abc import Iterator

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from dnsbridge.sandbox.dns import AuthoritativeServer
from dnsbridge.sandbox.tencent import fake_rsa_public_key, txt_to_presentation
from dnsbridge.sandbox.zones import StoredRecord, ZoneStore

DKIM = "v=DKIM1; k=rsa; p=" + fake_rsa_public_key("example.com", 2048)


@pytest.fixture
def store() -> ZoneStore:
    store = ZoneStore()
    store.add_zone("example.com", "dnspod", nameservers=("ns1.example.net", "ns2.example.net"))
    store.add_zone("sub.example.com", "route53")  # a delegated child zone in the same store

    def add(name: str, rtype: str, value: str, priority: int | None = None) -> None:
        zone = store.zone_for(name)
        assert zone is not None
        store.add(zone.name, StoredRecord(id=0, name=name, type=rtype, value=value, priority=priority, ttl=300))

    add("example.com", "TXT", txt_to_presentation("v=spf1 include:qcloudmail.com ~all"))
    add("example.com", "TXT", txt_to_presentation("google-site-verification=abc"))
    add("example.com", "MX", "mxbiz1.qq.com", priority=10)
    add("example.com", "A", "192.0.2.1")
    add("qcloudgz2048._domainkey.example.com", "TXT", txt_to_presentation(DKIM))
    add("www.example.com", "CNAME", "web.example.com")
    add("web.example.com", "A", "192.0.2.2")
    add("cdn.example.com", "CNAME", "cdn.provider.net")
    add("deep.empty.example.com", "A", "192.0.2.3")
    add("host.sub.example.com", "A", "192.0.2.4")
    return store


@pytest.fixture
def server(store: ZoneStore) -> Iterator[AuthoritativeServer]:
    with AuthoritativeServer(store) as srv:
        yield srv


def ask(
    server: AuthoritativeServer,
    name: str,
    rtype: str,
    *,
    tcp: bool = False,
    use_edns: int | bool = False,
    payload: int = 1232,
) -> dns.message.Message:
    query = dns.message.make_query(name, rtype, use_edns=use_edns, payload=payload)
    host, port = server.address
    if tcp:
        return dns.query.tcp(query, host, port=port, timeout=2)
    return dns.query.udp(query, host, port=port, timeout=2)


def texts(resp: dns.message.Message, rdtype: int) -> list[str]:
    return sorted(rd.to_text() for rrset in resp.answer if rrset.rdtype == rdtype for rd in rrset)


def test_address_is_loopback_and_same_port_for_tcp(server: AuthoritativeServer) -> None:
    host, port = server.address
    assert host == "127.0.0.1" and port > 0
    assert ask(server, "example.com", "A", tcp=True).rcode() == dns.rcode.NOERROR


def test_txt_mx_a_answers_are_authoritative(server: AuthoritativeServer) -> None:
    resp = ask(server, "example.com", "TXT")
    assert resp.flags & dns.flags.AA and resp.rcode() == dns.rcode.NOERROR
    assert texts(resp, dns.rdatatype.TXT) == ['"google-site-verification=abc"', '"v=spf1 include:qcloudmail.com ~all"']
    assert texts(ask(server, "example.com", "MX"), dns.rdatatype.MX) == ["10 mxbiz1.qq.com."]
    assert texts(ask(server, "EXAMPLE.com", "A"), dns.rdatatype.A) == ["192.0.2.1"]
    assert resp.answer[0].ttl == 300


def test_apex_ns_and_soa(server: AuthoritativeServer) -> None:
    assert texts(ask(server, "example.com", "NS"), dns.rdatatype.NS) == ["ns1.example.net.", "ns2.example.net."]
    soa = ask(server, "example.com", "SOA").answer[0]
    assert soa.rdtype == dns.rdatatype.SOA and soa[0].mname.to_text() == "ns1.example.net."


def test_cname_chain_followed_inside_the_zone(server: AuthoritativeServer) -> None:
    resp = ask(server, "www.example.com", "A")
    assert [r.rdtype for r in resp.answer] == [dns.rdatatype.CNAME, dns.rdatatype.A]
    assert texts(resp, dns.rdatatype.A) == ["192.0.2.2"]
    out = ask(server, "cdn.example.com", "A")
    assert texts(out, dns.rdatatype.CNAME) == ["cdn.provider.net."] and len(out.answer) == 1
    assert texts(ask(server, "www.example.com", "CNAME"), dns.rdatatype.CNAME) == ["web.example.com."]


def test_nodata_nxdomain_refused(server: AuthoritativeServer) -> None:
    nodata = ask(server, "example.com", "AAAA")
    assert nodata.rcode() == dns.rcode.NOERROR and not nodata.answer
    assert nodata.authority[0].rdtype == dns.rdatatype.SOA
    empty_non_terminal = ask(server, "empty.example.com", "A")
    assert empty_non_terminal.rcode() == dns.rcode.NOERROR and not empty_non_terminal.answer
    nx = ask(server, "missing.example.com", "TXT")
    assert nx.rcode() == dns.rcode.NXDOMAIN and nx.flags & dns.flags.AA
    assert nx.authority[0].rdtype == dns.rdatatype.SOA
    refused = ask(server, "example.org", "A")
    assert refused.rcode() == dns.rcode.REFUSED and not refused.flags & dns.flags.AA


def test_child_zone_answers_from_its_own_zone(server: AuthoritativeServer) -> None:
    resp = ask(server, "host.sub.example.com", "A")
    assert texts(resp, dns.rdatatype.A) == ["192.0.2.4"]
    nx = ask(server, "nothing.sub.example.com", "A")
    assert nx.authority[0].name.to_text() == "sub.example.com."


def test_2048_bit_dkim_over_udp_and_tcp(server: AuthoritativeServer) -> None:
    name = "qcloudgz2048._domainkey.example.com"
    for tcp in (False, True):
        resp = ask(server, name, "TXT", tcp=tcp)
        assert not resp.flags & dns.flags.TC
        strings = [s for rrset in resp.answer for rd in rrset for s in rd.strings]
        assert len(strings) == 2 and all(len(s) <= 255 for s in strings)  # one value, two strings
        assert b"".join(strings).decode() == DKIM


def test_large_answer_truncates_over_udp_and_works_over_tcp(server: AuthoritativeServer, store: ZoneStore) -> None:
    # Two 2048-bit keys at one name (a key rollover) no longer fit 512 octets.
    name = "qcloudgz2048._domainkey.example.com"
    second = "v=DKIM1; k=rsa; p=" + fake_rsa_public_key("rollover", 2048)
    store.add("example.com", StoredRecord(id=0, name=name, type="TXT", value=txt_to_presentation(second)))
    truncated = ask(server, name, "TXT")  # no EDNS: 512 octets at most
    assert truncated.flags & dns.flags.TC and not truncated.answer
    full = ask(server, name, "TXT", tcp=True)
    assert not full.flags & dns.flags.TC
    joined = sorted(b"".join(rd.strings).decode() for rrset in full.answer for rd in rrset)
    assert joined == sorted([DKIM, second])
    edns = ask(server, name, "TXT", use_edns=0, payload=1232)  # EDNS: it fits
    assert not edns.flags & dns.flags.TC and len(edns.answer[0]) == 2
    tiny = ask(server, name, "TXT", use_edns=0, payload=256)  # below 512 counts as 512
    assert tiny.flags & dns.flags.TC
    query = dns.message.make_query(name, "TXT")
    host, port = server.address
    resp, used_tcp = dns.query.udp_with_fallback(query, host, port=port, timeout=2)
    assert used_tcp and len(resp.answer[0]) == 2
    assert [q[0] for q in server.queries[-2:]] == ["udp", "tcp"]


def test_sees_store_changes_and_stops_cleanly(store: ZoneStore) -> None:
    with AuthoritativeServer(store) as srv:
        assert ask(srv, "new.example.com", "TXT").rcode() == dns.rcode.NXDOMAIN
        store.add("example.com", StoredRecord(id=0, name="new.example.com", type="TXT", value='"hello"'))
        assert texts(ask(srv, "new.example.com", "TXT"), dns.rdatatype.TXT) == ['"hello"']
        assert ("udp", "new.example.com.", "TXT") in srv.queries
        host, port = srv.address
    query = dns.message.make_query("example.com", "A")
    with pytest.raises((dns.exception.Timeout, ConnectionRefusedError, OSError)):
        dns.query.tcp(query, host, port=port, timeout=0.5)
