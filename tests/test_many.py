"""Many domains in one run: rate limits held, failures isolated, results and exit codes right."""

from __future__ import annotations

import bisect
import itertools
import threading
from collections.abc import Callable, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dnsbridge.provider import ProviderSettings, list_whole_zone
from dnsbridge.ratelimit import DOCUMENTED, Limits, Quota, SlidingWindow
from dnsbridge.sandbox.zones import StoredRecord
from dnsbridge.testing import run
from providers.dnspod import DnspodProvider
from tests.worlds import StoreWorld
from tests.worlds_cloudflare import CloudflareWorld
from tests.worlds_route53 import Route53World


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def send_all(window: SlidingWindow, t: FakeTime, durations: list[float]) -> list[tuple[float, float]]:
    """(sent, answered) of one request per duration, one after another, through `window`."""
    out = []
    for duration in durations:
        with window.slot():
            sent = t.now
            t.now += duration
        out.append((sent, t.now))
    return out


@settings(max_examples=100, deadline=None)
@given(
    count=st.integers(1, 30),
    period=st.sampled_from([1.0, 300.0]),
    durations=st.lists(st.floats(0.0, 2.0), min_size=1, max_size=200),
)
def test_the_service_never_counts_more_than_the_quota_in_a_window(
    count: int, period: float, durations: list[float]
) -> None:
    t = FakeTime()
    requests = send_all(SlidingWindow(Quota(count, period), clock=t.clock, sleep=t.sleep), t, durations)
    # The service counts each request at some moment between its send and its answer, which we
    # can't know: for any choice of those moments, a window of `period` holds at most `count`.
    # That holds exactly when the count-th request after each one is sent a period after it ended.
    for (_, answered), (sent, _) in zip(requests, requests[count:], strict=False):
        assert sent >= answered + period - 1e-9


