"""The terminal view, checked on a screen: dnsbridge runs under a pseudo-terminal and its output
is replayed through a small VT100 model (the few sequences live.py writes), so the assertions
are about what a person would see, not about escape codes."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from dnsbridge.sandbox.world import Sandbox

ROOT = Path(__file__).resolve().parents[1]
CSI = re.compile(r"\x1b\[(\d*)([A-Za-z])")


class Screen:
    """Cursor movement, erase below / to end of line, CR and LF: enough for live.py's output."""

    def __init__(self) -> None:
        self.lines: list[str] = [""]
        self.row = self.col = 0

    def feed(self, text: str) -> None:
        pos = 0
        while pos < len(text):
            match = CSI.match(text, pos)
            if match:
                n, op = int(match.group(1) or 1), match.group(2)
                if op == "A":
                    self.row = max(0, self.row - n)
                elif op == "J":  # erase from the cursor to the end of the screen
                    self.lines[self.row] = self.lines[self.row][: self.col]
                    del self.lines[self.row + 1 :]
                elif op == "K":
                    self.lines[self.row] = self.lines[self.row][: self.col]
                pos = match.end()
                continue
            char = text[pos]
            pos += 1
            if char == "\r":
                self.col = 0
            elif char == "\n":
                self.row += 1
                if self.row == len(self.lines):
                    self.lines.append("")
            elif char.isprintable():
                line = self.lines[self.row].ljust(self.col)
                self.lines[self.row] = line[: self.col] + char + line[self.col + 1 :]
                self.col += 1

    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.lines).rstrip("\n")


@pytest.fixture
def box() -> Iterator[Sandbox]:
    with Sandbox(verify_delay=2.0) as sandbox:
        yield sandbox


def _env(box: Sandbox) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "SYSTEMROOT")}
    return {
        **keep,
        **box.env(),
        "PYTHONPATH": str(ROOT),
        "PYTHONIOENCODING": "utf-8",
        "LANG": "C.UTF-8",
        "TERM": "xterm",
    }


def _spawn(box: Sandbox, *args: str) -> pexpect.spawn:
    return pexpect.spawn(
        sys.executable,
        ["-m", "dnsbridge", *args],
        env=_env(box),
        encoding="utf-8",
        dimensions=(40, 160),
        timeout=60,
        maxread=65536,
    )


def test_live_view_shows_each_records_state_and_clears_when_done() -> None:
    with Sandbox(verify_delay=2.0) as box:
        child = _spawn(box, "onboard", "mail.example.com", "--timeout", "120")
        child.logfile_read = seen = io.StringIO()
        # A whole frame while SES is being asked: the header and its four rows.
        child.expect(r"waiting for SES[^\n]*\n(?:[^\n]*seen by SES[^\n]*\n){4}")
        screen = Screen()
        screen.feed(seen.getvalue()[: len(seen.getvalue()) - len(child.buffer)])  # up to the match's end
        during = screen.text()
        child.expect(pexpect.EOF)
        child.close()
        screen = Screen()
        screen.feed(seen.getvalue())
    assert child.exitstatus == 0, screen.text()
    header = next(line for line in during.splitlines() if "waiting for SES" in line)
    assert re.search(r"mail\.example\.com: waiting for SES.* \d+:\d\d elapsed, deadline in 1:5\d \(at ", header)
    rows = [line for line in during.splitlines() if line.startswith("  ") and "seen by SES" in line]
    assert len(rows) == 4
    dmarc = next(row for row in rows if "_dmarc.mail.example.com" in row)
    assert re.search(r"TXT\s+_dmarc\.mail\.example\.com\s+created\s+✓ at nameservers\s+(…|✓) seen by SES", dmarc)
    assert any("updated" in row and row.split()[1] == "mail.example.com" for row in rows)  # the SPF merge
    final = screen.text()
    assert "seen by SES" not in final  # the table is gone once the run is over...
    assert "mail.example.com: verified" in final  # ...the log lines stay...
    assert re.search(r"^  ~ update\s+TXT\s+mail\.example\.com$", final, re.M)  # ...and the report follows
    assert "      - v=spf1 include:_spf.example.net -all" in final
    assert "      + v=spf1 include:_spf.example.net include:qcloudmail.com -all" in final


def test_quiet_at_a_terminal_prints_no_view_and_no_report(box: Sandbox) -> None:
    box.tencent.verify_delay = 0.3
    child = _spawn(box, "-q", "onboard", "mail.example.com", "--timeout", "60")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert child.before.strip() == ""


def test_in_a_pipe_only_plain_lines_when_a_state_changes(box: Sandbox) -> None:
    box.tencent.verify_delay = 1.0
    proc = subprocess.run(
        [sys.executable, "-m", "dnsbridge", "onboard", "mail.example.com", "--timeout", "60"],
        env=_env(box),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stderr + proc.stdout
    assert "elapsed" not in proc.stderr
    progress = [line for line in proc.stderr.splitlines() if "SES sees" in line]
    assert len(progress) == len(set(progress))  # one line per change, never a repeat
