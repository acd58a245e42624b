"""Route 53 through the whole flow, against the sandbox's emulator (moto behind a middleware that
refuses what Route 53 refuses): compare-and-swap writes, and one zone listing for many domains."""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest

from dnsbridge.provider import ProviderSettings
from dnsbridge.sandbox.faults import Fault, Kind, Once, Request
from dnsbridge.testing import run
from providers.route53 import Route53Provider
from tests.worlds_route53 import Route53World

R53 = "{https://route53.amazonaws.com/doc/2013-04-01/}"
SPF = "v=spf1 include:qcloudmail.com ~all"


@pytest.fixture
def world() -> Iterator[Route53World]:
    with Route53World() as w:
        w.box.tencent.max_identities = 100
        w.add_zone("example.com")
        yield w


def actions(request: Request) -> list[tuple[str, str, str]]:
    """(action, name, type) of each change in a ChangeResourceRecordSets body."""
    out = []
    for change in ET.fromstring(request.body).iter(f"{R53}Change"):
        rrset = change.find(f"{R53}ResourceRecordSet")
        assert rrset is not None
        name = (rrset.findtext(f"{R53}Name") or "").rstrip(".")
        out.append((change.findtext(f"{R53}Action") or "", name, rrset.findtext(f"{R53}Type") or ""))
    return out


class Changes:
    """Every ChangeResourceRecordSets the provider sends; optionally, someone else's write lands
    in the zone just before the first of them arrives."""

    def __init__(self, world: Route53World, before_first: tuple[str, str, str] | None = None) -> None:
        self.world = world
        self.before_first = before_first
        self.seen: list[Request] = []
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Fault | None:
        if request.action != "ChangeResourceRecordSets":
            return None
        with self._lock:
            foreign, self.before_first = self.before_first, None
            self.seen.append(request)
        if foreign is not None:
            self.world.add(*foreign)  # through the API, as another tool would (this rule is done first)
        return None


def test_a_set_that_was_read_is_replaced_by_an_exact_delete_and_a_create(world: Route53World) -> None:
    world.add("mail.example.com", "TXT", "google-site-verification=abc")
    changes = world.mirror.chaos.add(Changes(world))

    out = run(world, "onboard", "mail.example.com", "--no-wait")

    assert out.exit_code == 0, out.stderr
    [sent] = [r for r in changes.seen if r.body]
    apex = [(a, t) for a, n, t in actions(sent) if n == "mail.example.com"]
    assert ("DELETE", "TXT") in apex and ("CREATE", "TXT") in apex  # the TXT set that was read
    assert ("CREATE", "MX") in apex and ("DELETE", "MX") not in apex  # a set that wasn't there
    assert "UPSERT" not in {a for a, _, _ in actions(sent)}
    assert sorted(world.values("mail.example.com", "TXT")) == ["google-site-verification=abc", SPF]


def test_a_value_written_by_someone_else_after_the_read_is_kept(world: Route53World) -> None:
    # Between dnsbridge's read (no TXT at the apex) and its write, another tool adds one. Route 53
    # refuses the CREATE of a set that now exists; dnsbridge reads again and merges.
    changes = world.mirror.chaos.add(Changes(world, before_first=("mail.example.com", "TXT", "other-tool=1")))

    out = run(world, "onboard", "mail.example.com", "--no-wait")

    assert out.exit_code == 0, out.stderr
    assert "changed after it was read" in out.stderr and "reading it again" in out.stderr
    assert sorted(world.values("mail.example.com", "TXT")) == ["other-tool=1", SPF]
    assert len(changes.seen) >= 2  # the refused batch, then the one made from the fresh read


