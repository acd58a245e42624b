"""Faults on the wire: throttling, 5xx, dropped connections, slow answers and lost replies, on every
provider and on SES, end with exactly the right records — nothing missing, nothing twice, nothing
foreign changed. Also: no call can hang, and bad credentials fail within seconds.

Convergence policy (what a user may rely on): a run whose retries run out for a domain reports that
domain as an error (exit 1, `error` set in JSON), never as success, and the next run finishes the
job. So the test asserts that every domain the first run calls done is exactly right already, that
every domain it doesn't is reported as an error, and that reruns converge within MAX_RERUNS.
"""

from __future__ import annotations

import socket
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from dnsbridge.errors import ThrottledError, TransientError
from dnsbridge.provider import ProviderSettings
from dnsbridge.retry import RetryPolicy
from dnsbridge.sandbox.faults import Chaos, Fault, FaultPlan, Kind, Once, Request
from dnsbridge.sandbox.tencent import txt_from_presentation
from dnsbridge.testing import Outcome, run
from tests.worlds import StoreWorld
from tests.worlds_cloudflare import CloudflareWorld
from tests.worlds_route53 import Route53World

MAX_RERUNS = 3
WORLDS: dict[str, Callable[[], StoreWorld]] = {
    "dnspod": StoreWorld,
    "cloudflare": CloudflareWorld,
    "route53": Route53World,
}
Row = tuple[str, str, str, int | None]  # name, type, logical value, priority


# helpers shared with the other fault-hunting test files ------------------------------------------
def provider_chaos(world: StoreWorld) -> Chaos:
    """The fault switch of the world's DNS provider API."""
    if isinstance(world, CloudflareWorld):
        return world.cloudflare.chaos
    if isinstance(world, Route53World):
        return world.mirror.chaos
    return world.box.tencent.chaos  # DNSPod and SES share the Tencent emulator


def dns_writes(world: StoreWorld) -> int:
    """Write requests that reached the DNS provider's server (faulted ones included)."""
    chaos = provider_chaos(world)
    with chaos._lock:
        return sum(1 for r in chaos.seen if r.write and r.service != "ses")


def logical(world: StoreWorld, rtype: str, raw: str) -> str:
    if rtype != "TXT":
        return raw.rstrip(".").lower() if rtype in ("MX", "CNAME", "NS") else raw
    # Every emulator keeps RFC 1035 presentation form in the store (the Route 53 mirror turns
    # Route 53's octal escapes into decimal ones), so one decoder reads them all.
    return txt_from_presentation(raw)


def zone_rows(world: StoreWorld) -> list[Row]:
    """Every record of every zone, as (name, type, logical value, priority), duplicates kept."""
    if isinstance(world, Route53World):
        world.mirror.sync()
    return sorted(
        (r.name, r.type, logical(world, r.type, r.value), r.priority)
        for z in world.box.store
        for r in z.records.values()
        if r.type not in ("SOA", "NS")
    )


def raw_rows(world: StoreWorld) -> list[tuple[str, str, str, int | None, int]]:
    """Every record exactly as the provider holds it (presentation value, priority, TTL)."""
    if isinstance(world, Route53World):
        world.mirror.sync()
    return sorted(
        (r.name, r.type, r.value, r.priority, r.ttl)
        for z in world.box.store
        for r in z.records.values()
        if r.type not in ("SOA", "NS")
    )


def dkim(world: StoreWorld, domain: str) -> Row:
    identity = world.box.tencent.identities[domain]
    return (identity.dkim_name, "TXT", identity.dkim_value, None)


def onboard(world: StoreWorld, *domains: str, extra: tuple[str, ...] = ()) -> Outcome:
    return run(
        world,
        "onboard",
        *domains,
        "--concurrency",
        "6",
        "--timeout",
        "120",
        "-o",
        "json",
        *extra,
    )


@pytest.fixture(params=sorted(WORLDS))
def world(request: pytest.FixtureRequest) -> Iterator[StoreWorld]:
    with WORLDS[request.param]() as w:
        yield w


