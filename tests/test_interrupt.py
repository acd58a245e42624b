"""SIGKILL at every write of a run, then rerun: every rerun converges, nothing is written twice.

The run under test is a real process (`python -m dnsbridge onboard …`) against emulators in this
process. A fault rule counts the write requests reaching the servers (SES CreateEmailIdentity and
the DNS provider's writes) and, at the k-th, SIGKILLs the child: either before the server acts
("before": the write never happened) or after it acted but before the reply left ("after": the
write happened, the client never knew). For every k in 1..(writes of a fresh run) and both
phases, the next run must finish the job with exactly the right records.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dnsbridge.report import SECRET_VARIABLES
from dnsbridge.sandbox.faults import Fault, Kind, Request
from dnsbridge.testing import run
from tests.test_faults import dkim, provider_chaos, zone_rows
from tests.worlds import StoreWorld
from tests.worlds_cloudflare import CloudflareWorld
from tests.worlds_route53 import Route53World

ROOT = Path(__file__).resolve().parent.parent
WORLDS: dict[str, Callable[[], StoreWorld]] = {
    "dnspod": StoreWorld,
    "cloudflare": CloudflareWorld,
    "route53": Route53World,
}
SPF_BEFORE = "v=spf1 include:_spf.google.com -all"
SPF_AFTER = "v=spf1 include:_spf.google.com include:qcloudmail.com -all"


class KillAt:
    """A fault rule: at the k-th write request, SIGKILL `pid` (before or after the server acts)."""

    def __init__(self, k: int, after: bool) -> None:
        self.k, self.after = k, after
        self.pid: int | None = None
        self.writes = 0
        self.fired = False
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Fault | None:
        if not request.write:
            return None
        with self._lock:
            self.writes += 1
            if self.writes != self.k:
                return None
            self.fired = True
        return Fault(Kind.LOST_REPLY if self.after else Kind.DROP, then=self._kill)

    def _kill(self) -> None:
        assert self.pid is not None
        os.kill(self.pid, signal.SIGKILL)


def child_env(world: StoreWorld) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in SECRET_VARIABLES and not k.startswith("AWS_")}
    return {**base, **world.env(), "PYTHONPATH": str(ROOT)}


def seed(world: StoreWorld, domain: str) -> None:
    world.add(domain, "TXT", SPF_BEFORE)
    world.add(domain, "TXT", "site-verification=keep")


def expected(world: StoreWorld, domain: str) -> list[tuple[str, str, str, int | None]]:
    return sorted(
        [
            (domain, "TXT", SPF_AFTER, None),
            (domain, "TXT", "site-verification=keep", None),
            (domain, "MX", "mxbiz1.qq.com", 5),
            (f"_dmarc.{domain}", "TXT", "v=DMARC1; p=none", None),
            dkim(world, domain),
        ]
    )


def rows_of(world: StoreWorld, domain: str) -> list[tuple[str, str, str, int | None]]:
    return [r for r in zone_rows(world) if r[0] == domain or r[0].endswith("." + domain)]


def fresh_writes(make_world: Callable[[], StoreWorld]) -> int:
    """How many write requests a fresh, uninterrupted run of the scenario makes."""
    with make_world() as world:
        world.add_zone("example.com")
        seed(world, "calibrate.example.com")
        counter = KillAt(k=0, after=False)
        _add(world, counter)
        out = run(world, "onboard", "calibrate.example.com", "--no-wait", "-o", "json")
        assert out.exit_code == 0, out.stderr
        return counter.writes


def _add(world: StoreWorld, rule: KillAt) -> None:
    tencent, dns = world.box.tencent.chaos, provider_chaos(world)
    tencent.add(rule)
    if dns is not tencent:
        dns.add(rule)


@pytest.fixture(params=sorted(WORLDS), scope="module")
def kill_points(request: pytest.FixtureRequest) -> Iterator[tuple[Callable[[], StoreWorld], int]]:
    make = WORLDS[request.param]
    yield make, fresh_writes(make)


def test_sigkill_at_every_write_then_rerun_converges(kill_points: tuple[Callable[[], StoreWorld], int]) -> None:
    make_world, writes = kill_points
    assert writes >= 2  # SES's identity and at least one DNS write
    with make_world() as world:
        world.add_zone("example.com")
        cases = [(k, after) for k in range(1, writes + 1) for after in (False, True)]
        for k, after in cases:
            domain = f"k{k}-{'after' if after else 'before'}.example.com"
            seed(world, domain)
            world.box.tencent.chaos.clear()
            provider_chaos(world).clear()
            killer = KillAt(k, after)
            _add(world, killer)
            child = subprocess.Popen(
                [sys.executable, "-m", "dnsbridge", "onboard", domain, "--no-wait", "--no-propagation-check"],
                env=child_env(world),
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            killer.pid = child.pid
            _, stderr = child.communicate(timeout=60)
            assert killer.fired and child.returncode == -signal.SIGKILL, (k, after, child.returncode, stderr)

            world.box.tencent.chaos.clear()
            provider_chaos(world).clear()
            again = run(world, "onboard", domain, "--no-wait", "-o", "json")
            assert again.exit_code == 0, (k, after, again.stderr)
            rows = rows_of(world, domain)
            assert not [r for r, n in Counter(rows).items() if n > 1], (k, after, rows)
            assert rows == expected(world, domain), (k, after)

            before = world.writes()
            settled = run(world, "onboard", domain, "--no-wait", "-o", "json")
            assert settled.exit_code == 0 and world.writes() == before, (k, after, settled.stderr)
            assert {r["action"] for r in settled.records()} == {"unchanged"}
