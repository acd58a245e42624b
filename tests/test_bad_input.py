"""Bad input exits 2 with a clear message and no write call; unexpected answers from SES stop the
run before any DNS change, showing the offending value."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from dnsbridge.sandbox.tencent import Identity
from dnsbridge.testing import run
from tests.worlds import StoreWorld
from tests.worlds_cloudflare import CloudflareWorld
from tests.worlds_route53 import Route53World


@pytest.fixture(scope="module")
def shared() -> Iterator[StoreWorld]:
    with StoreWorld() as w:
        w.add_zone("example.com")
        yield w


_BASELINE: dict[int, tuple[int, int]] = {}


@pytest.fixture
def world(shared: StoreWorld) -> StoreWorld:
    """One world for the module; each test checks the calls made since it began."""
    _BASELINE[id(shared)] = (shared.writes(), shared.ses_calls("CreateEmailIdentity"))
    return shared


def _no_writes(world: StoreWorld) -> None:
    writes, creates = _BASELINE.get(id(world), (0, 0))
    assert world.writes() == writes, "a DNS write call was made"
    assert world.ses_calls("CreateEmailIdentity") == creates, "SES was asked to register the domain"


BAD_DOMAINS = {
    "empty": ("", "empty"),
    "blank": ("   ", "empty"),
    "over-long": (".".join(["a" * 60] * 5) + ".example.com", "at most 253"),
    "label over 63": ("x" * 64 + ".example.com", "at most 63"),
    "space": ("exa mple.example.com", "letters, digits and hyphens"),
    "leading hyphen": ("-bad.example.com", "letters, digits and hyphens"),
    "empty label": ("a..example.com", "empty label"),
    "ipv4": ("192.0.2.1", "IP address"),
    "ipv6": ("2001:db8::1", "IP address"),
    "bracketed ipv6": ("[2001:db8::1]", "IP address"),
    "wildcard": ("*.example.com", "wildcard"),
    "inner wildcard": ("a.*.example.com", "wildcard"),
    "single label": ("localhost", "two labels"),
    "service label": ("_dmarc.example.com", "'_'"),
    "numeric tld": ("mail.example.123", "all digits"),
    "url": ("https://mail.example.com/", "'https://mail.example.com/'"),
    "email address": ("postmaster@example.com", "'postmaster@example.com'"),
}


@pytest.mark.parametrize("case", sorted(BAD_DOMAINS))
@pytest.mark.parametrize("command", ["onboard", "plan"])
def test_bad_domain_exits_2_with_a_clear_message(world: StoreWorld, case: str, command: str) -> None:
    domain, words = BAD_DOMAINS[case]
    out = run(world, command, "--timeout", "5", "--", domain)
    assert out.exit_code == 2, (domain, out.stderr)
    assert words in out.stderr, out.stderr
    assert out.stderr.startswith("error: ") and "Traceback" not in out.stderr
    _no_writes(world)


def test_underscore_inside_a_label_is_bad_input(world: StoreWorld) -> None:
    out = run(world, "onboard", "mail_x.example.com", "--no-wait")
    assert out.exit_code == 2, out.stderr
    _no_writes(world)


@pytest.mark.parametrize("domain", ["mail.other.org", "badexample.com", "example.co"])
@pytest.mark.parametrize("make", [StoreWorld, CloudflareWorld, Route53World], ids=["dnspod", "cloudflare", "route53"])
def test_name_outside_every_zone_exits_2_before_ses(domain: str, make: Callable[[], StoreWorld]) -> None:
    with make() as w:
        w.add_zone("example.com")
        out = run(w, "onboard", domain, "--no-wait")
        assert out.exit_code == 2, out.stderr
        assert f"holds {domain}" in out.stderr, out.stderr
        assert w.writes() == 0 and w.ses_calls() == 0


OPTIONS: dict[str, tuple[tuple[str, ...], dict[str, Any], str]] = {
    "unknown provider": (("--provider", "nope"), {}, "unknown provider 'nope'"),
    "unknown provider from env": ((), {"DNSBRIDGE_PROVIDER": "nope"}, "unknown provider 'nope'"),
    "bad region": (("--region", "eu-west-1"), {}, "'eu-west-1' is not one of"),
    "bad region from env": ((), {"DNSBRIDGE_REGION": "mars-1"}, "'mars-1' is not one of"),
    "timeout not a number": (("--timeout", "soon"), {}, "'soon' is not a valid float"),
    "timeout zero": (("--timeout", "0"), {}, "--timeout"),
    "timeout negative": (("--timeout", "-5"), {}, "--timeout"),
    "timeout infinite": (("--timeout", "inf"), {}, "--timeout"),
    "timeout too long": (("--timeout", "1e9"), {}, "--timeout"),
    "timeout from env": ((), {"DNSBRIDGE_TIMEOUT": "x"}, "'x' is not a valid float"),
    "ttl zero": (("--ttl", "0"), {}, "--ttl"),
    "ttl negative": (("--ttl", "-1"), {}, "--ttl"),
    "ttl fraction": (("--ttl", "1.5"), {}, "'1.5' is not a valid integer"),
    "ttl word": (("--ttl", "long"), {}, "'long' is not a valid integer"),
    "ttl too long": (("--ttl", "99999999"), {}, "--ttl"),
    "dkim bits": (("--dkim-bits", "4096"), {}, "'4096' is not one of"),
}


@pytest.mark.parametrize("case", sorted(OPTIONS))
def test_bad_option_exits_2_with_a_clear_message(world: StoreWorld, case: str) -> None:
    args, env, words = OPTIONS[case]
    out = run(world, "onboard", "mail.example.com", *args, env=env)
    assert out.exit_code == 2, out.stderr
    assert words in out.stderr, out.stderr
    _no_writes(world)


@pytest.mark.parametrize("value", ["nan", "NaN"])
def test_timeout_nan_is_bad_input(world: StoreWorld, value: str) -> None:
    out = run(world, "onboard", "nan.example.com", "--timeout", value)
    assert out.exit_code == 2, out.stderr
    _no_writes(world)


# unexpected answers from SES ----------------------------------------------------------------------
def _set(key: str, value: str, where: Callable[[dict[str, Any]], bool]) -> Any:
    def tamper(identity: Identity, attributes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**a, key: value} if where(a) else a for a in attributes]

    return tamper


def _is_dmarc(a: dict[str, Any]) -> bool:
    return str(a["SendDomain"]).startswith("_dmarc.")


TAMPERED: dict[str, tuple[Any, str]] = {
    "unknown type": (_set("Type", "SRV", _is_dmarc), "unknown type 'SRV'"),
    "empty value": (_set("ExpectedValue", "", _is_dmarc), "empty value"),
    "blank quoted value": (_set("ExpectedValue", '"  "', _is_dmarc), "empty value"),
    "name outside the domain": (_set("SendDomain", "_dmarc.evil.example.net", _is_dmarc), "'_dmarc.evil.example.net'"),
    "parent of the domain": (_set("SendDomain", "example.com", _is_dmarc), "'example.com', outside"),
    "suffix look-alike": (_set("SendDomain", "xmail.example.com", _is_dmarc), "'xmail.example.com'"),
    "invalid name": (_set("SendDomain", "bad name.mail.example.com", _is_dmarc), "'bad name.mail.example.com'"),
    "MX target not a host": (_set("ExpectedValue", "not a host!", lambda a: a["Type"] == "MX"), "'not a host!'"),
    "A not an address": (
        lambda i, attrs: [*attrs, {"Type": "A", "SendDomain": i.domain, "ExpectedValue": "999.1.1.1", "Status": False}],
        "'999.1.1.1'",
    ),
    "no attributes": (lambda i, attrs: [], "no DNS attributes"),
}


@pytest.mark.parametrize("case", sorted(TAMPERED))
@pytest.mark.parametrize("command", ["onboard", "plan"])
def test_unexpected_answer_stops_before_any_change(case: str, command: str) -> None:
    tamper, shown = TAMPERED[case]
    with StoreWorld() as w:
        w.add_zone("example.com")
        w.box.tencent.tamper_attributes = tamper
        if command == "plan":  # plan reads an existing identity (and never creates one)
            w.box.tencent.identities["mail.example.com"] = Identity("mail.example.com", "default", 1)
        out = run(w, command, "mail.example.com", *(["--no-wait"] if command == "onboard" else []), "-o", "json")
        assert out.exit_code == 1, out.stderr
        error = out.document["domains"][0]["error"]
        assert error["code"] == "UnexpectedAnswer", error
        assert shown in error["message"] and shown in out.stderr, error
        assert w.writes() == 0
