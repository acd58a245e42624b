"""No secret ever leaves the process: sentinel values in every credential variable, every command,
every output mode, quiet to -vv, on success and on every kind of failure — including servers that
quote the credential header back in their error message, and a traceback from a plugin's bug.
The test fails if a sentinel, or its recognisable prefix, appears in stdout, stderr or any file
the run wrote."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dnsbridge.report import SECRET_VARIABLES
from dnsbridge.sandbox.faults import Fault, Kind, Once
from dnsbridge.sandbox.tc3 import Credentials, TC3Verifier
from dnsbridge.sandbox.tencent import Identity
from dnsbridge.testing import Outcome, run
from tests.test_faults import provider_chaos
from tests.worlds import StoreWorld
from tests.worlds_cloudflare import TOKEN_SPEC, CloudflareWorld
from tests.worlds_route53 import Route53World

ROOT = Path(__file__).resolve().parent.parent
# Dozens of in-process runs: SDK clients the CLI never closes are collected mid-test (a CLI process
# exits instead), and their sockets' ResourceWarning must not fail an unrelated assertion.
pytestmark = pytest.mark.filterwarnings("ignore:unclosed:ResourceWarning")
MARK = "SNTNL"  # every sentinel starts with it, so a truncated leak is caught too
SENTINELS = {
    "TENCENTCLOUD_SECRET_ID": f"{MARK}tcid0f9a8b7c6d5e",
    "TENCENTCLOUD_SECRET_KEY": f"{MARK}tckey1a2b3c4d5e6f",
    "TENCENTCLOUD_SESSION_TOKEN": f"{MARK}tctoken9z8y7x6w",
    "DNSPOD_SECRET_ID": f"{MARK}dpid5e4d3c2b1a",
    "DNSPOD_SECRET_KEY": f"{MARK}dpkey0a9b8c7d6e",
    "AWS_ACCESS_KEY_ID": f"{MARK}AKIA00TEST",
    "AWS_SECRET_ACCESS_KEY": f"{MARK}aws/secret+key/0f9a8b7c",
    "AWS_SESSION_TOKEN": f"{MARK}awstoken/Zm9v+YmFy==",
    "CLOUDFLARE_API_TOKEN": f"{MARK}cftoken7c6d5e4f3a",
    "CLOUDFLARE_API_KEY": f"{MARK}cfkey3a4b5c6d7e",
}
assert set(SENTINELS) == set(SECRET_VARIABLES)
WORLDS: dict[str, Callable[[], StoreWorld]] = {
    "dnspod": StoreWorld,
    "cloudflare": CloudflareWorld,
    "route53": Route53World,
}
# Both output modes at -v and -vv (the most verbose: SDK debug logs with every request's headers).
MODES = [(output, flags) for output in ("text", "json") for flags in (("-v",), ("-vv",))]


def accept_sentinels(world: StoreWorld) -> None:
    """The emulators take the sentinel credentials as the real ones (moto takes any AWS keys)."""
    s = SENTINELS
    world.box.tencent.verifier = TC3Verifier(
        {
            s["TENCENTCLOUD_SECRET_ID"]: Credentials(
                s["TENCENTCLOUD_SECRET_KEY"], token=s["TENCENTCLOUD_SESSION_TOKEN"]
            ),
            s["DNSPOD_SECRET_ID"]: Credentials(s["DNSPOD_SECRET_KEY"]),
        },
        clock=time.time,
    )
    if isinstance(world, CloudflareWorld):
        world.cloudflare.tokens = {s["CLOUDFLARE_API_TOKEN"]: TOKEN_SPEC}


@pytest.fixture(params=sorted(WORLDS))
def world(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[StoreWorld]:
    monkeypatch.chdir(tmp_path)
    with WORLDS[request.param]() as w:
        accept_sentinels(w)
        w.add_zone("example.com")
        yield w


def secret_env(tmp_path: Path) -> dict[str, str]:
    return {
        **SENTINELS,
        "GITHUB_OUTPUT": str(tmp_path / "github_output"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "step_summary.md"),
    }


def assert_clean(where: str, text: str) -> None:
    assert MARK not in text, f"a secret leaked into {where}:\n{text}"


def check(world: StoreWorld, tmp_path: Path, *args: str) -> Outcome:
    out = run(world, *args, env=secret_env(tmp_path))
    assert_clean(f"stdout of {args}", out.stdout)
    assert_clean(f"stderr of {args}", out.stderr)
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert_clean(str(path), path.read_text(errors="replace"))
    return out


def every_mode(world: StoreWorld, tmp_path: Path, commands: tuple[str, ...], *args: str) -> list[Outcome]:
    outcomes = []
    for command in commands:
        for output, flags in MODES:
            if command == "providers":
                outcomes.append(check(world, tmp_path, *flags, command))
                continue
            extra = args if command in ("onboard", "plan") else ()
            outcomes.append(check(world, tmp_path, *flags, command, "mail.example.com", "-o", output, *extra))
    return outcomes


def test_success_in_every_command_and_mode(world: StoreWorld, tmp_path: Path) -> None:
    first = check(world, tmp_path, "-vv", "onboard", "mail.example.com", "--timeout", "60")
    assert first.exit_code == 0, first.stderr
    outcomes = every_mode(world, tmp_path, ("onboard", "plan", "status", "providers"), "--timeout", "60")
    assert {o.exit_code for o in outcomes} == {0}, [o.stderr for o in outcomes if o.exit_code]


def _deny(world: StoreWorld, service: str) -> None:
    """Refuse every call of one service, quoting the request's credential header in the message."""
    chaos = world.box.tencent.chaos if service == "ses" else provider_chaos(world)
    chaos.add(Once(Fault(Kind.DENY), match=lambda r: r.service == service, times=10_000))


