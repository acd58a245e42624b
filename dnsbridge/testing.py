"""The provider contract: end-to-end scenarios every DNS provider adapter must pass.

Each scenario drives the real `dnsbridge` command against a *world*: SES on the Tencent
emulator, the provider's zone behind its real API (an emulator or moto), and the local
authoritative DNS server. The scenarios know nothing provider-specific, so the built-in adapters
and a third-party plugin run them unchanged: implement `World` for your provider and call
`run_contract(world_factory)` (or parametrise over `SCENARIOS`, as tests/test_contract.py does).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from click.testing import CliRunner

from dnsbridge.cli import cli
from dnsbridge.report import SECRET_VARIABLES

SES_SPF_INCLUDE = "include:qcloudmail.com"


class World(Protocol):
    provider: str

    def env(self) -> dict[str, str]: ...
    def add_zone(self, name: str) -> None: ...
    def add(self, name: str, rtype: str, value: str, priority: int | None = None) -> None: ...
    def values(self, name: str, rtype: str) -> list[str]: ...
    def snapshot(self) -> Any: ...
    def writes(self) -> int: ...
    def ses_calls(self, action: str | None = None) -> int: ...
    def set_verify_delay(self, seconds: float) -> None: ...


@dataclass
class Outcome:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def document(self) -> dict[str, Any]:
        return json.loads(self.stdout)  # type: ignore[no-any-return]

    def records(self, domain: str | None = None) -> list[dict[str, Any]]:
        domains = self.document["domains"]
        entry = next(d for d in domains if domain is None or d["domain"] == domain)
        return list(entry["records"])


def run(world: World, *args: str, env: Mapping[str, str] | None = None) -> Outcome:
    """Run the real command line in-process with only the world's environment."""
    full: dict[str, str | None] = dict.fromkeys([*SECRET_VARIABLES, "DNSBRIDGE_PROVIDER"])
    full.update(dict(world.env()))
    full.update(dict(env or {}))
    result = CliRunner().invoke(cli, list(args), env=full, catch_exceptions=False)
    return Outcome(result.exit_code, result.stdout, result.stderr)


# scenarios -------------------------------------------------------------------------------------


def fresh_zone(world: World) -> None:
    world.add_zone("example.com")
    out = run(world, "onboard", "mail.example.com", "--timeout", "60", "-o", "json")
    assert out.exit_code == 0, out.stderr
    doc = out.document["domains"][0]
    assert doc["verified"] is True and doc["zone"] == "example.com" and doc["error"] is None
    assert sorted(r["action"] for r in doc["records"]) == ["create"] * 4
    spf = [v for v in world.values("mail.example.com", "TXT") if v.startswith("v=spf1")]
    assert spf == ["v=spf1 include:qcloudmail.com ~all"]
    assert world.values("_dmarc.mail.example.com", "TXT") == ["v=DMARC1; p=none"]
    assert world.values("mail.example.com", "MX") == ["5 mxbiz1.qq.com"]
    dkim = next(r for r in doc["records"] if "._domainkey." in r["name"])
    assert world.values(dkim["name"], "TXT") == [dkim["value"]]
    assert len(dkim["value"]) > 255  # a 2048-bit key: more than one character-string


def existing_records_are_merged_or_kept(world: World) -> None:
    world.add_zone("example.com")
    world.add("shop.example.com", "TXT", "v=spf1 include:_spf.google.com -all")
    world.add("shop.example.com", "TXT", "google-site-verification=abc123")
    world.add("shop.example.com", "MX", "mx1.mailhost.example.net", priority=10)
    world.add("shop.example.com", "MX", "mx2.mailhost.example.net", priority=20)
    world.add("_dmarc.shop.example.com", "TXT", "v=DMARC1; p=reject; rua=mailto:d@example.com")
    world.add("www.example.com", "CNAME", "example.com")
    before_foreign = world.values("www.example.com", "CNAME")
    out = run(world, "onboard", "shop.example.com", "--timeout", "60", "-o", "json")
    assert out.exit_code == 0, out.stderr
    actions = {(r["type"], r["name"].split(".")[0]): r["action"] for r in out.records()}
    assert actions[("MX", "shop")] == "skipped"
    assert actions[("TXT", "_dmarc")] == "kept"
    txt = world.values("shop.example.com", "TXT")
    spf = [v for v in txt if v.startswith("v=spf1")]
    assert spf == ["v=spf1 include:_spf.google.com include:qcloudmail.com -all"], txt
    assert "google-site-verification=abc123" in txt
    assert sorted(world.values("shop.example.com", "MX")) == [
        "10 mx1.mailhost.example.net",
        "20 mx2.mailhost.example.net",
    ]
    assert world.values("_dmarc.shop.example.com", "TXT") == ["v=DMARC1; p=reject; rua=mailto:d@example.com"]
    assert world.values("www.example.com", "CNAME") == before_foreign


