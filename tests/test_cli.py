"""The command-line contract: exit codes, JSON, input checks, secrets, start-up cost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dnsbridge.testing import run
from tests.worlds import StoreWorld


@pytest.fixture
def world() -> Iterator[StoreWorld]:
    with StoreWorld() as w:
        w.add_zone("example.com")
        yield w


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TENCENTCLOUD_", "DNSPOD_", "DNSBRIDGE_"))}
    return {**env, **extra}


def test_help_imports_no_provider_sdk() -> None:
    code = (
        "import sys\nfrom dnsbridge.cli import cli\n"  # the command group: main() would exit the process
        "try:\n    cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
        "loaded = [m for m in ('boto3', 'cloudflare', 'tencentcloud') if m in sys.modules]\n"
        "print(loaded, file=sys.stderr)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert proc.stderr.strip().endswith("[]"), proc.stderr


@pytest.mark.parametrize("output", ["json", "text"])
def test_the_process_exits_with_its_code_and_every_line_of_output(output: str) -> None:
    # main() skips the interpreter's teardown (os._exit): the streams must be flushed first.
    argv = [sys.executable, "-m", "dnsbridge", "onboard", "x..example.com", "-o", output]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False, env=_clean_env())
    assert proc.returncode == 2
    assert "'x..example.com' has an empty label" in proc.stderr
    if output == "json":
        assert json.loads(proc.stdout)["error"]["code"] == "InvalidDomain"


def test_missing_credentials_exit_2_at_once(world: StoreWorld) -> None:
    started = time.monotonic()
    out = run(world, "onboard", "mail.example.com", env={"TENCENTCLOUD_SECRET_KEY": ""})
    assert out.exit_code == 2
    assert "TENCENTCLOUD_SECRET_KEY is not set" in out.stderr
    assert time.monotonic() - started < 5
    assert world.ses_calls() == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--provider", "nosuch"], "unknown provider 'nosuch'"),
        (["--region", "mars-1"], "Invalid value for '--region'"),
        (["--timeout", "0"], "Invalid value for '--timeout'"),
        (["--timeout", "soon"], "Invalid value for '--timeout'"),
        (["--ttl", "-5"], "Invalid value for '--ttl'"),
        (["--dkim-bits", "4096"], "Invalid value for '--dkim-bits'"),
    ],
)
def test_bad_options_exit_2_with_nothing_called(world: StoreWorld, args: list[str], message: str) -> None:
    out = run(world, "onboard", "mail.example.com", *args)
    assert out.exit_code == 2
    assert message in out.stderr
    assert world.ses_calls() == 0 and world.writes() == 0


def test_one_bad_domain_among_good_ones_changes_nothing(world: StoreWorld) -> None:
    out = run(world, "onboard", "mail.example.com", "bad..example.com")
    assert out.exit_code == 2 and "empty label" in out.stderr
    assert world.ses_calls() == 0


def test_domain_outside_every_zone_exits_2(world: StoreWorld) -> None:
    out = run(world, "onboard", "mail.elsewhere.org", "-o", "json", "--timeout", "10")
    assert out.exit_code == 2
    assert out.document["domains"][0]["error"]["code"] == "ZoneNotFound"
    assert world.writes() == 0


def test_several_domains_worst_exit_code_wins_and_json_holds_each(world: StoreWorld, tmp_path: Path) -> None:
    listing = tmp_path / "domains.txt"
    listing.write_text("# brands\nmail.example.com\n\nnews.example.com  # second\n")
    world.set_verify_delay(3600)
    out = run(world, "onboard", "--from-file", str(listing), "--timeout", "2", "-o", "json")
    assert out.exit_code == 3
    domains = [d["domain"] for d in out.document["domains"]]
    assert domains == ["mail.example.com", "news.example.com"]
    assert all(d["error"]["code"] == "NotVerified" for d in out.document["domains"])


def test_created_by_other_account_is_explained(world: StoreWorld) -> None:
    from dnsbridge.sandbox.tc3 import Credentials

    world.box.tencent.verifier.accounts["AKIDother"] = Credentials("other-key", account="other")
    other = run(
        world,
        "onboard",
        "mail.example.com",
        "--no-wait",
        env={"TENCENTCLOUD_SECRET_ID": "AKIDother", "TENCENTCLOUD_SECRET_KEY": "other-key"},
    )
    assert other.exit_code == 2, other.stderr  # the other account has no zone for it...
    assert world.ses_calls("CreateEmailIdentity") == 0  # ...so nothing was registered
    world.box.store.add_zone("mail.example.com", "dnspod", account="other")
    other = run(
        world,
        "onboard",
        "mail.example.com",
        "--no-wait",
        env={"TENCENTCLOUD_SECRET_ID": "AKIDother", "TENCENTCLOUD_SECRET_KEY": "other-key"},
    )
    assert other.exit_code == 0, other.stderr
    out = run(world, "onboard", "mail.example.com", "-o", "json")
    assert out.exit_code == 1
    error = out.document["domains"][0]["error"]
    assert error["code"] == "InvalidParameterValue.CreatedByOther"
    assert "another Tencent Cloud account" in error["message"]


def test_unsupported_region_is_explained(world: StoreWorld) -> None:
    world.box.tencent.regions = frozenset({"ap-singapore"})
    out = run(world, "onboard", "mail.example.com", "--region", "ap-hongkong", "-o", "json")
    assert out.exit_code == 1
    assert "--region ap-singapore" in out.document["domains"][0]["error"]["message"]


def test_exceeding_the_domain_limit_is_explained(world: StoreWorld) -> None:
    world.box.tencent.max_identities = 1
    assert run(world, "onboard", "a.example.com", "--no-wait").exit_code == 0
    out = run(world, "onboard", "b.example.com", "-o", "json")
    assert out.exit_code == 1
    assert "limit of sender domains" in out.document["domains"][0]["error"]["message"]


def test_throttling_and_service_not_available_are_retried(world: StoreWorld) -> None:
    world.box.tencent.inject("CreateEmailIdentity", "RequestLimitExceeded", times=2)
    world.box.tencent.inject("UpdateEmailIdentity", "FailedOperation.ServiceNotAvailable", times=1)
    world.box.tencent.inject("DescribeRecordList", "RequestLimitExceeded.RequestLimitExceeded", times=1)
    world.box.tencent.inject("CreateRecord", "FailedOperation.FrequencyLimit", times=1)
    out = run(world, "onboard", "mail.example.com", "--timeout", "60")
    assert out.exit_code == 0, out.stderr
    assert world.ses_calls("CreateEmailIdentity") == 3


def test_auth_errors_are_not_retried(world: StoreWorld) -> None:
    world.box.tencent.inject("CreateEmailIdentity", "AuthFailure.UnauthorizedOperation", times=5)
    out = run(world, "onboard", "mail.example.com")
    assert out.exit_code == 1
    assert world.ses_calls("CreateEmailIdentity") == 1
    assert "check $TENCENTCLOUD_SECRET_ID and $TENCENTCLOUD_SECRET_KEY" in out.stderr


def test_dkim_bits_choose_the_key_length(world: StoreWorld) -> None:
    out = run(world, "onboard", "mail.example.com", "--dkim-bits", "1024", "--no-wait", "-o", "json")
    dkim = next(r for r in out.records() if "._domainkey." in r["name"])
    assert len(dkim["value"]) < 255
    create = next(c for c in world.box.tencent.calls if c.action == "CreateEmailIdentity")
    assert create.params["DKIMOption"] == 0


def test_environment_variables_set_options_and_flags_win(world: StoreWorld) -> None:
    env = {"DNSBRIDGE_DKIM_BITS": "1024", "DNSBRIDGE_PROPAGATION_CHECK": "0"}
    run(world, "onboard", "mail.example.com", "--no-wait", "--dkim-bits", "2048", env=env)
    create = next(c for c in world.box.tencent.calls if c.action == "CreateEmailIdentity")
    assert create.params["DKIMOption"] == 1


def test_propagation_check_waits_for_the_nameservers(world: StoreWorld) -> None:
    out = run(world, "onboard", "mail.example.com", "--timeout", "60")
    assert out.exit_code == 0
    assert "4/4 records answer at the zone's nameservers" in out.stderr
    assert any(q[1].startswith("_dmarc.mail.example.com") for q in world.box.dns.queries)


def test_no_propagation_check_asks_no_nameserver(world: StoreWorld) -> None:
    out = run(world, "onboard", "mail.example.com", "--timeout", "60", "--no-propagation-check")
    assert out.exit_code == 0
    assert world.box.dns.queries == []


def test_waiting_prints_a_line_per_change_not_per_poll(world: StoreWorld) -> None:
    world.set_verify_delay(2.5)
    out = run(world, "onboard", "mail.example.com", "--timeout", "60", "--no-propagation-check")
    assert out.exit_code == 0
    polls = world.ses_calls("UpdateEmailIdentity")
    lines = [line for line in out.stderr.splitlines() if "SES sees" in line]
    assert polls > len(lines) >= 2


def test_status_shows_the_three_views(world: StoreWorld) -> None:
    run(world, "onboard", "mail.example.com", "--no-wait")
    out = run(world, "status", "mail.example.com", "-o", "json")
    assert out.exit_code == 0, out.stderr
    rows = out.document["domains"][0]["records"]
    assert len(rows) == 4
    assert all(r["provider"] and r["dns"] for r in rows)
    text = run(world, "status", "mail.example.com").stdout
    assert "SES:" in text and "DNS:" in text and "provider:" in text


def test_providers_lists_the_builtin_adapters(world: StoreWorld) -> None:
    out = run(world, "providers")
    assert "dnspod" in out.stdout


@pytest.mark.parametrize("provider", ["dnspod", "cloudflare", "route53"])
def test_sandbox_command_runs_the_readme_flow_in_a_subprocess(provider: str) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "dnsbridge",
            "sandbox",
            "--verify-delay",
            "0.5",
            "--provider",
            provider,
            "onboard",
            "mail.example.com",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=_clean_env(),
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)["domains"][0]
    assert doc["verified"] is True and doc["provider"] == provider
    spf = next(r for r in doc["records"] if r["value"].startswith("v=spf1"))
    assert spf["action"] == "update" and "include:_spf.example.net" in spf["value"]


def test_sandbox_passes_the_commands_exit_code_through() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "dnsbridge", "sandbox", "status", "never-registered.example.com"],
        capture_output=True,
        text=True,
        timeout=60,
        env=_clean_env(),
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert "dnsbridge onboard DOMAIN" in proc.stdout