@pytest.mark.parametrize("service", ["ses", "dns"])
def test_auth_failure_echoing_the_credential(world: StoreWorld, tmp_path: Path, service: str) -> None:
    _deny(world, "ses" if service == "ses" else world.provider)
    outcomes = every_mode(world, tmp_path, ("onboard", "plan", "status"), "--timeout", "30")
    assert all(o.exit_code == 1 for o in outcomes), [(o.exit_code, o.stderr) for o in outcomes]


def test_api_errors_quoting_secrets(world: StoreWorld, tmp_path: Path) -> None:
    leak = " ".join(SENTINELS.values())
    world.box.tencent.inject("CreateEmailIdentity", "LimitExceeded", times=100, message=f"quota of {leak}")
    world.box.tencent.inject("GetEmailIdentity", "InternalError.Unknown", times=100, message=f"oops {leak}")
    outcomes = every_mode(world, tmp_path, ("onboard", "plan", "status"))
    assert all(o.exit_code == 1 for o in outcomes), [(o.exit_code, o.stderr) for o in outcomes]
    world.box.tencent.faults.clear()
    if isinstance(world, CloudflareWorld):
        world.cloudflare.inject(400, 1004, f"bad {leak}", times=100, method="POST")
    elif not isinstance(world, Route53World):
        world.box.tencent.inject("CreateRecord", "InvalidParameter.RecordValueInvalid", times=100, message=leak)
    else:
        world.mirror.chaos.add(Once(Fault(Kind.DENY), match=lambda r: r.write, times=100))
    for output, flags in MODES:
        out = check(world, tmp_path, *flags, "onboard", "mail.example.com", "--no-wait", "-o", output)
        assert out.exit_code == 1, out.stderr


def test_conflict_and_timeout(world: StoreWorld, tmp_path: Path) -> None:
    world.add("cname.example.com", "CNAME", "elsewhere.example.net")
    for output, flags in MODES:
        out = check(world, tmp_path, *flags, "onboard", "cname.example.com", "-o", output)
        assert out.exit_code == 1, out.stderr
    world.set_verify_delay(3600)
    for output, flags in (("text", ("-vv",)), ("json", ("-v",))):
        out = check(world, tmp_path, *flags, "onboard", "mail.example.com", "--timeout", "1", "-o", output)
        assert out.exit_code == 3, out.stderr


LEAKY_PLUGIN = """
import os
from dnsbridge.provider import Provider

class LeakyProvider(Provider):
    name = "leaky"

    def find_zone(self, domain, zone=None):
        secrets = {k: v for k, v in os.environ.items() if k.endswith(("_KEY", "_TOKEN", "_ID"))}
        raise RuntimeError(f"a plugin bug holding {secrets}")
"""


@pytest.fixture
def leaky_plugin(tmp_path: Path) -> Path:
    plugin = tmp_path / "plugin"
    dist = plugin / "leaky_plugin-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: leaky-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[dnsbridge.providers]\nleaky = leaky_plugin:LeakyProvider\n")
    (plugin / "leaky_plugin.py").write_text(LEAKY_PLUGIN)
    return plugin


@pytest.mark.parametrize("command", ["onboard", "plan", "status"])
@pytest.mark.parametrize("output", ["text", "json"])
def test_traceback_of_a_plugin_bug_is_redacted(leaky_plugin: Path, tmp_path: Path, command: str, output: str) -> None:
    with StoreWorld() as world:
        accept_sentinels(world)
        # status reads an existing identity before it asks the provider anything
        world.box.tencent.identities["mail.example.com"] = Identity("mail.example.com", "default", 1)
        base = {k: v for k, v in os.environ.items() if k not in SECRET_VARIABLES and not k.startswith("AWS_")}
        env = {
            **base,
            **world.env(),
            **secret_env(tmp_path),
            "PYTHONPATH": os.pathsep.join([str(leaky_plugin), str(ROOT)]),
        }
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "dnsbridge",
                "-vv",
                command,
                "mail.example.com",
                "--provider",
                "leaky",
                "-o",
                output,
            ],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1, done.stderr
    assert "Traceback" in done.stderr and "internal error" in done.stderr, done.stderr
    assert "a plugin bug holding" in done.stderr  # the traceback is there, only the values are not
    assert_clean("stdout", done.stdout)
    assert_clean("stderr", done.stderr)
    for path in tmp_path.rglob("*"):
        if path.is_file() and "plugin" not in path.parts:
            assert_clean(str(path), path.read_text(errors="replace"))
