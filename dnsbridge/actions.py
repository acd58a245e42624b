"""GitHub Actions mode: groups, annotations, the step summary and step outputs.

The runner reads workflow commands (`::name key=value::message`) from every line a step prints,
on stdout and stderr alike, after trimming leading whitespace. So two rules hold here:

- Secrets are registered with `::add-mask::` when the console starts, before any other line.
  The runner masks only its log; the summary and outputs files are not masked, so every string
  written there passes the Redactor as well.
- Text we did not write (API messages, DNS values, SDK logs) must not become a command. Data
  inside a command is escaped as the toolkit's `escapeData` / `escapeProperty` do
  (@actions/core command.ts); a plain line that would start with `::` is fenced with
  `::stop-commands::TOKEN` … `::TOKEN::`, TOKEN random, so the text can't end the fence itself.

Every command goes to one stream (stderr): the runner reads stdout and stderr concurrently, so
commands split across them could be processed out of order (a group closing before its lines).
"""

from __future__ import annotations

import html
import json
import logging
import secrets
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from dnsbridge.console import Console
from dnsbridge.errors import DnsbridgeError
from dnsbridge.plan import Action

if TYPE_CHECKING:
    from dnsbridge.onboard import DomainResult
    from dnsbridge.report import Redactor


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(name: str, message: str = "", **properties: str) -> str:
    props = ",".join(f"{key}={escape_property(value)}" for key, value in properties.items() if value)
    return f"::{name}{' ' + props if props else ''}::{escape_data(message)}"


def neutralise(text: str) -> str:
    """`text` printed as is, unless one of its lines would be read as a workflow command."""
    if not any(line.lstrip().startswith("::") for line in text.splitlines()):
        return text
    token = secrets.token_hex(16)
    return f"::stop-commands::{token}\n{text}\n::{token}::"


def output_entry(name: str, value: str) -> str:
    """One `name<<DELIMITER` entry of $GITHUB_OUTPUT (the toolkit's prepareKeyValueMessage)."""
    delimiter = f"ghadelimiter_{secrets.token_hex(16)}"
    if delimiter in name or delimiter in value:  # a 128-bit collision: refuse rather than corrupt
        raise ValueError("output value contains its delimiter")
    return f"{name}<<{delimiter}\n{value}\n{delimiter}\n"


def _cell(text: str) -> str:
    """Untrusted text in a Markdown table cell: no HTML, no pipes, no line breaks."""
    return html.escape(" ".join(text.split())).replace("|", "&#124;")


def _short(value: str, width: int = 48) -> str:
    return value if len(value) <= width else value[: width - 12] + "…" + value[-11:]


def _ses_state(result: DomainResult, name: str, rtype: str) -> str:
    if result.identity is None:
        return "—"
    for attr in result.identity.attributes:
        if attr.type.upper() == rtype and attr.send_domain.lower().rstrip(".") == name:
            return "✅ seen" if attr.status else "⏳ not yet"
    return "—"


def outcome(result: DomainResult, dry_run: bool) -> str:
    if result.error:
        return f"❌ {result.error.code}: {result.error}"
    if result.verified:
        return f"✅ verified in {result.seconds:.1f}s"
    if dry_run:
        return f"📝 plan: {len(result.plan.writes) if result.plan else 0} change(s) would be made; nothing was changed"
    return "📝 records written; not waiting for verification"


def summary(results: Sequence[DomainResult], dry_run: bool) -> str:
    """The step summary: per domain, its outcome and a table of its records."""
    parts = ["## dnsbridge\n"]
    for r in results:
        where = f"{r.provider} zone `{_cell(r.zone)}`" if r.zone else _cell(r.provider)
        parts.append(f"### {_cell(r.domain)}\n\n{_cell(outcome(r, dry_run))} ({where})\n")
        changes = r.plan.changes if r.plan else ()
        if changes:
            parts.append("| name | type | value | action | SES |\n| --- | --- | --- | --- | --- |")
            for c in changes:
                value = _short(c.record.display_value())
                if c.action is Action.UPDATE and c.existing is not None:
                    value = f"{_short(c.existing.display_value(), 30)} → {_short(value, 30)}"
                parts.append(
                    f"| <code>{_cell(c.record.name)}</code> | {c.record.type} | <code>{_cell(value)}</code> "
                    f"| {c.action.value} | {_ses_state(r, c.record.name, c.record.type)} |"
                )
            parts.append("")
        for note in r.notes:
            parts.append(f"> {_cell(note)}\n")
    return "\n".join(parts) + "\n"