# the scenario ----------------------------------------------------------------------------------
SPF_GOOGLE = "v=spf1 include:_spf.google.com -all"
FOREIGN: list[tuple[str, str, str, int | None]] = [
    ("example.com", "A", "192.0.2.10", None),
    ("www.example.com", "CNAME", "example.com", None),
    ("example.com", "TXT", "v=spf1 mx -all", None),
    ("_dmarc.example.com", "TXT", "v=DMARC1; p=quarantine", None),
    ("x.fresh.example.com", "TXT", "not ours", None),
    ("fresh-mail.example.com", "MX", "mx.elsewhere.net", 10),
    ("spf.example.com", "TXT", "google-site-verification=keep-me", None),
    ("other.org", "MX", "mx.other.org", 10),
]


def seed(world: StoreWorld) -> list[Row]:
    """Six domains in two zones, each a different case of the record policy; returns the seeded rows."""
    world.add_zone("example.com")
    world.add_zone("other.org")
    rows: list[tuple[str, str, str, int | None]] = [
        *FOREIGN,
        ("spf.example.com", "TXT", SPF_GOOGLE, None),  # merged
        ("kept.example.com", "TXT", "v=DMARC1; p=reject", None),  # a TXT, not at _dmarc: foreign
        ("_dmarc.kept.example.com", "TXT", "v=DMARC1; p=reject", None),  # kept
        ("kept.example.com", "MX", "mx1.kept.net", 10),  # SES's MX skipped
        ("qcloudgz2048._domainkey.stale.example.com", "TXT", "v=DKIM1; k=rsa; p=OLD", None),  # replaced
    ]
    for name, rtype, value, priority in rows:
        world.add(name, rtype, value, priority)
    return sorted((n, t, logical(world, t, v) if t != "TXT" else v, p) for n, t, v, p in rows)


DOMAINS = ("fresh.example.com", "spf.example.com", "kept.example.com", "stale.example.com", "a.b.example.com")
DOMAINS_OTHER = ("mail.other.org",)


def expected(world: StoreWorld, seeded: list[Row]) -> list[Row]:
    rows = [r for r in seeded if r[0] != "qcloudgz2048._domainkey.stale.example.com"]
    rows = [r for r in rows if r != ("spf.example.com", "TXT", SPF_GOOGLE, None)]
    rows.append(("spf.example.com", "TXT", "v=spf1 include:_spf.google.com include:qcloudmail.com -all", None))
    for domain in (*DOMAINS, *DOMAINS_OTHER):
        rows.append(dkim(world, domain))
        if domain != "kept.example.com":
            rows.append((f"_dmarc.{domain}", "TXT", "v=DMARC1; p=none", None))
            rows.append((domain, "MX", "mxbiz1.qq.com", 5))
        if domain != "spf.example.com":
            rows.append((domain, "TXT", "v=spf1 include:qcloudmail.com ~all", None))
    return sorted(rows)


def test_thirty_percent_of_calls_faulted_ends_with_exactly_the_right_records(world: StoreWorld) -> None:
    seeded = seed(world)
    foreign_before = [r for r in raw_rows(world) if r[0] not in _ses_names()]
    dns = provider_chaos(world)
    ses = world.box.tencent.chaos
    # At least one write whose reply is lost, on the DNS API and on SES, whatever the draw.
    dns.add(Once(Fault(Kind.LOST_REPLY), match=lambda r: r.write and r.service != "ses"))
    ses.add(Once(Fault(Kind.LOST_REPLY), match=lambda r: r.action == "CreateEmailIdentity"))
    plan = FaultPlan(rate=0.3, seed=20240607, delay=0.2)
    dns.add(plan)
    if ses is not dns:
        ses.add(plan)

    first = onboard(world, *DOMAINS, *DOMAINS_OTHER)
    report = {d["domain"]: d for d in first.document["domains"]}
    assert set(report) == {*DOMAINS, *DOMAINS_OTHER}, first.stderr
    rows = zone_rows(world)
    for domain, entry in report.items():
        if entry["error"] is None:  # reported done: its records are exactly right now
            assert entry["verified"] is True, entry
            mine = [r for r in rows if r[0].endswith(domain) and "._domainkey." in r[0]]
            assert mine == [dkim(world, domain)], (domain, mine)
    if any(e["error"] for e in report.values()):
        assert first.exit_code != 0, "a domain failed but the run exited 0"
    else:
        assert first.exit_code == 0, first.stderr

    outcome = first
    for _ in range(MAX_RERUNS):
        if outcome.exit_code == 0:
            break
        outcome = onboard(world, *DOMAINS, *DOMAINS_OTHER)
    assert outcome.exit_code == 0, f"no convergence within {MAX_RERUNS} reruns:\n{outcome.stderr}"

    assert dns.count() > 0 and dns.count(Kind.LOST_REPLY) > 0 and ses.count(Kind.LOST_REPLY) > 0
    final = zone_rows(world)
    duplicates = [row for row, n in Counter(final).items() if n > 1]
    assert not duplicates, duplicates
    assert final == expected(world, seeded)
    assert [r for r in raw_rows(world) if r[0] not in _ses_names()] == foreign_before


