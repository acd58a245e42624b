"""action.yml, run the way a GitHub runner runs a composite action, against the sandbox.

The runner substitutes `${{ }}` expressions in each step's `env:` and `with:`, gives every step
its own $GITHUB_OUTPUT file, and runs `run:` with `bash --noprofile --norc -eo pipefail`. This
harness does the same for every `run:` step. Two steps are not run: `uses:` steps (setup-python)
need a runner, and the `install` step would `pip install` the checkout, which needs the package
index. In their place the harness makes what they would leave behind: the interpreter's path
and a `$RUNNER_TEMP/dnsbridge-venv/bin/dnsbridge` that runs this checkout with the current
interpreter. Everything from there on (input mapping, Actions mode, outputs, summary, exit
status) is the real thing.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from dnsbridge.actions import command, escape_data, escape_property, neutralise, output_entry
from dnsbridge.sandbox.world import SANDBOX_SECRET_KEY, Sandbox

ROOT = Path(__file__).resolve().parents[1]
ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
EXPRESSION = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")
OUR_COMMANDS = {"add-mask", "group", "endgroup", "error", "warning", "stop-commands"}


@dataclass
class ActionRun:
    exit_code: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: str
    output_files: str

    @property
    def result(self) -> dict[str, Any]:
        return json.loads(self.outputs["result"])  # type: ignore[no-any-return]

    def log(self) -> str:
        return self.stdout + self.stderr


def parse_output_file(text: str) -> dict[str, str]:
    """$GITHUB_OUTPUT as the runner reads it: `name=value` and `name<<DELIMITER` blocks."""
    out: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line:
            name, delimiter = line.split("<<", 1)
            value = []
            for next_line in lines:
                if next_line == delimiter:
                    break
                value.append(next_line)
            else:
                raise AssertionError(f"unterminated output {name}")
            out[name] = "\n".join(value)
        elif "=" in line:
            name, value_ = line.split("=", 1)
            out[name] = value_
    return out


def workflow_commands(log: str) -> list[tuple[str, str]]:
    """(command, rest) for every line the runner would act on, honouring ::stop-commands::."""
    found: list[tuple[str, str]] = []
    stopped: str | None = None
    for raw in log.splitlines():
        line = raw.lstrip()
        if stopped is not None:
            if line == f"::{stopped}::":
                stopped = None
            continue
        match = re.match(r"::([A-Za-z-]+)( [^:]*)?::(.*)", line)
        if match is None:
            continue
        name = match.group(1)
        if name == "stop-commands":
            stopped = match.group(3)
        found.append((name, match.group(3)))
    return found


def _lookup(expression: str, contexts: dict[str, Any]) -> str:
    value: Any = contexts
    parts = expression.split(".")
    for index, part in enumerate(parts):
        if index == 3 and parts[0] == "steps" and part not in value:
            return ""  # an output a step didn't set is the empty string, as on a runner
        value = value[part]  # a KeyError here is an expression this harness doesn't know: fail
    return str(value)


def run_action(tmp_path: Path, inputs: dict[str, str], job_env: dict[str, str]) -> ActionRun:
    runner_temp = tmp_path / "runner-temp"
    bin_dir = runner_temp / "dnsbridge-venv" / "bin"
    bin_dir.mkdir(parents=True)
    wrapper = bin_dir / "dnsbridge"
    wrapper.write_text(f'#!/bin/sh\nPYTHONPATH="{ROOT}" exec "{sys.executable}" -m dnsbridge "$@"\n')
    wrapper.chmod(0o755)
    defaults = {name: spec.get("default", "") for name, spec in ACTION["inputs"].items()}
    contexts: dict[str, Any] = {
        "inputs": {**defaults, **inputs},
        "github": {"action_path": str(ROOT)},
        "runner": {"temp": str(runner_temp)},
        "steps": {"python": {"outputs": {"python-path": sys.executable}}, "install": {"outputs": {"bin": bin_dir}}},
    }

    def substitute(text: str) -> str:
        return EXPRESSION.sub(lambda m: _lookup(m.group(1), contexts), text)

    summary = tmp_path / "step-summary.md"
    summary.touch()
    base = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "SYSTEMROOT") if k in os.environ}
    stdout = stderr = outputs_text = ""
    code = 0
    for index, step in enumerate(ACTION["runs"]["steps"]):
        if "uses" in step or step.get("id") == "install":
            continue
        assert "${{" not in step["run"], f"step {step.get('id')}: expressions belong in env:, not in the script"
        output_file = tmp_path / f"output-{index}"
        output_file.touch()
        script = tmp_path / f"step-{index}.sh"
        script.write_text(step["run"])
        env = {
            **base,
            **job_env,
            "GITHUB_ACTIONS": "true",
            "GITHUB_OUTPUT": str(output_file),
            "GITHUB_STEP_SUMMARY": str(summary),
            "GITHUB_ACTION_PATH": str(ROOT),
            "RUNNER_TEMP": str(runner_temp),
            **{k: substitute(str(v)) for k, v in step.get("env", {}).items()},
        }
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        stdout, stderr, code = stdout + proc.stdout, stderr + proc.stderr, proc.returncode
        outputs_text += output_file.read_text()
        contexts["steps"][step["id"]] = {"outputs": parse_output_file(output_file.read_text())}
        if code != 0:
            break  # the runner skips the rest; the action's outputs are still evaluated
    outputs = {name: substitute(spec["value"]) for name, spec in ACTION["outputs"].items()}
    return ActionRun(code, stdout, stderr, outputs, summary.read_text(), outputs_text)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(verify_delay=0.3) as box:
        yield box


def job_env(box: Sandbox, **extra: str) -> dict[str, str]:
    """The job's environment: the sandbox's endpoints and credentials, and its DNS server as
    the resolver so that `provider: auto` reads the zone's NS over real DNS."""
    env = {k: v for k, v in box.env().items() if k != "DNSBRIDGE_PROVIDER"}
    host, port = box.dns.address
    return {**env, "DNSBRIDGE_RESOLVER": f"{host}:{port}", **extra}


