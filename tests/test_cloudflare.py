"""The Cloudflare provider: the contract scenarios through the CLI, and Cloudflare's own quirks,
all through the real `cloudflare` SDK against the v4 emulator on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dnsbridge import records
from dnsbridge.errors import AuthError, MissingCredentials
from dnsbridge.plan import diff
from dnsbridge.provider import ProviderSettings
from dnsbridge.retry import Backoff, RetryPolicy
from dnsbridge.sandbox.zones import StoredRecord
from dnsbridge.testing import World, run
from dnsbridge.txt import quote, split_strings
from providers.cloudflare import CloudflareProvider
from tests.worlds_cloudflare import TOKEN, CloudflareWorld

DOMAIN = "mail.example.com"


@pytest.fixture(autouse=True)
def hermetic_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # The SDK reads these from os.environ on its own; keep the tests hermetic.
    for name in ("CLOUDFLARE_EMAIL", "CLOUDFLARE_API_KEY", "CLOUDFLARE_API_TOKEN", "CLOUDFLARE_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def world() -> Iterator[CloudflareWorld]:
    with CloudflareWorld() as w:
        yield w


def fast_retry(sleeps: list[float] | None = None) -> RetryPolicy:
    return RetryPolicy(
        backoff=Backoff(base=0.001, cap=0.01), sleep=(sleeps.append if sleeps is not None else _no_sleep)
    )


def _no_sleep(_: float) -> None:
    return None


def provider(
    world: CloudflareWorld, retry: RetryPolicy | None = None, env: dict[str, str] | None = None
) -> CloudflareProvider:
    return CloudflareProvider(ProviderSettings(env={**world.env(), **(env or {})}, retry=retry or fast_retry()))


def onboard(world: World, *extra: str, env: dict[str, str] | None = None) -> dict[str, object]:
    out = run(world, "onboard", DOMAIN, "--timeout", "60", "-o", "json", *extra, env=env)
    assert out.exit_code == 0, out.stderr
    doc: dict[str, object] = out.document["domains"][0]
    return doc


# Cloudflare specifics ------------------------------------------------------------------------
def test_fresh_onboarding_makes_six_calls_and_one_batch(world: CloudflareWorld) -> None:
    world.add_zone("example.com")
    onboard(world)
    # zones.list for mail.example.com (none) then example.com; one records list per name SES
    # wants (domain, _dmarc, DKIM selector), each ending on its short first page; one batch.
    assert world.calls_by_endpoint() == {
        "GET /zones?name": 2,
        "GET /zones/{id}/dns_records?name.exact": 3,
        "POST /zones/{id}/dns_records/batch": 1,
    }
    batch = next(c for c in world.cloudflare.calls if c.path.endswith("/batch"))
    assert len(batch.body["posts"]) == 4 and "patches" not in batch.body


def test_rerun_makes_no_write_call(world: CloudflareWorld) -> None:
    world.add_zone("example.com")
    onboard(world)
    writes = world.writes()
    doc = onboard(world)
    assert world.writes() == writes == 1
    assert {r["action"] for r in doc["records"]} == {"unchanged"}  # type: ignore[attr-defined]


def test_2048_bit_dkim_round_trips_without_drift(world: CloudflareWorld) -> None:
    world.add_zone("example.com")
    doc = onboard(world, "--dkim-bits", "2048")
    dkim = next(r for r in doc["records"] if "._domainkey." in r["name"])  # type: ignore[attr-defined]
    assert len(dkim["value"]) > 400
    # Written quoted, in strings of at most 255 octets, so Cloudflare returns it unchanged.
    batch = next(c for c in world.cloudflare.calls if c.path.endswith("/batch"))
    sent = next(p["content"] for p in batch.body["posts"] if p["name"] == dkim["name"])
    assert sent == quote(dkim["value"]) and all(len(s.encode()) <= 255 for s in split_strings(sent))

    cf = provider(world)
    zone = cf.find_zone(DOMAIN)
    [back] = [r for r in cf.read(zone, [dkim["name"]]) if r.type == "TXT"]
    assert back.value == dkim["value"]
    wanted = [d for d in records.desired(DOMAIN, [records.Attribute("TXT", dkim["name"], dkim["value"])])]
    assert diff(DOMAIN, zone.name, wanted, [back]).writes == []


def test_dkim_stored_as_one_long_string_still_compares_equal(world: CloudflareWorld) -> None:
    # Cloudflare returns a quoted string over 255 octets split into 255-octet strings
    # (terraform-provider-cloudflare#6238); unquoting joins them back.
    world.add_zone("example.com")
    value = "v=DKIM1; k=rsa; p=" + "A" * 392
    name = f"qcloud._domainkey.{DOMAIN}"
    cf = provider(world)
    zone = cf.find_zone(DOMAIN)
    cf._sdk.dns.records.create(zone_id=zone.id, name=name, type="TXT", content=f'"{value}"', ttl=1)
    [back] = cf.read(zone, [name])
    assert back.value == value


def test_429_burst_is_survived_honouring_retry_after(world: CloudflareWorld) -> None:
    world.add_zone("example.com")
    world.cloudflare.inject(429, 971, times=4, retry_after=1)
    sleeps: list[float] = []
    cf = provider(world, retry=fast_retry(sleeps))
    zone = cf.find_zone(DOMAIN)
    assert zone.name == "example.com"
    assert len(sleeps) == 4 and all(s >= 1 for s in sleeps)  # our policy waited as Cloudflare asked


def test_429_burst_is_survived_through_the_cli(world: CloudflareWorld) -> None:
    world.add_zone("example.com")
    world.cloudflare.inject(429, 971, times=2, retry_after=0.1, path_suffix="/batch")
    doc = onboard(world)
    assert doc["verified"] is True
    assert world.cloudflare.count("POST", "/batch") == 3
    assert world.values("_dmarc.mail.example.com", "TXT") == ["v=DMARC1; p=none"]


def test_identical_record_already_there_is_success(world: CloudflareWorld) -> None:
    # A batch whose reply was lost did commit: the retry answers 81058 and must not fail the run.
    world.add_zone("example.com")
    cf = provider(world)
    zone = cf.find_zone(DOMAIN)
    wanted = records.desired(
        DOMAIN,
        [
            records.Attribute("TXT", f"_dmarc.{DOMAIN}", "v=DMARC1; p=none"),
            records.Attribute("MX", DOMAIN, "mxbiz1.qq.com"),
        ],
    )
    plan = diff(DOMAIN, zone.name, wanted, cf.read(zone, records.wanted_names(wanted)))
    world.add(f"_dmarc.{DOMAIN}", "TXT", "v=DMARC1; p=none")  # someone else wrote it meanwhile
    cf.apply(zone, plan)
    assert world.values(DOMAIN, "MX") == ["5 mxbiz1.qq.com"]
    assert world.values(f"_dmarc.{DOMAIN}", "TXT") == ["v=DMARC1; p=none"]
    batches = [c for c in world.cloudflare.calls if c.path.endswith("/batch")]
    assert [len(b.body["posts"]) for b in batches] == [2, 1]


def test_bad_token_exits_1_naming_the_variable_not_the_value(world: CloudflareWorld) -> None:
    world.add_zone("example.com")
    bad = "bad-cf-token-9f3e2d1c0b"
    out = run(world, "-v", "onboard", DOMAIN, "--timeout", "10", env={"CLOUDFLARE_API_TOKEN": bad})
    assert out.exit_code == 1, out.stderr
    assert "CLOUDFLARE_API_TOKEN" in out.stderr and "DNS:Edit" in out.stderr
    assert bad not in out.stdout + out.stderr
    assert world.writes() == 0
    # The error itself holds no secret (the CLI's redactor is a second line, not the first).
    with pytest.raises(AuthError) as caught:
        provider(world, env={"CLOUDFLARE_API_TOKEN": bad}).find_zone(DOMAIN)
    assert bad not in str(caught.value) and "CLOUDFLARE_API_TOKEN" in str(caught.value)


def test_missing_token_is_a_usage_error_naming_it(world: CloudflareWorld) -> None:
    with pytest.raises(MissingCredentials, match="CLOUDFLARE_API_TOKEN"):
        CloudflareProvider(ProviderSettings(env={"CLOUDFLARE_BASE_URL": world.cloudflare.base_url}))


def test_email_beside_a_token_does_not_switch_auth(world: CloudflareWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    # The SDK would send X-Auth-Email/X-Auth-Key instead of the bearer token, which the
    # emulator (like Cloudflare) refuses with 400 6003; the token must win.
    world.add_zone("example.com")
    monkeypatch.setenv("CLOUDFLARE_EMAIL", "owner@example.com")
    monkeypatch.setenv("CLOUDFLARE_API_KEY", "global-key-0000")
    env = {"CLOUDFLARE_EMAIL": "owner@example.com", "CLOUDFLARE_API_KEY": "global-key-0000"}
    doc = onboard(world, env=env)
    assert doc["verified"] is True
    cf = provider(world, env=env)
    assert cf.secrets() == (TOKEN,)
    assert cf._sdk.auth_headers == {"Authorization": f"Bearer {TOKEN}"}


def test_zone_walk_picks_the_longest_suffix(world: CloudflareWorld) -> None:
    world.add_zone("example.com")
    world.add_zone("shop.example.com")
    out = run(world, "onboard", "mail.shop.example.com", "--no-wait", "-o", "json")
    assert out.exit_code == 0, out.stderr
    assert out.document["domains"][0]["zone"] == "shop.example.com"
    asked = [c.query["name"] for c in world.cloudflare.calls if c.path == "/zones"]
    assert asked == ["mail.shop.example.com", "shop.example.com"]  # first match wins, cached


def test_zone_option_by_name_and_by_id(world: CloudflareWorld) -> None:
    world.add_zone("example.com")
    cf = provider(world)
    by_name = cf.find_zone(DOMAIN, "example.com")
    assert by_name.nameservers == ("ada.ns.cloudflare.com", "bob.ns.cloudflare.com")
    assert provider(world).find_zone(DOMAIN, by_name.id) == by_name


def test_read_iterates_pages_beyond_per_page() -> None:
    with CloudflareWorld(records_per_page=(5, 1, 5_000_000)) as world:
        world.add_zone("example.com")
        for i in range(12):
            world.box.store.add("example.com", StoredRecord(0, DOMAIN, "TXT", quote(f"site-verification={i}")))
        world.add(DOMAIN, "MX", "mx.example.net", priority=10)
        world.add("other.example.com", "TXT", "not read")
        cf = provider(world)
        got = cf.read(cf.find_zone(DOMAIN), [DOMAIN])
        assert sorted(r.value for r in got if r.type == "TXT") == sorted(f"site-verification={i}" for i in range(12))
        assert [(r.value, r.priority) for r in got if r.type == "MX"] == [("mx.example.net", 10)]
        pages = [c.query.get("page", "1") for c in world.cloudflare.calls if c.path.endswith("/dns_records")]
        assert pages == ["1", "2", "3"]  # 13 records, 5 a page; the short third page ends it