def _ses_names() -> set[str]:
    out = set()
    for domain in (*DOMAINS, *DOMAINS_OTHER):
        out |= {domain, f"_dmarc.{domain}", f"qcloudgz2048._domainkey.{domain}"}
    return out


@pytest.mark.parametrize("kind", [k for k in Kind if k is not Kind.DENY], ids=lambda k: k.value)
def test_each_fault_on_the_first_write_is_survived(world: StoreWorld, kind: Kind) -> None:
    world.add_zone("example.com")
    world.add("mail.example.com", "TXT", SPF_GOOGLE)
    chaos = provider_chaos(world)
    chaos.add(Once(Fault(kind, delay=0.5), match=lambda r: r.write and r.service != "ses"))
    out = run(world, "onboard", "mail.example.com", "--no-wait", "-o", "json")
    assert out.exit_code == 0, out.stderr
    assert chaos.count(kind) == 1
    assert world.values("mail.example.com", "TXT") == ["v=spf1 include:_spf.google.com include:qcloudmail.com -all"]
    assert world.values("_dmarc.mail.example.com", "TXT") == ["v=DMARC1; p=none"]
    assert world.values("mail.example.com", "MX") == ["5 mxbiz1.qq.com"]
    assert len(world.values("qcloudgz2048._domainkey.mail.example.com", "TXT")) == 1


def test_fault_plan_is_deterministic_whatever_the_order() -> None:
    requests = [Request("dnspod", "CreateRecord", True, key=str(i)) for i in range(200)]
    a, b = FaultPlan(rate=0.3, seed=1), FaultPlan(rate=0.3, seed=1)
    first = {r.key: a(r) for r in requests}
    second = {r.key: b(r) for r in reversed(requests)}
    assert first == second
    struck = sum(1 for f in first.values() if f is not None)
    assert 40 <= struck <= 80  # about 30%
    assert {f.kind for f in first.values() if f is not None} == set(Kind) - {Kind.DENY}


def test_botocore_parses_route53_throttling_as_throttling() -> None:
    with Route53World() as world:
        world.add_zone("example.com")
        world.mirror.chaos.add(Once(Fault(Kind.THROTTLE)))
        import boto3
        from botocore.config import Config
        from botocore.exceptions import ClientError

        from tests.worlds_route53 import _boto_args

        client = boto3.client(
            "route53",
            endpoint_url=world.mirror.endpoint,
            config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
            **_boto_args(),
        )
        with pytest.raises(ClientError) as caught:
            client.list_hosted_zones_by_name()
        assert caught.value.response["Error"]["Code"] == "Throttling"
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400

        from providers.route53 import Route53Provider

        # botocore must not retry underneath our policy: one throttled call reaches the server once.
        world.mirror.chaos.add(Once(Fault(Kind.THROTTLE)))
        before = world.mirror.count()
        provider = Route53Provider(ProviderSettings(env=world.env(), retry=RetryPolicy(max_attempts=1)))
        with pytest.raises(ThrottledError):
            provider.find_zone("mail.example.com")
        assert world.mirror.count() == before + 1