# the action ------------------------------------------------------------------------------------


def test_action_onboards_domains_and_sets_outputs_and_summary(tmp_path: Path, sandbox: Sandbox) -> None:
    run = run_action(
        tmp_path, {"domains": "mail.example.com\n  news.example.com \n", "timeout": "60"}, job_env(sandbox)
    )
    assert run.exit_code == 0, run.stderr
    assert run.outputs["verified"] == "true"
    domains = run.result["domains"]
    assert [d["domain"] for d in domains] == ["mail.example.com", "news.example.com"]
    assert all(d["verified"] and d["provider"] == "dnspod" for d in domains)  # auto, from the NS records
    records = json.loads(run.outputs["records"])
    assert {r["domain"] for r in records} == {"mail.example.com", "news.example.com"}
    assert all(r["seen_by_ses"] for r in records if r["action"] != "skipped")
    assert "| name | type | value | action | SES |" in run.summary
    assert run.summary.count("✅ verified") == 2
    assert (
        "<code>_dmarc.mail.example.com</code> | TXT | <code>v=DMARC1; p=none</code> | create | ✅ seen" in run.summary
    )
    commands = [name for name, _ in workflow_commands(run.log())]
    assert commands.count("group") == commands.count("endgroup") == 2
    assert {"::group::mail.example.com", "::group::news.example.com"} <= set(run.stderr.splitlines())


def test_action_timeout_fails_with_exit_3_an_annotation_and_outputs(tmp_path: Path, sandbox: Sandbox) -> None:
    sandbox.tencent.verify_delay = 3600
    run = run_action(tmp_path, {"domains": "mail.example.com", "timeout": "2"}, job_env(sandbox))
    assert run.exit_code == 3
    assert run.outputs["verified"] == "false"
    assert run.result["domains"][0]["error"]["code"] == "NotVerified"
    assert "::error title=dnsbridge%3A mail.example.com%3A NotVerified::SES did not verify" in run.stderr
    assert "❌ NotVerified" in run.summary and "⏳ not yet" in run.summary
    assert sandbox.store.lookup("_dmarc.mail.example.com", "TXT")  # the records were written all the same