class _Handler(logging.Handler):
    def __init__(self, console: ActionsConsole) -> None:
        super().__init__()
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:
            self.handleError(record)
            return
        if logging.WARNING <= record.levelno < logging.ERROR:
            line = command("warning", text.removeprefix("warning: "))
        else:  # errors become annotations from the results, once each, with a title
            line = neutralise(text)
        self.console.line(line)


class ActionsConsole(Console):
    """One group per domain. Domains run concurrently (run.py), so only one domain at a time
    streams its lines live, inside its open group; the others' lines are held and printed as a
    whole group as soon as the live one closes."""

    def __init__(self, stream: TextIO, redactor: Redactor, env: Mapping[str, str]) -> None:
        super().__init__(stream, redactor)
        self.env = env
        self._lock = threading.RLock()
        self._local = threading.local()
        self._live: str | None = None
        self._held: dict[str, list[str]] = {}  # domain → lines, in the order domains started
        self._done: set[str] = set()
        self._mask(redactor.secrets)

    # output ------------------------------------------------------------------------------
    def _write(self, line: str) -> None:
        self._raw(self.redactor(line))

    def _raw(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()

    def _mask(self, values: Iterable[str]) -> None:
        for value in values:
            if value and len(value) >= 4:  # the Redactor's threshold: a shorter one would mask everything
                self._raw(command("add-mask", value))

    def line(self, text: str) -> None:
        with self._lock:
            domain: str | None = getattr(self._local, "domain", None)
            if domain is not None and domain != self._live and domain in self._held:
                self._held[domain].append(text)
            else:
                self._write(text)

    def add_secrets(self, values: Iterable[str]) -> None:
        new = [v for v in values if v and v not in self.redactor.secrets]
        with self._lock:
            self._mask(new)
        super().add_secrets(new)

    def stdout(self, text: str) -> str:
        return neutralise(text)

    def handler(self) -> logging.Handler:
        return _Handler(self)

    # events ------------------------------------------------------------------------------
    def started(self, domain: str) -> None:
        with self._lock:
            self._local.domain = domain
            if self._live is None:
                self._live = domain
                self._write(command("group", domain))
            else:
                self._held[domain] = []

    def finished(self, result: DomainResult) -> None:
        with self._lock:
            self._local.domain = None
            domain = result.domain
            if domain != self._live:
                self._done.add(domain)
                return
            self._write("::endgroup::")
            self._live = None
            for held in [d for d in self._held if d in self._done]:
                self._write(command("group", held))
                for text in self._held.pop(held):
                    self._write(text)
                self._write("::endgroup::")
                self._done.discard(held)
            if self._held:  # a domain still running takes the stream over
                self._live = next(iter(self._held))
                self._write(command("group", self._live))
                for text in self._held.pop(self._live):
                    self._write(text)

    # the end -----------------------------------------------------------------------------
    def finish(self, results: Sequence[DomainResult], dry_run: bool) -> None:
        from dnsbridge.report import as_json

        for r in results:
            if r.error:
                self._write(command("error", str(r.error), title=f"dnsbridge: {r.domain}: {r.error.code}"))
        document = as_json(results)
        records = [{"domain": d["domain"], **rec} for d in document["domains"] for rec in d["records"]]
        verified = bool(results) and all(r.verified for r in results)
        self._outputs(verified, document, records)
        self._summary(summary(results, dry_run))

    def fail(self, exc: DnsbridgeError) -> None:
        self._write(command("error", str(exc), title=f"dnsbridge: {exc.code}"))
        document = {"domains": [], "error": {"code": exc.code, "message": str(exc)}}
        self._outputs(False, document, [])
        self._summary(f"## dnsbridge\n\n❌ {_cell(exc.code)}: {_cell(str(exc))}\n")

    def _outputs(self, verified: bool, document: Mapping[str, Any], records: list[dict[str, Any]]) -> None:
        path = self.env.get("GITHUB_OUTPUT", "")
        if not path:
            return
        entries = {
            "verified": "true" if verified else "false",
            "result": json.dumps(document, ensure_ascii=False),
            "records": json.dumps(records, ensure_ascii=False),
        }
        with open(path, "a", encoding="utf-8") as out:
            out.writelines(output_entry(name, self.redactor(value)) for name, value in entries.items())

    def _summary(self, markdown: str) -> None:
        path = self.env.get("GITHUB_STEP_SUMMARY", "")
        if path:
            with open(path, "a", encoding="utf-8") as out:
                out.write(self.redactor(markdown))