# no hangs ----------------------------------------------------------------------------------------
@pytest.fixture
def black_hole() -> Iterator[str]:
    """A server that accepts connections (the kernel completes the handshake) and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


def _provider_env(name: str, endpoint: str) -> dict[str, str]:
    from tests.worlds_route53 import AWS_ENV

    return {
        "TENCENTCLOUD_SECRET_ID": "AKIDx",
        "TENCENTCLOUD_SECRET_KEY": "k" * 8,
        "DNSBRIDGE_DNSPOD_ENDPOINT": endpoint,
        "CLOUDFLARE_API_TOKEN": "t" * 8,
        "CLOUDFLARE_BASE_URL": endpoint + "/client/v4",
        **AWS_ENV,
        "AWS_ENDPOINT_URL_ROUTE_53": endpoint,
    }


@pytest.mark.parametrize("name", ["dnspod", "cloudflare", "route53", "ses"])
def test_a_server_that_never_answers_times_out(black_hole: str, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # No region anywhere: Route 53 with an endpoint URL must still sign (it used to raise NoRegionError).
    for variable in ("AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    from dnsbridge import provider as registry
    from dnsbridge.ses import Ses
    from dnsbridge.tencent import credentials_from

    env = {**_provider_env(name, black_hole), "DNSBRIDGE_SES_ENDPOINT": black_hole}
    once = RetryPolicy(max_attempts=1)
    started = time.monotonic()
    with pytest.raises(TransientError):
        if name == "ses":
            Ses(credentials_from(env), "ap-singapore", env, retry=once, timeout=1.0).ensure_identity(
                "a.example.com", 2048
            )
        else:
            registry.load(name)(ProviderSettings(env=env, timeout=1.0, retry=once)).find_zone("mail.example.com")
    assert time.monotonic() - started < 4.0


def _wrong(world: StoreWorld) -> dict[str, str]:
    if isinstance(world, CloudflareWorld):
        return {"CLOUDFLARE_API_TOKEN": "wrong-token-123456"}
    if isinstance(world, Route53World):  # moto checks no signature: Route 53's own refusal, injected
        world.mirror.chaos.add(Once(Fault(Kind.DENY), times=100))
        return {}
    return {"DNSPOD_SECRET_ID": "AKIDwrong0000", "DNSPOD_SECRET_KEY": "wrong-key-0000"}


def test_wrong_credentials_fail_within_seconds(world: StoreWorld) -> None:
    world.add_zone("example.com")
    for env in (_wrong(world), {"TENCENTCLOUD_SECRET_KEY": "wrong-ses-key-000"}):
        started = time.monotonic()
        out = run(world, "onboard", "mail.example.com", "--timeout", "600", env=env)
        assert out.exit_code == 1, out.stderr
        assert time.monotonic() - started < 5.0
        assert "check $" in out.stderr or "check " in out.stderr
    assert world.writes() == 0


def _unset(world: StoreWorld) -> dict[str, Any]:
    if isinstance(world, CloudflareWorld):
        return {"CLOUDFLARE_API_TOKEN": ""}
    if isinstance(world, Route53World):
        return {
            "AWS_ACCESS_KEY_ID": "",
            "AWS_SECRET_ACCESS_KEY": "",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
            "AWS_CONFIG_FILE": "/nonexistent/config",
            "AWS_PROFILE": None,
        }
    return {"TENCENTCLOUD_SECRET_ID": "", "TENCENTCLOUD_SECRET_KEY": ""}


def test_missing_credentials_fail_at_once_with_exit_2(world: StoreWorld) -> None:
    world.add_zone("example.com")
    started = time.monotonic()
    out = run(world, "onboard", "mail.example.com", env=_unset(world))
    assert out.exit_code == 2, out.stderr
    assert time.monotonic() - started < 3.0
    assert "not set" in out.stderr or "no AWS credentials found" in out.stderr
    assert world.writes() == 0 and world.ses_calls() == 0