def test_action_bad_input_exits_2_before_any_call(tmp_path: Path, sandbox: Sandbox) -> None:
    run = run_action(tmp_path, {"domains": "mail.example.com", "provider": "nosuch"}, job_env(sandbox))
    assert run.exit_code == 2
    assert run.outputs["verified"] == "false"
    assert run.result["error"]["code"] == "UnknownProvider"
    assert "::error title=dnsbridge%3A UnknownProvider::unknown provider 'nosuch'" in run.stderr
    assert sandbox.tencent.count("ses") == 0
    wrong = run_action(tmp_path / "again", {"domains": "mail.example.com", "wait": "yes"}, job_env(sandbox))
    assert wrong.exit_code == 2 and "the input 'wait' must be true or false" in wrong.stdout
    assert wrong.outputs["verified"] == ""


def test_action_dry_run_changes_nothing(tmp_path: Path, sandbox: Sandbox) -> None:
    run = run_action(tmp_path, {"domains": "mail.example.com", "dry-run": "true"}, job_env(sandbox))
    assert run.exit_code == 0, run.stderr
    assert run.outputs["verified"] == "false"
    assert "📝 plan:" in run.summary
    assert sandbox.tencent.count("ses", "CreateEmailIdentity") == 0
    assert sandbox.tencent.count("dnspod", "CreateRecord") == 0


def test_secrets_and_injected_commands_never_reach_the_log_summary_or_outputs(tmp_path: Path, sandbox: Sandbox) -> None:
    token = "cf-SENTINEL-token-93b1f0"
    # An API that echoes a credential and tries to smuggle workflow commands into the log.
    hostile = f"denied for {token} / {SANDBOX_SECRET_KEY}\n::set-output name=verified::true\n  ::warning::pwned"
    sandbox.tencent.inject("CreateEmailIdentity", "FailedOperation.Hostile", times=10, message=hostile)
    run = run_action(
        tmp_path, {"domains": "mail.example.com"}, job_env(sandbox, CLOUDFLARE_API_TOKEN=token, DNSBRIDGE_PROVIDER="")
    )
    assert run.exit_code == 1, run.stderr
    for secret in (token, SANDBOX_SECRET_KEY):
        for name, text in (("stdout", run.stdout), ("stderr", run.stderr)):
            leaks = [line for line in text.splitlines() if secret in line and not line.startswith("::add-mask::")]
            assert leaks == [], f"{secret} in {name}"
        assert secret not in run.summary and secret not in run.output_files
        assert f"::add-mask::{secret}" in run.stderr.splitlines()
    lines = run.stderr.splitlines()
    masks = [i for i, line in enumerate(lines) if line.startswith("::add-mask::")]
    assert masks == list(range(len(masks))), "the masks must come before anything else"
    log = run.log()
    commands = workflow_commands(log)
    assert {name for name, _ in commands} <= OUR_COMMANDS, commands
    assert ("warning", "pwned") not in commands  # the hostile text is data inside our ::error::, escaped
    assert run.outputs["verified"] == "false"


# workflow command encoding -----------------------------------------------------------------------


def test_command_data_and_properties_are_escaped_like_the_toolkit() -> None:
    assert escape_data("50%\r\n::x") == "50%25%0D%0A::x"
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"
    assert command("error", "bad\n::set-output name=x::1", title="t: 1, 2") == (
        "::error title=t%3A 1%2C 2::bad%0A::set-output name=x::1"
    )


def test_untrusted_lines_are_fenced_only_when_they_could_be_commands() -> None:
    assert neutralise("plain\ntext") == "plain\ntext"
    fenced = neutralise("ok\n   ::add-mask::x")
    assert [name for name, _ in workflow_commands(fenced)] == ["stop-commands"]
    assert neutralise("::a") != neutralise("::a")  # a fresh token each time


def test_output_entries_use_a_random_delimiter() -> None:
    entry = output_entry("result", '{"a": 1}\nline two')
    assert parse_output_file(entry) == {"result": '{"a": 1}\nline two'}
    assert entry.splitlines()[0] != output_entry("result", "x").splitlines()[0]