@settings(max_examples=100, deadline=None)
@given(count=st.integers(1, 30), period=st.sampled_from([1.0, 300.0]), requests=st.integers(1, 200))
def test_instant_requests_go_in_full_windows_back_to_back(count: int, period: float, requests: int) -> None:
    t = FakeTime()
    window = SlidingWindow(Quota(count, period), clock=t.clock, sleep=t.sleep)
    sent = [s for s, _ in send_all(window, t, [0.0] * requests)]
    assert sent == pytest.approx([(i // count) * period for i in range(requests)])  # not slower than it must be


@settings(max_examples=100, deadline=None)
@given(count=st.integers(2, 60), burst_share=st.floats(0.05, 0.95), requests=st.integers(1, 300))
def test_a_burst_quota_spends_its_burst_then_paces_and_never_fills_the_window(
    count: int, burst_share: float, requests: int
) -> None:
    period = 300.0
    burst = max(1, min(count - 1, int(count * burst_share)))
    quota = Quota(count, period, burst=burst)
    t = FakeTime()
    sent = [s for s, _ in send_all(SlidingWindow(quota, clock=t.clock, sleep=t.sleep), t, [0.0] * requests)]
    assert sent[: min(burst, requests)] == [0.0] * min(burst, requests)  # the burst goes at once
    for i, start in enumerate(sent):
        assert len([s for s in sent[i:] if s < start + period]) <= count
    if requests > burst:  # then one request per (period / (count - burst)), never a whole window's stall
        step = period / (count - burst)
        gaps = [b - a for a, b in itertools.pairwise(sent[burst - 1 :])]
        assert max(gaps) <= step + 1e-6
        assert min(gaps) >= step - 1e-6


def test_cloudflares_quota_never_stalls_a_long_run() -> None:
    t = FakeTime()
    window = SlidingWindow(DOCUMENTED["cloudflare"], clock=t.clock, sleep=t.sleep)
    sent = [s for s, _ in send_all(window, t, [0.05] * 3000)]
    # Without the burst limit the 1,201st request would wait for the first to leave the
    # 5-minute window; paced, no gap is longer than one request's share of the quota.
    assert max(b - a for a, b in itertools.pairwise(sent)) < 1.0
    assert all(bisect.bisect_left(sent, start + 300.0) - i <= 1200 for i, start in enumerate(sent))


def test_limits_scale_down_and_count_per_action() -> None:
    limits = Limits({"ses:*": Quota(20, 1.0)}, scale=0.5)
    a, b = limits.window("ses:CreateEmailIdentity"), limits.window("ses:UpdateEmailIdentity")
    assert a is not None and b is not None and a is not b
    assert a.quota == Quota(10, 1.0)
    assert Quota(1200, 300.0, burst=200).scaled(0.5) == Quota(600, 300.0, burst=100)
    assert Quota(10, 300.0, burst=2).scaled(0.1) == Quota(1, 300.0)  # nothing left to burst
    assert limits.window("elsewhere") is None


def test_limiter_is_shared_by_threads() -> None:
    t = FakeTime()
    lock = threading.Lock()

    def sleep(seconds: float) -> None:
        with lock:
            t.sleep(seconds)

    window = SlidingWindow(Quota(5, 1.0), clock=t.clock, sleep=sleep)

    def request() -> None:
        with window.slot():
            pass

    threads = [threading.Thread(target=request) for _ in range(15)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert window.waited > 0


@pytest.fixture
def world() -> Iterator[StoreWorld]:
    with StoreWorld() as w:
        w.add_zone("example.com")
        yield w


def test_a_failing_domain_does_not_stop_the_others(world: StoreWorld) -> None:
    world.add("broken.example.com", "TXT", "v=spf1 a -all")
    world.add("broken.example.com", "TXT", "v=spf1 mx -all")  # two SPF records: a conflict
    domains = [f"d{i}.example.com" for i in range(6)] + ["broken.example.com", "elsewhere.org"]
    out = run(world, "onboard", *domains, "--timeout", "60", "--concurrency", "4", "-o", "json")
    results = {d["domain"]: d for d in out.document["domains"]}
    assert list(results) == domains  # in the order given
    assert all(results[d]["verified"] for d in domains[:6])
    assert results["broken.example.com"]["error"]["code"] == "Conflict"
    assert results["elsewhere.org"]["error"]["code"] == "ZoneNotFound"
    assert out.exit_code == 2  # the worst: ZoneNotFound is bad input
    assert world.values("broken.example.com", "TXT") == ["v=spf1 a -all", "v=spf1 mx -all"]


def test_mixed_outcomes_end_with_a_table_and_the_worst_code(world: StoreWorld) -> None:
    world.add("broken.example.com", "CNAME", "elsewhere.example.net")
    out = run(world, "onboard", "a.example.com", "broken.example.com", "--timeout", "60")
    assert out.exit_code == 1
    table = out.stdout[out.stdout.index("domain  ") :]
    assert "a.example.com" in table and "broken.example.com" in table and "Conflict" in table
    assert "2 domains: 1 verified, 1 with errors" in out.stdout


def test_a_lowered_rate_is_kept_across_domains(world: StoreWorld) -> None:
    import time

    started = time.monotonic()
    domains = [f"r{i}.example.com" for i in range(6)]
    out = run(world, "onboard", *domains, "--no-wait", "--rate-scale", "0.1", "--concurrency", "6")
    assert out.exit_code == 0, out.stderr
    # 6 CreateEmailIdentity calls at 2/s (20 × 0.1): at least two full windows of waiting
    assert time.monotonic() - started >= 2.0
    assert world.ses_calls("CreateEmailIdentity") == 6


@pytest.mark.parametrize("make", [StoreWorld, CloudflareWorld, Route53World], ids=["dnspod", "cloudflare", "route53"])
def test_domains_of_one_zone_share_reads_and_write_batches(make: Callable[[], StoreWorld]) -> None:
    with make() as w:
        w.box.tencent.max_identities = 100  # the account limit (10) is not what this is about
        w.add_zone("example.com")
        domains = [f"m{i}.example.com" for i in range(12)]
        before = w.writes()
        out = run(w, "onboard", *domains, "--no-wait", "--concurrency", "12", "-o", "json")
        assert out.exit_code == 0, out.stderr
        assert all(len(d["records"]) == 4 for d in out.document["domains"])
        for d in domains:
            assert w.values(f"_dmarc.{d}", "TXT") == ["v=DMARC1; p=none"]
        writes = w.writes() - before
        if w.provider == "dnspod":
            assert writes == 48  # DNSPod has no synchronous batch: one CreateRecord per record
        else:
            assert writes < len(domains) / 2, writes  # a batch per zone per round, not per domain
        rerun = run(w, "onboard", *domains, "--no-wait", "--concurrency", "12", "-o", "json")
        assert rerun.exit_code == 0 and w.writes() - before == writes


@pytest.mark.parametrize(
    ("names", "size", "page", "whole"),
    [
        (3, None, 300, False),  # one domain reads its own names, whatever the zone
        (8, 10, 300, False),
        (9, None, 300, True),  # several domains, size unknown: one listing (one page, likely)
        (9, 2_000, 300, True),  # 7 pages < 9 names
        (9, 2_700, 300, False),  # 9 pages: no cheaper than a call per name
        (9, 100_000, 3_000, False),  # 34 pages
        (3_000, 100_000, 300, True),  # 334 pages for a run's 3,000 names (Route 53 keeps the listing)
    ],
)
def test_a_whole_zone_is_listed_only_when_that_takes_fewer_calls(
    names: int, size: int | None, page: int, whole: bool
) -> None:
    assert list_whole_zone(names, size, page) is whole


def test_a_big_dnspod_zone_is_read_name_by_name(world: StoreWorld) -> None:
    # 27,001 records: a listing would be 10 calls of 3,000, more than the 9 names of 3 domains.
    for i in range(27_000):
        world.box.store.add("example.com", StoredRecord(0, f"h{i}.example.com", "A", "192.0.2.1"))
    provider = DnspodProvider(ProviderSettings(env=world.env(), domains=3))
    zone = provider.find_zone("a.example.com")
    assert zone.size == 27_000
    wanted = [f"{prefix}{d}.example.com" for d in "abc" for prefix in ("", "_dmarc.", "s._domainkey.")]
    before = world.box.tencent.count("dnspod", "DescribeRecordList")

    assert provider.read(zone, wanted) == []

    listed = [c.params for c in world.box.tencent.calls if c.action == "DescribeRecordList"][before:]
    assert len(listed) == 9 and all("Subdomain" in p for p in listed)