def domain_in_parent_zone(world: World) -> None:
    world.add_zone("example.com")
    world.add_zone("other.com")
    out = run(world, "onboard", "mail.shop.example.com", "--timeout", "60", "-o", "json")
    assert out.exit_code == 0, out.stderr
    assert out.document["domains"][0]["zone"] == "example.com"
    assert world.values("_dmarc.mail.shop.example.com", "TXT") == ["v=DMARC1; p=none"]


def rerun_writes_nothing(world: World) -> None:
    world.add_zone("example.com")
    world.add("mail.example.com", "TXT", "v=spf1 include:_spf.google.com ~all")
    first = run(world, "onboard", "mail.example.com", "--timeout", "60", "-o", "json")
    assert first.exit_code == 0, first.stderr
    snapshot, writes, creates = world.snapshot(), world.writes(), world.ses_calls("CreateEmailIdentity")
    again = run(world, "onboard", "mail.example.com", "--timeout", "60", "-o", "json")
    assert again.exit_code == 0, again.stderr
    assert world.writes() == writes, "a rerun over an unchanged zone made a write call"
    assert world.snapshot() == snapshot
    assert {r["action"] for r in again.records()} == {"unchanged"}
    assert world.ses_calls("CreateEmailIdentity") == creates + 1  # answered RepeatCreation


def plan_changes_nothing(world: World) -> None:
    world.add_zone("example.com")
    world.add("mail.example.com", "TXT", "v=spf1 mx -all")
    snapshot = world.snapshot()
    out = run(world, "plan", "mail.example.com", "-o", "json")
    assert out.exit_code == 0, out.stderr
    assert world.writes() == 0 and world.snapshot() == snapshot
    assert world.ses_calls("CreateEmailIdentity") == 0
    spf = next(r for r in out.records() if r["value"].startswith("v=spf1"))
    assert spf["action"] == "update" and spf["previous"] == "v=spf1 mx -all"


def timeout_exits_3(world: World) -> None:
    world.add_zone("example.com")
    world.set_verify_delay(3600)
    out = run(world, "onboard", "mail.example.com", "--timeout", "3")
    assert out.exit_code == 3, out.stderr
    assert "did not verify" in out.stderr and "_domainkey" in out.stderr
    assert world.values("_dmarc.mail.example.com", "TXT") == ["v=DMARC1; p=none"]  # written all the same


def wrong_secret_exits_1_without_leaking(world: World) -> None:
    world.add_zone("example.com")
    secret = "Wr0ngSecretValue-4f8a1c"  # noqa: S105 - a sentinel to search the output for
    out = run(world, "-v", "onboard", "mail.example.com", env={"TENCENTCLOUD_SECRET_KEY": secret})
    assert out.exit_code == 1, out.stderr
    assert "TENCENTCLOUD_SECRET_KEY" in out.stderr
    assert secret not in out.stdout + out.stderr
    assert world.writes() == 0


def bad_domain_exits_2_without_calls(world: World) -> None:
    world.add_zone("example.com")
    for bad in ("exa mple.com", "-bad-.example.com", "*.example.com", "192.0.2.1", "x" * 64 + ".example.com", ""):
        out = run(world, "onboard", bad, "--timeout", "5")
        assert out.exit_code == 2, (bad, out.stderr)
        assert out.stderr.strip(), bad
    assert world.writes() == 0 and world.ses_calls() == 0


def no_wait_writes_and_stops(world: World) -> None:
    world.add_zone("example.com")
    out = run(world, "onboard", "mail.example.com", "--no-wait", "-o", "json")
    assert out.exit_code == 0, out.stderr
    assert world.ses_calls("UpdateEmailIdentity") == 0
    assert out.document["domains"][0]["verified"] is False
    assert world.values("_dmarc.mail.example.com", "TXT") == ["v=DMARC1; p=none"]


SCENARIOS: Sequence[Callable[[World], None]] = (
    fresh_zone,
    existing_records_are_merged_or_kept,
    domain_in_parent_zone,
    rerun_writes_nothing,
    plan_changes_nothing,
    timeout_exits_3,
    wrong_secret_exits_1_without_leaking,
    bad_domain_exits_2_without_calls,
    no_wait_writes_and_stops,
)


def run_contract(make_world: Callable[[], AbstractContextManager[World]]) -> None:
    """Every scenario on a fresh world; raises AssertionError on the first failure."""
    for scenario in SCENARIOS:
        with make_world() as world:
            scenario(world)
