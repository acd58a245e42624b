"""`--provider auto` over real DNS: the zone's NS records come from the local authoritative server.

Each installed provider's case runs from the table below, so a provider joins these tests as
soon as it is registered (Route 53's entry point, a plugin with nameserver hints).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import ClassVar

import pytest
from click.testing import CliRunner

from dnsbridge import provider as registry
from dnsbridge.cli import cli
from dnsbridge.detect import claims, detect, nameservers_of
from dnsbridge.provider import Provider
from dnsbridge.report import SECRET_VARIABLES
from dnsbridge.sandbox.cloudflare import DNS_EDIT, ZONE_READ, CloudflareEmulator, TokenSpec
from dnsbridge.sandbox.world import Sandbox
from dnsbridge.sandbox.zones import ZoneStore

# Nameserver sets as each service assigns them.
NAMESERVERS = {
    "dnspod": ("f1g1ns1.dnspod.net", "f1g1ns2.dnspod.net"),
    "cloudflare": ("ada.ns.cloudflare.com", "bob.ns.cloudflare.com"),
    "route53": ("ns-1536.awsdns-00.co.uk", "ns-0.awsdns-00.com", "ns-1024.awsdns-00.org", "ns-512.awsdns-00.net"),
}
INSTALLED = [name for name in NAMESERVERS if name in registry.available()]
VANITY = ("ns1.dns.example.net", "ns2.dns.example.net")  # a zone served under its owner's names
TOKEN = "cf-detect-token-5e2a"
ISOLATED = {  # boto3 reads the process environment: no shared files, no instance metadata
    "AWS_CONFIG_FILE": "/nonexistent",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@pytest.fixture
def box() -> Iterator[Sandbox]:
    with Sandbox(seed=False) as sandbox:
        yield sandbox


def resolver_env(box: Sandbox) -> dict[str, str]:
    host, port = box.dns.address
    return {"DNSBRIDGE_RESOLVER": f"{host}:{port}"}


def invoke(box: Sandbox, *args: str, **env: str) -> tuple[int, str]:
    full: dict[str, str | None] = dict.fromkeys([*SECRET_VARIABLES, "DNSBRIDGE_PROVIDER", "CLOUDFLARE_EMAIL"])
    full.update({**box.env(), **resolver_env(box), **ISOLATED, "DNSBRIDGE_PROVIDER": "auto", **env})
    result = CliRunner().invoke(cli, list(args), env=full, catch_exceptions=False)
    return result.exit_code, result.stdout + result.output


def test_the_builtin_providers_are_all_covered() -> None:
    assert {"dnspod", "cloudflare"} <= set(INSTALLED)


@pytest.mark.parametrize("name", INSTALLED)
def test_provider_is_chosen_from_the_zones_nameservers(box: Sandbox, name: str) -> None:
    box.store.add_zone("example.com", name, nameservers=NAMESERVERS[name])
    env = resolver_env(box)  # and no credentials at all: DNS alone decides
    assert nameservers_of("shop.mail.example.com", env) == sorted(NAMESERVERS[name])
    box.dns.queries.clear()
    assert detect("shop.mail.example.com", env) == name
    asked = [(qname, qtype) for _, qname, qtype in box.dns.queries]
    assert asked == [("shop.mail.example.com.", "NS"), ("mail.example.com.", "NS"), ("example.com.", "NS")]


def test_detected_provider_runs_the_plan(box: Sandbox) -> None:
    box.store.add_zone("example.com", "dnspod", nameservers=NAMESERVERS["dnspod"])
    code, output = invoke(box, "plan", "mail.example.com")
    assert code == 0, output
    assert "f1g1ns1.dnspod.net, f1g1ns2.dnspod.net → provider dnspod" in output


def test_no_nameservers_for_a_name_outside_every_zone(box: Sandbox) -> None:
    assert nameservers_of("mail.example.org", resolver_env(box)) == []  # REFUSED all the way up


def test_unknown_nameservers_the_one_provider_holding_the_zone_wins(box: Sandbox) -> None:
    with CloudflareEmulator(box.store, {TOKEN: TokenSpec(permissions=frozenset({ZONE_READ, DNS_EDIT}))}) as cf:
        cf.add_zone("example.com", nameservers=VANITY)
        # DNSPod has credentials too (the Tencent ones), but no zone for the domain.
        code, output = invoke(
            box, "plan", "mail.example.com", CLOUDFLARE_API_TOKEN=TOKEN, CLOUDFLARE_BASE_URL=cf.base_url
        )
    assert code == 0, output
    assert "only cloudflare holds a zone for it → provider cloudflare" in output


def test_ambiguous_zone_held_by_two_providers_exits_2_with_the_candidates(box: Sandbox) -> None:
    box.store.add_zone("example.com", "dnspod", nameservers=VANITY)
    other = ZoneStore()  # the same zone name at Cloudflare too, mid-migration
    with CloudflareEmulator(other, {TOKEN: TokenSpec(permissions=frozenset({ZONE_READ, DNS_EDIT}))}) as cf:
        cf.add_zone("example.com", nameservers=VANITY)
        code, output = invoke(
            box, "plan", "mail.example.com", CLOUDFLARE_API_TOKEN=TOKEN, CLOUDFLARE_BASE_URL=cf.base_url
        )
    assert code == 2
    assert "can't tell which provider hosts mail.example.com" in output
    assert "nameservers ns1.dns.example.net, ns2.dns.example.net" in output
    assert "candidates: cloudflare, dnspod" in output
    assert "pass --provider NAME or set DNSBRIDGE_PROVIDER" in output
    assert box.tencent.count("ses", "CreateEmailIdentity") == 0


def test_unknown_provider_exits_2_listing_every_installed_one(box: Sandbox) -> None:
    code, output = invoke(box, "onboard", "mail.example.org", "--no-wait")
    assert code == 2
    assert "no nameservers found" in output
    assert f"candidates: {', '.join(sorted(registry.available()))}" in output
    assert "pass --provider NAME" in output
    assert box.tencent.count("ses") == 0


class _Vanity(Provider):
    """A plugin whose zones are served under customers' own names: it claims them itself."""

    name = "vanity"
    nameserver_hints: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def claims(cls, nameservers: Sequence[str]) -> bool:
        return any(host.endswith(".dns.example.net") for host in nameservers)


def test_a_plugin_claims_its_zones_with_its_own_rule() -> None:
    assert claims(_Vanity, list(VANITY))
    assert not claims(_Vanity, list(NAMESERVERS["dnspod"]))


@pytest.mark.parametrize("name", INSTALLED)
def test_hints_claim_only_their_own_provider(name: str) -> None:
    owners = [other for other in INSTALLED if claims(registry.load(other), list(NAMESERVERS[name]))]
    assert owners == [name]
