"""Route53Provider through boto3 against moto's server on 127.0.0.1.

moto accepts what Route 53 rejects (unquoted TXT, strings over 255 octets, duplicates) and is
always INSYNC, so every ChangeBatch the provider sends is checked against Route 53's documented
rules by a botocore event hook, and the PENDING and throttling paths use botocore's Stubber.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto.server import ThreadedMotoServer

from dnsbridge import records
from dnsbridge.errors import AuthError, ConflictError, MissingCredentials, UsageError, ZoneNotFound
from dnsbridge.plan import Action, Plan, diff
from dnsbridge.provider import ProviderSettings, Zone
from dnsbridge.records import Attribute, Record
from dnsbridge.retry import Backoff, Deadline, RetryPolicy
from providers import route53
from providers.route53 import Route53Provider, decode_name, decode_txt, encode_txt
from providers.route53_rules import check_change_batch

DOMAIN = "example.com"
DKIM_KEY = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" + "".join(
    random.Random(7).choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") for _ in range(348)
)
DKIM = f"v=DKIM1; k=rsa; p={DKIM_KEY}"  # ~410 characters, like a 2048-bit key
SPF = "v=spf1 include:qcloudmail.com ~all"
DMARC = "v=DMARC1; p=none"
AWS_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_ROUTE_53",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)


def ses_attributes(domain: str) -> list[Attribute]:
    return [
        Attribute("MX", domain, "mxbiz1.qq.com"),
        Attribute("TXT", domain, SPF),
        Attribute("TXT", f"qcloudgz2048._domainkey.{domain}", DKIM),
        Attribute("TXT", f"_dmarc.{domain}", DMARC),
    ]


# the world: moto, and an admin client that sets zones up ----------------------------------
@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(autouse=True)
def aws_env(moto_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")).close()
    for name in AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_ROUTE_53", moto_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDTESTING")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret-key-value")


@pytest.fixture
def admin(aws_env: None) -> Any:
    return boto3.session.Session().client("route53")


def create_zone(admin: Any, name: str, *, private: bool = False) -> str:
    args: dict[str, Any] = {"Name": name, "CallerReference": f"{name}-{time.monotonic_ns()}"}
    if private:
        args["HostedZoneConfig"] = {"PrivateZone": True, "Comment": "internal"}
        args["VPC"] = {"VPCRegion": "us-east-1", "VPCId": "vpc-12345678"}
    zone_id: str = admin.create_hosted_zone(**args)["HostedZone"]["Id"]
    return zone_id.rsplit("/", 1)[-1]


def put(admin: Any, zone_id: str, name: str, rtype: str, values: list[str], **extra: Any) -> None:
    rrset = {"Name": name + ".", "Type": rtype, "TTL": 3600, "ResourceRecords": [{"Value": v} for v in values], **extra}
    admin.change_resource_record_sets(
        HostedZoneId=zone_id, ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": rrset}]}
    )


def values_at(admin: Any, zone_id: str, name: str, rtype: str) -> list[str]:
    sets = admin.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    return [rr["Value"] for s in sets if s["Name"] == name + "." and s["Type"] == rtype for rr in s["ResourceRecords"]]


# the provider, with every call counted and every ChangeBatch checked -----------------------
class Watch:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.violations: list[str] = []
        self.sleeps: list[float] = []


@pytest.fixture
def watch() -> Iterator[Watch]:
    w = Watch()
    yield w
    assert not w.violations, w.violations


@pytest.fixture
def make_provider(admin: Any, watch: Watch) -> Callable[..., Route53Provider]:
    apexes: dict[str, str] = {}

    def apex(zone_id: str) -> str | None:
        if zone_id not in apexes:
            try:
                apexes[zone_id] = admin.get_hosted_zone(Id=zone_id)["HostedZone"]["Name"]
            except Exception:  # a stubbed zone id that moto doesn't know
                return None
        return apexes[zone_id]

    def check(params: dict[str, Any], **kwargs: Any) -> None:
        problems = check_change_batch(params["ChangeBatch"], apex=apex(params["HostedZoneId"]))
        watch.violations.extend(problems)
        assert not problems, problems

    def count(model: Any, **kwargs: Any) -> None:
        watch.calls[model.name] += 1

    def build(ttl: int | None = None, env: dict[str, str] | None = None) -> Route53Provider:
        retry = RetryPolicy(backoff=Backoff(rng=random.Random(1)), sleep=watch.sleeps.append)
        provider = Route53Provider(ProviderSettings(env=dict(os.environ) if env is None else env, retry=retry, ttl=ttl))
        provider.client.meta.events.register("before-parameter-build.route53.ChangeResourceRecordSets", check)
        provider.client.meta.events.register("before-call.route53", count)
        return provider

    return build


def plan_for(provider: Route53Provider, domain: str, zone: str | None = None) -> tuple[Zone, Plan]:
    wanted = records.desired(domain, ses_attributes(domain))
    found = provider.find_zone(domain, zone)
    current = provider.read(found, records.wanted_names(wanted))
    return found, diff(domain, found.name, wanted, current)


def onboard(provider: Route53Provider, domain: str, zone: str | None = None) -> Plan:
    found, plan = plan_for(provider, domain, zone)
    if plan.writes:
        provider.apply(found, plan)
        provider.wait_synced(found, Deadline(30))
    return plan


def logical(rs: list[Record]) -> set[tuple[str, str, str, int | None]]:
    return {(r.name, r.type, r.value, r.priority) for r in rs}


# onboarding through moto ------------------------------------------------------------------
def test_fresh_zone_gets_every_record_in_one_change(
    admin: Any, make_provider: Callable[..., Route53Provider], watch: Watch
) -> None:
    zone_id = create_zone(admin, DOMAIN)
    provider = make_provider()

    plan = onboard(provider, DOMAIN)

    assert [c.action for c in plan.changes] == [Action.CREATE] * 4
    # One fresh onboarding, by action: zones listed once, each SES name read once, one change, one poll.
    assert watch.calls == {
        "ListHostedZonesByName": 1,
        "ListResourceRecordSets": 3,
        "ChangeResourceRecordSets": 1,
        "GetChange": 1,
    }
    wanted = records.desired(DOMAIN, ses_attributes(DOMAIN))
    back = make_provider().read(Zone(DOMAIN, zone_id), records.wanted_names(wanted))
    assert logical([d.record for d in wanted]) <= logical(back)
    [dkim] = values_at(admin, zone_id, f"qcloudgz2048._domainkey.{DOMAIN}", "TXT")
    assert dkim.count('" "') == 1 and dkim.startswith('"v=DKIM1; k=rsa; p=')  # two strings of ≤ 255 octets
    assert values_at(admin, zone_id, DOMAIN, "MX") == ["5 mxbiz1.qq.com."]


def test_existing_spf_gets_ses_include_and_site_verification_is_kept(
    admin: Any, make_provider: Callable[..., Route53Provider], watch: Watch
) -> None:
    zone_id = create_zone(admin, DOMAIN)
    verification = '"google-site-verification=Xb7-qYc"'
    put(admin, zone_id, DOMAIN, "TXT", [verification, '"v=spf1 include:_spf.google.com -all"', '"caf\\303\\251"'])

    plan = onboard(make_provider(), DOMAIN)

    spf_change = next(c for c in plan.changes if c.kind is records.Kind.SPF)
    assert spf_change.action is Action.UPDATE
    assert watch.calls["ChangeResourceRecordSets"] == 1
    after = values_at(admin, zone_id, DOMAIN, "TXT")
    assert [v for v in after if "v=spf1" in v] == ['"v=spf1 include:_spf.google.com include:qcloudmail.com -all"']
    assert verification in after
    assert '"caf\\303\\251"' in after  # a value we didn't change goes back byte for byte
    [txt] = [r for r in make_provider().read(Zone(DOMAIN, zone_id), [DOMAIN]) if r.value.startswith("caf")]
    assert txt.value == "café"


def test_rerun_plans_no_writes_and_sends_no_change(
    admin: Any, make_provider: Callable[..., Route53Provider], watch: Watch
) -> None:
    create_zone(admin, DOMAIN)
    onboard(make_provider(), DOMAIN)
    watch.calls.clear()

    plan = onboard(make_provider(), DOMAIN)

    assert plan.writes == []
    assert {c.action for c in plan.changes} == {Action.UNCHANGED}
    assert watch.calls["ChangeResourceRecordSets"] == 0
    assert watch.calls["GetChange"] == 0


def test_domain_in_a_parent_zone_and_the_more_specific_zone_wins(
    admin: Any, make_provider: Callable[..., Route53Provider]
) -> None:
    parent = create_zone(admin, DOMAIN)
    domain = "mail.shop.example.com"

    assert make_provider().find_zone(domain) == Zone(DOMAIN, parent)
    onboard(make_provider(), domain)
    assert values_at(admin, parent, f"_dmarc.{domain}", "TXT") == [f'"{DMARC}"']

    shop = create_zone(admin, "shop.example.com")
    assert make_provider().find_zone(domain) == Zone("shop.example.com", shop)


def test_private_zone_of_the_same_name_is_used_only_when_named_by_id(
    admin: Any, make_provider: Callable[..., Route53Provider], caplog: pytest.LogCaptureFixture
) -> None:
    public = create_zone(admin, DOMAIN)
    private = create_zone(admin, DOMAIN, private=True)
    provider = make_provider()

    assert provider.find_zone(DOMAIN).id == public
    assert provider.find_zone(DOMAIN, zone=DOMAIN).id == public
    with caplog.at_level(logging.WARNING):
        assert provider.find_zone(DOMAIN, zone=private).id == private
    assert "PRIVATE" in caplog.text
    by_path = provider.find_zone(DOMAIN, zone=f"/hostedzone/{private}")
    assert by_path.id == private and by_path.nameservers == ()  # a private zone has no delegation set
    assert provider.find_zone(DOMAIN, zone=public).nameservers  # GetHostedZone's delegation set


def test_only_a_private_zone_is_not_found_without_its_id(
    admin: Any, make_provider: Callable[..., Route53Provider]
) -> None:
    create_zone(admin, DOMAIN, private=True)
    with pytest.raises(ZoneNotFound):
        make_provider().find_zone(DOMAIN)
    with pytest.raises(ZoneNotFound, match="private hosted zone"):
        make_provider().find_zone(DOMAIN, zone=DOMAIN)


def test_two_public_zones_with_one_name_need_zone_id(admin: Any, make_provider: Callable[..., Route53Provider]) -> None:
    first, second = create_zone(admin, DOMAIN), create_zone(admin, DOMAIN)
    provider = make_provider()

    with pytest.raises(UsageError) as caught:
        provider.find_zone(f"mail.{DOMAIN}")

    assert first in caught.value.message and second in caught.value.message
    assert "--zone ID" in str(caught.value)
    assert caught.value.exit_code == 2
    assert provider.find_zone(f"mail.{DOMAIN}", zone=second).id == second


def test_zone_outside_the_given_zone_is_refused(admin: Any, make_provider: Callable[..., Route53Provider]) -> None:
    other = create_zone(admin, "example.org")
    with pytest.raises(UsageError, match="not in the zone"):
        make_provider().find_zone(DOMAIN, zone=other)
    with pytest.raises(ZoneNotFound):
        make_provider().find_zone(DOMAIN, zone="ZNOSUCHZONE0000")


def test_more_than_100_zones_are_listed_once_per_run(
    admin: Any, make_provider: Callable[..., Route53Provider], watch: Watch
) -> None:
    for i in range(120):
        create_zone(admin, f"z{i:03d}.example.net")
    target = create_zone(admin, "shop.example.org")
    provider = make_provider()

    assert provider.find_zone("mail.shop.example.org").id == target
    assert provider.find_zone("z119.example.net").name == "z119.example.net"
    assert len(provider.hosted_zones()) == 121
    assert watch.calls["ListHostedZonesByName"] == 1  # moto: one page, no IsTruncated; then the cache


def test_zone_list_pages_follow_next_dns_name_and_zone_id(make_provider: Callable[..., Route53Provider]) -> None:
    provider = make_provider()

    def hz(i: int, name: str) -> dict[str, Any]:
        return {"Id": f"/hostedzone/Z{i:07d}", "Name": name, "CallerReference": str(i)}

    with Stubber(provider.client) as stub:
        stub.add_response(
            "list_hosted_zones_by_name",
            {
                "HostedZones": [hz(1, "a.example."), hz(2, "example.com.")],
                "IsTruncated": True,
                "NextDNSName": "example.net.",
                "NextHostedZoneId": "Z0000003",
                "MaxItems": "2",
            },
            {"MaxItems": "100"},
        )
        stub.add_response(
            "list_hosted_zones_by_name",
            {"HostedZones": [hz(3, "example.net."), hz(4, "shop.example.com.")], "IsTruncated": False, "MaxItems": "2"},
            {"DNSName": "example.net.", "HostedZoneId": "Z0000003", "MaxItems": "100"},
        )
        assert provider.find_zone("mail.shop.example.com") == Zone("shop.example.com", "Z0000004")
        stub.assert_no_pending_responses()


def test_record_sets_are_paged_and_read_only_at_the_names_asked(
    admin: Any, make_provider: Callable[..., Route53Provider], watch: Watch, monkeypatch: pytest.MonkeyPatch
) -> None:
    zone_id = create_zone(admin, DOMAIN)
    put(admin, zone_id, DOMAIN, "TXT", ['"one"', '"two"'])
    put(admin, zone_id, DOMAIN, "MX", ["10 mx1.example.net.", "20 MX2.example.net."])
    put(admin, zone_id, DOMAIN, "A", ["192.0.2.1"])
    put(admin, zone_id, DOMAIN, "CAA", ['0 issue "amazon.com"'])
    put(admin, zone_id, f"a.{DOMAIN}", "TXT", ['"not asked for"'])
    put(admin, zone_id, f"_dmarc.{DOMAIN}", "TXT", ['"v=DMARC1; p=reject"'])
    monkeypatch.setattr(route53, "RECORD_PAGE", 2)

    got = make_provider().read(Zone(DOMAIN, zone_id), [DOMAIN])

    assert {r.name for r in got} == {DOMAIN}
    assert {r.type for r in got} == {"A", "CAA", "MX", "NS", "SOA", "TXT"}
    assert {(r.value, r.priority) for r in got if r.type == "MX"} == {("mx1.example.net", 10), ("mx2.example.net", 20)}
    assert {r.value for r in got if r.type == "TXT"} == {"one", "two"}
    assert watch.calls["ListResourceRecordSets"] == 3  # 6 sets at the name, 2 a page, then past the name


def test_record_pages_continue_from_the_set_identifier(make_provider: Callable[..., Route53Provider]) -> None:
    provider = make_provider()

    def weighted(ident: str) -> dict[str, Any]:
        return {
            "Name": "example.com.",
            "Type": "TXT",
            "SetIdentifier": ident,
            "Weight": 1,
            "TTL": 60,
            "ResourceRecords": [{"Value": f'"{ident}"'}],
        }

    with Stubber(provider.client) as stub:
        stub.add_response(
            "list_resource_record_sets",
            {
                "ResourceRecordSets": [weighted("blue")],
                "IsTruncated": True,
                "MaxItems": "300",
                "NextRecordName": "example.com.",
                "NextRecordType": "TXT",
                "NextRecordIdentifier": "green",
            },
            {"HostedZoneId": "Z1", "StartRecordName": "example.com.", "MaxItems": "300"},
        )
        stub.add_response(
            "list_resource_record_sets",
            {
                "ResourceRecordSets": [weighted("green"), {**weighted("x"), "Name": "\\052.example.com."}],
                "IsTruncated": False,
                "MaxItems": "300",
            },
            {
                "HostedZoneId": "Z1",
                "StartRecordName": "example.com.",
                "StartRecordType": "TXT",
                "StartRecordIdentifier": "green",
                "MaxItems": "300",
            },
        )
        got = provider.read(Zone(DOMAIN, "Z1"), [DOMAIN])
        stub.assert_no_pending_responses()
    assert [r.value for r in got] == ["blue", "green"]


def test_weighted_sets_are_read_but_never_written(
    admin: Any, make_provider: Callable[..., Route53Provider], watch: Watch
) -> None:
    zone_id = create_zone(admin, DOMAIN)
    put(admin, zone_id, DOMAIN, "TXT", ['"v=spf1 include:_spf.google.com -all"'], SetIdentifier="blue", Weight=1)
    put(admin, zone_id, DOMAIN, "TXT", ['"google-site-verification=1"'], SetIdentifier="green", Weight=1)
    provider = make_provider()
    found, plan = plan_for(provider, DOMAIN)
    assert any(r.ref and "routing-policy|blue" in r.ref for r in plan.current)

    with pytest.raises(ConflictError, match="routing-policy"):
        provider.apply(found, plan)
    assert watch.calls["ChangeResourceRecordSets"] == 0


def test_ttl_comes_from_the_record_then_the_set_then_settings(
    admin: Any, make_provider: Callable[..., Route53Provider]
) -> None:
    zone_id = create_zone(admin, DOMAIN)
    put(admin, zone_id, DOMAIN, "TXT", ['"google-site-verification=1"'])  # TTL 3600
    onboard(make_provider(ttl=120), DOMAIN)
    sets = {
        (s["Name"], s["Type"]): s["TTL"]
        for s in admin.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    }
    assert sets[(DOMAIN + ".", "TXT")] == 3600  # an existing set keeps its TTL
    assert sets[(f"_dmarc.{DOMAIN}.", "TXT")] == 120


# the paths moto can't show: PENDING, throttling, refusals ---------------------------------
def _stubbed_plan(provider: Route53Provider) -> tuple[Zone, Plan]:
    zone = Zone(DOMAIN, "ZSTUBBED0001")
    wanted = records.desired(DOMAIN, ses_attributes(DOMAIN))
    return zone, diff(DOMAIN, DOMAIN, wanted, [])


def _change_info(status: str) -> dict[str, Any]:
    return {"ChangeInfo": {"Id": "/change/C0001", "Status": status, "SubmittedAt": dt.datetime(2026, 1, 1)}}


def test_pending_change_is_polled_until_insync(make_provider: Callable[..., Route53Provider], watch: Watch) -> None:
    provider = make_provider()
    zone, plan = _stubbed_plan(provider)
    with Stubber(provider.client) as stub:
        stub.add_response(
            "change_resource_record_sets", _change_info("PENDING"), {"HostedZoneId": zone.id, "ChangeBatch": ANY}
        )
        for status in ("PENDING", "PENDING", "INSYNC"):
            stub.add_response("get_change", _change_info(status), {"Id": "/change/C0001"})
        provider.apply(zone, plan)
        provider.wait_synced(zone, Deadline(60))
        stub.assert_no_pending_responses()
    assert len(watch.sleeps) == 2 and all(0 < s <= 10 for s in watch.sleeps)


def test_deadline_passing_while_pending_returns_and_logs(
    make_provider: Callable[..., Route53Provider], watch: Watch, caplog: pytest.LogCaptureFixture
) -> None:
    provider = make_provider()
    zone, plan = _stubbed_plan(provider)
    now = [0.0]
    deadline = Deadline(5, clock=lambda: now[0])
    provider.settings.retry.sleep = lambda s: now.__setitem__(0, now[0] + s)
    with Stubber(provider.client) as stub:
        stub.add_response("change_resource_record_sets", _change_info("PENDING"))
        for _ in range(20):
            stub.add_response("get_change", _change_info("PENDING"))
        provider.apply(zone, plan)
        with caplog.at_level(logging.INFO):
            provider.wait_synced(zone, deadline)
    assert deadline.expired()
    assert "still PENDING at the deadline" in caplog.text


def test_throttling_is_retried_with_backoff(make_provider: Callable[..., Route53Provider], watch: Watch) -> None:
    provider = make_provider()
    with Stubber(provider.client) as stub:
        stub.add_client_error("list_hosted_zones_by_name", "Throttling", "Rate exceeded", http_status_code=400)
        stub.add_client_error("list_hosted_zones_by_name", "PriorRequestNotComplete", "busy", http_status_code=400)
        stub.add_response(
            "list_hosted_zones_by_name",
            {
                "HostedZones": [{"Id": "/hostedzone/Z9", "Name": "example.com.", "CallerReference": "x"}],
                "IsTruncated": False,
                "MaxItems": "100",
            },
        )
        assert provider.find_zone(DOMAIN).id == "Z9"
    assert len(watch.sleeps) == 2


def test_refused_credentials_name_the_variables_never_the_values(
    make_provider: Callable[..., Route53Provider], watch: Watch
) -> None:
    provider = make_provider()
    with Stubber(provider.client) as stub:
        stub.add_client_error(
            "list_hosted_zones_by_name",
            "InvalidClientTokenId",
            "The security token test-secret-key-value is invalid",
            http_status_code=403,
        )
        with pytest.raises(AuthError) as caught:
            provider.find_zone(DOMAIN)
    text = str(caught.value)
    assert "AWS_ACCESS_KEY_ID" in text and "test-secret-key-value" not in text
    assert watch.sleeps == []  # never retried


def test_missing_credentials_fail_fast(
    monkeypatch: pytest.MonkeyPatch, make_provider: Callable[..., Route53Provider]
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    started = time.monotonic()
    with pytest.raises(MissingCredentials) as caught:
        make_provider()
    assert time.monotonic() - started < 5
    assert "AWS_ACCESS_KEY_ID" in str(caught.value) and caught.value.exit_code == 2


def test_credentials_and_endpoint_can_come_from_settings_env(
    admin: Any, moto_url: str, monkeypatch: pytest.MonkeyPatch, make_provider: Callable[..., Route53Provider]
) -> None:
    create_zone(admin, DOMAIN)
    env = {"AWS_ACCESS_KEY_ID": "AKIDOTHER", "AWS_SECRET_ACCESS_KEY": "other-secret", "AWS_ENDPOINT_URL": moto_url}
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL_ROUTE_53"):
        monkeypatch.delenv(name)
    provider = make_provider(env=env)
    assert provider.find_zone(DOMAIN).name == DOMAIN
    assert "other-secret" in provider.secrets()


# Route 53's presentation forms and rules, as data -----------------------------------------
def test_txt_is_quoted_split_and_escaped_in_octal() -> None:
    encoded = encode_txt(DKIM)
    assert encoded.count('" "') == 1 and check_change_batch(_batch("TXT", [encoded])) == []
    assert decode_txt(encoded) == DKIM
    assert encode_txt('say "hi" \\ café') == '"say \\"hi\\" \\\\ caf\\303\\251"'
    assert decode_txt('"\\101"') == "A"  # octal 101 is "A" (decimal 101 would be "e")
    assert decode_txt('"a" "b"') == "ab"
    long_utf8 = "é" * 200  # 400 octets: split between characters, never inside one
    assert decode_txt(encode_txt(long_utf8)) == long_utf8


def test_names_are_decoded_and_normalised() -> None:
    assert decode_name("_dmarc.Example.COM.") == "_dmarc.example.com"
    assert decode_name("\\052.example.com.") is None
    assert decode_name("a\\056b.example.com.") is None
    assert decode_name("ex\\303\\244mple.com.") == "xn--exmple-cua.com"


def _batch(rtype: str, values: list[str], action: str = "UPSERT", name: str = "example.com.") -> dict[str, Any]:
    rrset = {"Name": name, "Type": rtype, "TTL": 300, "ResourceRecords": [{"Value": v} for v in values]}
    return {"Changes": [{"Action": action, "ResourceRecordSet": rrset}]}


def test_check_change_batch_catches_what_moto_accepts() -> None:
    assert any("double-quoted" in p for p in check_change_batch(_batch("TXT", ["v=spf1 -all"])))
    too_long = check_change_batch(_batch("TXT", ['"' + "a" * 300 + '"']))
    assert any("300 octets" in p for p in too_long)
    assert check_change_batch(_batch("TXT", ['"caf\xe9"']))  # raw non-ASCII must be \ooo
    assert check_change_batch(_batch("TXT", ['"a\\qb"']))  # an escape Route 53 doesn't define
    assert any("twice" in p for p in check_change_batch(_batch("TXT", ['"x"', '"x"'])))
    assert any("4000" in p for p in check_change_batch(_batch("TXT", [" ".join(['"' + "a" * 255 + '"'] * 16)])))
    assert any("apex" in p for p in check_change_batch(_batch("CNAME", ["x.example.net."]), apex="example.com."))
    assert check_change_batch(_batch("MX", ["mxbiz1.qq.com."]))
    assert check_change_batch(_batch("MX", ["5 mxbiz1.qq.com."])) == []
    assert check_change_batch(_batch("TXT", ['"a" "b\\"c\\\\" "\\303\\251"'])) == []


def test_check_change_batch_counts_upsert_twice() -> None:
    values = ['"' + "a" * 200 + '"'] * 90  # 18,180 characters: fine once, too many twice
    values = [v[:-1] + f"{i}" + '"' for i, v in enumerate(values)]
    assert check_change_batch(_batch("TXT", values, action="CREATE")) == []
    assert any("32000" in p for p in check_change_batch(_batch("TXT", values)))


def test_a_change_beyond_one_request_is_split_into_valid_batches() -> None:
    def rrset(i: int, value: str) -> dict[str, Any]:
        return route53._rrset(f"n{i}.example.com", "TXT", 300, [encode_txt(value)])

    # every other set replaces one that was read: its DELETE and CREATE must share a request
    swaps = [route53._Swap(old=rrset(i, "old" * 500) if i % 2 else None, new=rrset(i, "v" * 3000)) for i in range(12)]
    batches = route53._batches(swaps, "test")
    assert len(batches) > 1
    assert sum(len(b["Changes"]) for b in batches) == 18
    assert all(check_change_batch(b) == [] for b in batches)
    for batch in batches:
        names = [(c["Action"], c["ResourceRecordSet"]["Name"]) for c in batch["Changes"]]
        assert all(("CREATE", name) in names for action, name in names if action == "DELETE")
