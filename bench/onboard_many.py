"""Benchmark: onboard N domains in one run on each provider's emulator, and compare the wall
time with the lower bound the documented rate limits allow.

Not a test: it prints numbers. The emulators enforce the documented limits (SES 20 requests/s
per action; DNSPod per action; Cloudflare 1,200 per 5 minutes; Route 53 5/s per account) and
add `--latency` seconds to every answer. The dnsbridge run is a real `python -m dnsbridge`
process (its peak memory is measured with wait4), against emulators in this process.

    python bench/onboard_many.py                 # N = 200 on every provider
    python bench/onboard_many.py -n 1000 --providers dnspod
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass

from dnsbridge.sandbox.faults import FaultPlan, Kind
from dnsbridge.sandbox.world import Sandbox

ZONE = "bench.example"

# The minimal calls for N fresh domains in one zone, by quota, with what the APIs document:
# SES can't batch (a Create and at least one Update per domain); a zone's records can be listed
# in one call; Route 53 and Cloudflare write many records per call.
DKIM_CHARS = 410  # a 2048-bit DKIM TXT value
CHARS_PER_DOMAIN = DKIM_CHARS + 40 + 20 + 20  # a fresh domain's sets are CREATEd: each value counts once


def minimal_calls(provider: str, n: int) -> dict[str, tuple[int, int, float]]:
    """quota name → (minimal calls, quota count, quota period)."""
    calls = {
        "ses:CreateEmailIdentity": (n, 20, 1.0),
        "ses:UpdateEmailIdentity": (n, 20, 1.0),
    }
    if provider == "dnspod":
        calls |= {
            "dnspod:DescribeDomainList": (1, 20, 1.0),
            "dnspod:DescribeRecordList": (max(1, math.ceil(4 * n / 3000)), 100, 1.0),
            "dnspod:CreateRecord": (4 * n, 500, 1.0),
        }
    elif provider == "cloudflare":
        calls |= {"cloudflare": (2 + math.ceil(4 * n / 200), 1200, 300.0)}
    else:
        batches = max(math.ceil(4 * n / 1000), math.ceil(n * CHARS_PER_DOMAIN / 32000))
        calls |= {"route53": (1 + 1 + 2 * batches, 5, 1.0)}  # zones, one listing, change + GetChange
    return calls


def window_time(calls: int, count: int, period: float) -> float:
    """The least time `calls` requests take through a sliding window of `count` per `period`."""
    return ((calls - 1) // count) * period if calls else 0.0


@dataclass
class Result:
    provider: str
    n: int
    wall: float
    bound: float
    bound_detail: str
    calls: Counter[str]
    throttled: dict[str, int]
    peak_rss_mb: float
    exit_code: int
    verified: int

    def report(self, latency: float) -> str:
        ses_per_domain = (self.calls["ses:CreateEmailIdentity"] + self.calls["ses:GetEmailIdentity"]) / self.n
        polls = self.calls["ses:UpdateEmailIdentity"] / self.n
        ratio = self.wall / self.bound if self.bound else float("inf")
        lines = [
            f"== {self.provider}: N={self.n}, latency {latency * 1000:.0f} ms, exit {self.exit_code}, "
            f"{self.verified}/{self.n} verified",
            f"  wall time     {self.wall:8.2f} s",
            f"  lower bound   {self.bound:8.2f} s   ({self.bound_detail})",
            f"  ratio         {ratio:8.2f}     target ≤ 1.25: {'met' if ratio <= 1.25 else 'MISSED'}",
            f"  SES calls/domain besides polling {ses_per_domain:.2f} (target ≤ 2: "
            f"{'met' if ses_per_domain <= 2 else 'MISSED'}); polls/domain {polls:.2f}",
            f"  throttling errors seen {sum(self.throttled.values())} {self.throttled} "
            f"(target 0: {'met' if not any(self.throttled.values()) else 'MISSED'})",
            f"  peak memory of the dnsbridge process {self.peak_rss_mb:.0f} MB",
            "  calls per domain by API:",
        ]
        for name, count in sorted(self.calls.items()):
            lines.append(f"    {name:<40} {count:6d}  ({count / self.n:.3f}/domain)")
        return "\n".join(lines)


def run(provider: str, n: int, latency: float, concurrency: int) -> Result:
    with Sandbox(verify_delay=0.0, seed=False, provider=provider) as box:
        box.tencent.max_identities = n + 10
        box.add_zone(ZONE)
        slow = FaultPlan(rate=1.0, kinds=(Kind.SLOW,), delay=latency)
        for emulator in (box.tencent, box.cloudflare, box.route53):
            if emulator is not None:
                emulator.chaos.add(slow)
        domains = [f"d{i}.{ZONE}" for i in range(n)]
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as listing:
            listing.write("\n".join(domains) + "\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TENCENTCLOUD_", "DNSBRIDGE_", "AWS_"))}
        env |= box.env()
        argv = [sys.executable, "-m", "dnsbridge", "-q", "onboard", "--from-file", listing.name]
        argv += ["--concurrency", str(concurrency), "--timeout", "3600", "-o", "json"]
        started = time.monotonic()
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # noqa: S603 - our own argv
        out: list[str] = []
        readers = [
            threading.Thread(target=lambda s=stream: out.append(s.read()), daemon=True)
            for stream in (proc.stdout, proc.stderr)
            if stream is not None
        ]
        for reader in readers:
            reader.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        for reader in readers:
            reader.join()
        os.unlink(listing.name)
        calls: Counter[str] = Counter(f"{c.service}:{c.action}" for c in box.tencent.calls)
        throttled = {"tencent": box.tencent.throttled}
        if box.cloudflare is not None:
            calls.update(f"cloudflare:{c.method} {_fold(c.path)}" for c in box.cloudflare.calls)
            throttled["cloudflare"] = box.cloudflare.throttled
        if box.route53 is not None:
            calls.update(f"route53:{m} {_fold(p)}" for m, p in box.route53.requests)
            throttled["route53"] = box.route53.throttled
        verified = sum(1 for text in out for _ in range(text.count('"verified": true')))
        model = minimal_calls(provider, n)
        # The service's own windows: dnsbridge's windows (a place is held until a period after
        # the reply, see dnsbridge.ratelimit) cost one round trip more each; a cost it pays, not
        # part of the bound.
        per_quota = {name: window_time(c, count, period) for name, (c, count, period) in model.items()}
        slowest = max(per_quota, key=lambda k: per_quota[k])
        # One domain's own chain of calls, each `latency` long: create, read, write, verify.
        chain = 4 * latency
        bound = per_quota[slowest] + chain
        detail = (
            f"{slowest}: {model[slowest][0]} calls through {model[slowest][1]} per {model[slowest][2]:g}s "
            "+ one domain's 4 calls × latency"
        )
        peak = usage.ru_maxrss / 1024
        return Result(provider, n, wall, bound, detail, calls, throttled, peak, proc.returncode, verified)


def _fold(path: str) -> str:
    """A path with its ids (zone ids, Route 53 change ids like C2682N5HXP0BZ4) folded to {id}."""

    def is_id(part: str) -> bool:
        return len(part) >= 12 and (any(ch.isdigit() for ch in part) or part.isupper())

    return "/".join("{id}" if is_id(p) else p for p in path.split("/"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=200, help="domains (default 200)")
    parser.add_argument("--providers", default="dnspod,cloudflare,route53")
    parser.add_argument("--latency", type=float, default=0.03, help="seconds added to every answer (default 0.03)")
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    for provider in args.providers.split(","):
        print(run(provider, args.n, args.latency, args.concurrency).report(args.latency), flush=True)


if __name__ == "__main__":
    main()
