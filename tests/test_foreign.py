"""Nothing foreign is touched: over random zone contents (other TXT values, SPF variants, CNAMEs and
MX at nearby names, upper case, IDN names, odd characters), every record not named by SES's
attributes is byte-identical after a run, on every provider — and at SES's names, every record
dnsbridge doesn't own (all but the one SPF record it merges into and the DKIM value) is too.

One world per provider serves every example: each example gets a zone of its own."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dnsbridge import spf
from dnsbridge.testing import run
from tests.worlds import StoreWorld
from tests.worlds_cloudflare import CloudflareWorld
from tests.worlds_route53 import Route53World

pytestmark = pytest.mark.filterwarnings("ignore:unclosed:ResourceWarning")
WORLDS: dict[str, Callable[[], StoreWorld]] = {
    "dnspod": StoreWorld,
    "cloudflare": CloudflareWorld,
    "route53": Route53World,
}
_ZONES = itertools.count()

# {d}: the sender domain; {z}: its zone. SES's names are {d}, _dmarc.{d}, qcloudgz2048._domainkey.{d}.
TXT_NAMES = [
    "{d}",
    "_dmarc.{d}",
    "qcloudgz2048._domainkey.{d}",
    "qcloud._domainkey.{d}",
    "s1._domainkey.{d}",
    "x.{d}",
    "{z}",
    "_dmarc.{z}",
    "mail2.{z}",
    "xn--bcher-kva.{d}",
    "xn--mller-kva.{z}",
]
MX_NAMES = ["{d}", "{z}", "mx-near.{z}", "xn--bcher-kva.{d}"]
A_NAMES = ["{d}", "{z}", "x.{d}"]
CNAME_NAMES = ["www.{d}", "cdn.{z}", "xn--caf-dma.{z}", "_acme-challenge.{d}"]  # names holding nothing else
HOSTS = ["mx1.example.net", "MX2.Example.NET", "mxbiz1.qq.com", "xn--mller-kva.example.org", "a.b.c.example.com"]
SPF_VARIANTS = [
    "v=spf1 -all",
    "v=spf1 include:_spf.google.com ~all",
    "V=SPF1 MX ?all",
    "v=spf1 include:qcloudmail.com -all",
    "v=spf1 redirect=_spf.example.net",
    "v=spf1 ip4:192.0.2.0/24 include:a.example include:b.example +all",
    "v=spf10 not-spf",
    "spf2.0/pra include:x.example -all",
]
TEXT = st.text(
    alphabet=st.sampled_from('abcXYZ019 =;:-_."\\/üé中'),
    min_size=1,
    max_size=40,
).filter(lambda s: s.strip() != "")
TXT_VALUES = st.one_of(
    st.sampled_from(SPF_VARIANTS),
    st.sampled_from(["google-site-verification=abc", "v=DMARC1; p=reject", "v=DKIM1; k=rsa; p=OTHER", "MS=ms1234"]),
    TEXT,
)

Seed = tuple[str, str, str, int | None]


@st.composite
def zone_contents(draw: Any) -> list[Seed]:
    txt = draw(st.lists(st.tuples(st.sampled_from(TXT_NAMES), TXT_VALUES), max_size=8))
    mx = draw(st.lists(st.tuples(st.sampled_from(MX_NAMES), st.sampled_from(HOSTS), st.integers(0, 100)), max_size=3))
    a = draw(st.lists(st.tuples(st.sampled_from(A_NAMES), st.ip_addresses(v=4).map(str)), max_size=2))
    cname = draw(st.lists(st.tuples(st.sampled_from(CNAME_NAMES), st.sampled_from(HOSTS)), max_size=2))
    out: list[Seed] = [(n, "TXT", v, None) for n, v in txt]
    out += [(n, "MX", h, p) for n, h, p in mx]
    out += [(n, "A", v, None) for n, v in a]
    out += [(n, "CNAME", h, None) for n, h in cname]
    unique: dict[tuple[str, str, str], Seed] = {}
    cnames: set[str] = set()
    for name, rtype, value, priority in out:
        if rtype == "CNAME":
            if name in cnames:  # one CNAME per name
                continue
            cnames.add(name)
        key = (name, rtype, value.lower() if rtype != "TXT" else value)
        if rtype == "MX" and any(k[0] == name and k[1] == "MX" and k[2] == value.lower() for k in unique):
            continue
        unique.setdefault(key, (name, rtype, value, priority))
    return list(unique.values())


@pytest.fixture(scope="module", params=sorted(WORLDS))
def world(request: pytest.FixtureRequest) -> Iterator[StoreWorld]:
    with WORLDS[request.param]() as w:
        w.box.tencent.max_identities = 10_000
        yield w


def raw(world: StoreWorld, zone: str) -> list[tuple[str, str, str, int | None, int]]:
    if isinstance(world, Route53World):
        world.mirror.sync()
    stored = world.box.store.zone(zone)
    assert stored is not None
    return sorted(
        (r.name, r.type, r.value, r.priority, r.ttl) for r in stored.records.values() if r.type not in ("SOA", "NS")
    )


RawRow = tuple[str, str, str, int | None, int]


def _owned(row: RawRow, domain: str, spf_before: list[RawRow]) -> bool:
    """Records dnsbridge may change: the SPF record it merges into, and the DKIM name's TXT."""
    name, rtype = row[0], row[1]
    if name == f"qcloudgz2048._domainkey.{domain}" and rtype == "TXT":
        return True
    return name == domain and rtype == "TXT" and row in spf_before


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(contents=zone_contents())
def test_every_record_not_named_by_ses_is_byte_identical(world: StoreWorld, contents: list[Seed]) -> None:
    zone = f"z{next(_ZONES)}.example.com"
    domain = f"mail.{zone}"
    world.add_zone(zone)
    for name, rtype, value, priority in contents:
        world.add(name.format(d=domain, z=zone), rtype, value, priority)
    before = raw(world, zone)
    ses_names = {domain, f"_dmarc.{domain}", f"qcloudgz2048._domainkey.{domain}"}

    out = run(world, "onboard", domain, "--no-wait", "-o", "json")
    assert out.exit_code in (0, 1), out.stderr
    after = raw(world, zone)

    foreign_before = [r for r in before if r[0] not in ses_names]
    assert [r for r in after if r[0] not in ses_names] == foreign_before
    spf_rows = [r for r in before if r[0] == domain and r[1] == "TXT" and _is_spf(world, r[2])]
    kept = [r for r in before if r[0] in ses_names and not _owned(r, domain, spf_rows)]
    missing = [r for r in kept if r not in after]
    assert not missing, (missing, out.stderr)
    if out.exit_code == 1:  # refused (a conflict): nothing at all changed
        assert after == before, out.stderr
    else:  # and the run did its job
        assert any(r[0] == f"qcloudgz2048._domainkey.{domain}" for r in after), out.stderr


def _is_spf(world: StoreWorld, value: str) -> bool:
    from tests.test_faults import logical

    return spf.is_spf(logical(world, "TXT", value))