def test_a_zone_that_keeps_changing_fails_the_domain_without_writing(world: Route53World) -> None:
    class Meddler:
        """Before each of dnsbridge's writes, another tool changes the apex's TXT set."""

        def __init__(self) -> None:
            self.busy = False
            self.count = 0

        def __call__(self, request: Request) -> Fault | None:
            if request.action == "ChangeResourceRecordSets" and not self.busy:
                self.busy = True  # its own write passes through this rule too
                try:
                    world.add("mail.example.com", "TXT", f"meddler={self.count}")
                    self.count += 1
                finally:
                    self.busy = False
            return None

    meddler = world.mirror.chaos.add(Meddler())

    out = run(world, "onboard", "mail.example.com", "--no-wait", "-o", "json")

    assert out.exit_code == 1
    assert out.document["domains"][0]["error"]["code"] == "ZoneChanged"
    assert meddler.count == 2  # one plan and one fresh plan, both refused
    assert sorted(world.values("mail.example.com", "TXT")) == ["meddler=0", "meddler=1"]


def test_a_lost_reply_to_a_write_that_went_through_is_not_an_error(world: Route53World) -> None:
    # The retry of a committed CREATE is refused ("already exists"); the sets are read back and
    # hold what was sent, so the write counts as done.
    world.mirror.chaos.add(Once(Fault(Kind.LOST_REPLY), match=lambda r: r.action == "ChangeResourceRecordSets"))

    out = run(world, "onboard", "mail.example.com", "--no-wait")

    assert out.exit_code == 0, out.stderr
    assert world.values("mail.example.com", "TXT") == [SPF]
    assert world.writes() == 2  # the lost one and its refused repeat: nothing written twice


def test_many_domains_list_the_zone_once_and_write_in_few_batches(world: Route53World) -> None:
    world.add("m0.example.com", "TXT", "keep=me")
    domains = [f"m{i}.example.com" for i in range(15)]
    listings = world.mirror.count("GET", "/rrset")

    out = run(world, "onboard", *domains, "--no-wait", "--concurrency", "15", "-o", "json")

    assert out.exit_code == 0, out.stderr
    reads = world.mirror.count("GET", "/rrset") - listings
    # A first round too small for a listing reads its names one by one (3 per domain); every
    # later round is answered from the one listing and the sets this run wrote since.
    assert reads < len(domains), reads
    assert sorted(world.values("m0.example.com", "TXT")) == ["keep=me", SPF]
    for d in domains:
        assert world.values(f"_dmarc.{d}", "TXT") == ["v=DMARC1; p=none"]
    rerun = run(world, "onboard", *domains, "--no-wait", "--concurrency", "15", "-o", "json")
    assert rerun.exit_code == 0
    assert all(r["action"] == "unchanged" for d in rerun.document["domains"] for r in d["records"])


@pytest.mark.parametrize(
    ("domains", "calls"),
    [
        (3, 18),  # 9 names, read one by one in each of two rounds: fewer calls than a listing
        (1000, 21),  # 3,000 names to come: the zone is listed once (21 pages) and kept
    ],
)
def test_a_big_zone_is_listed_only_when_the_run_is_big_enough(world: Route53World, domains: int, calls: int) -> None:
    # 6,000 sets of someone else's, plus the zone's SOA and NS: a listing is 21 pages of 300.
    zone_id = world._zone_ids["example.com"]
    for start in range(0, 6_000, 1_000):
        changes = [
            {
                "Action": "CREATE",
                "ResourceRecordSet": {
                    "Name": f"h{i}.example.com.",
                    "Type": "A",
                    "TTL": 300,
                    "ResourceRecords": [{"Value": "192.0.2.1"}],
                },
            }
            for i in range(start, start + 1_000)
        ]
        world.client.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})
    provider = Route53Provider(ProviderSettings(env=world.env(), domains=domains))
    zone = provider.find_zone("a.example.com")
    assert zone.size == 6_002  # with the zone's SOA and NS
    wanted = [f"{prefix}{d}.example.com" for d in "abc" for prefix in ("", "_dmarc.", "s._domainkey.")]
    before = world.mirror.count("GET", "/rrset")

    assert provider.read(zone, wanted) == []
    assert provider.read(zone, wanted) == []  # a second round: from the listing, if there is one

    assert world.mirror.count("GET", "/rrset") - before == calls
