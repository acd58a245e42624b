"""The terminal view: while a run waits, each record's state, redrawn in place under the log.

Waiting can take from seconds to two hours, and a wall of "still waiting" lines says less than
one table that changes: for each domain in flight, each record is written, answers at the
zone's nameservers, is seen by SES; with the time elapsed and the deadline. Log lines keep
scrolling above the table, so nothing the plain mode shows is lost.

Only plain ANSI is used (cursor up, erase below), and every line is cut to the terminal's width
so that no line wraps and the cursor arithmetic stays right.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

from dnsbridge import propagation
from dnsbridge.console import Console
from dnsbridge.plan import Action
from dnsbridge.progress import Server, Stage
from dnsbridge.records import Record

if TYPE_CHECKING:
    from dnsbridge.onboard import DomainResult
    from dnsbridge.plan import Plan
    from dnsbridge.report import Redactor
    from dnsbridge.retry import Deadline
    from dnsbridge.ses import Identity

UP_AND_ERASE = "\x1b[{n}A\r\x1b[J"  # CUU n, then ED 0: erase from the cursor to the end of the screen
WRITTEN = {
    Action.CREATE: "created",
    Action.UPDATE: "updated",
    Action.UNCHANGED: "in place",
    Action.KEPT: "kept",
    Action.SKIPPED: "skipped",
}


@dataclass
class _Row:
    record: Record
    written: str
    visible: bool | None = None  # None: not checked (yet, or at all)
    seen: bool | None = None


@dataclass
class _Domain:
    name: str
    started: float
    stage: str = "records written"
    deadline: Deadline | None = None
    servers: Sequence[Server] = ()
    rows: list[_Row] = field(default_factory=list)


def clock_text(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class _Handler(logging.Handler):
    def __init__(self, console: LiveConsole) -> None:
        super().__init__()
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.console.above(self.format(record))
        except Exception:
            self.handleError(record)


class LiveConsole(Console):
    def __init__(
        self,
        stream: TextIO,
        redactor: Redactor,
        *,
        clock: Callable[[], float] = time.monotonic,
        interval: float = 1.0,
    ) -> None:
        super().__init__(stream, redactor)
        self.clock = clock
        self.interval = interval
        self._lock = threading.RLock()
        self._domains: dict[str, _Domain] = {}
        self._drawn = 0  # lines of the table now on screen, below the cursor's line start
        self._stop: threading.Event | None = None  # set: the running ticker stops
        utf8 = (getattr(stream, "encoding", "") or "").lower().replace("-", "") == "utf8"
        self.yes, self.wait, self.no = ("✓", "…", "–") if utf8 else ("+", ".", "-")

    def handler(self) -> logging.Handler:
        return _Handler(self)

    # drawing -----------------------------------------------------------------------------
    def above(self, text: str) -> None:
        """A log line, printed above the table."""
        self.redraw(text + "\n")

    def redraw(self, above: str = "") -> None:
        """Erase the table, print `above`, draw the table again: in one write, so that a
        terminal never shows a half-drawn frame."""
        with self._lock:
            erase = UP_AND_ERASE.format(n=self._drawn) if self._drawn else ""
            lines = self.frame()
            if lines:
                size = _size(self.stream)
                width, height = max(20, size.columns - 1), max(3, size.lines - 2)
                if len(lines) > height:
                    lines = [*lines[: height - 1], f"  … and {len(lines) - height + 1} more lines"]
            self.stream.write(erase + above + "".join(line[:width] + "\n" for line in lines))
            self.stream.flush()
            self._drawn = len(lines)

    def frame(self) -> list[str]:
        """The table as lines of text (no escapes): what the screen shows below the log."""
        now = self.clock()
        lines: list[str] = []
        with self._lock:
            for d in self._domains.values():
                if not d.rows:
                    continue
                timing = f"{clock_text(now - d.started)} elapsed"
                if d.deadline is not None:
                    remaining = d.deadline.remaining()
                    at = time.strftime("%H:%M:%S", time.localtime(time.time() + remaining))
                    timing += f", deadline in {clock_text(remaining)} (at {at})"
                lines.append(f"{d.name}: {d.stage} · {timing}")
                width = max(len(r.record.name) for r in d.rows)
                for r in d.rows:
                    lines.append(
                        f"  {r.record.type:<5} {r.record.name:<{width}}  {r.written:<8}  "
                        f"{self._mark(r.visible, 'at nameservers', r.written == 'skipped'):<17} "
                        f"{self._mark(r.seen, 'seen by SES', False)}"
                    )
        return lines

    def _mark(self, state: bool | None, what: str, absent: bool) -> str:
        """✓ yes, … not yet, – not asked (or not applicable: a skipped record)."""
        if absent or state is None:
            return f"{self.no} {what}"
        return f"{self.yes if state else self.wait} {what}"

    def _tick(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval):
            self.redraw()

    def _stop_ticker(self) -> None:
        if self._stop is not None:
            self._stop.set()
            self._stop = None

    # events ------------------------------------------------------------------------------
    def started(self, domain: str) -> None:
        with self._lock:
            self._domains[domain] = _Domain(domain, self.clock())

    def written(self, domain: str, plan: Plan) -> None:
        with self._lock:
            d = self._domains.get(domain)
            if d is None:
                return
            d.rows = [_Row(c.record, WRITTEN[c.action]) for c in plan.changes]
            if self._stop is None:  # redraw every second, so the clocks move while nothing else does
                self._stop = threading.Event()
                threading.Thread(target=self._tick, args=(self._stop,), name="live-view", daemon=True).start()
        self.redraw()

    def waiting(self, domain: str, stage: Stage, deadline: Deadline, servers: Sequence[Server] = ()) -> None:
        with self._lock:
            d = self._domains.get(domain)
            if d is None:
                return
            d.deadline = deadline
            if stage == "nameservers":
                d.stage, d.servers = "waiting for the nameservers", servers
                for r in d.rows:
                    r.visible = False
            else:
                d.stage = "waiting for SES"
                for r in d.rows:
                    r.seen = False if r.seen is None else r.seen
        self.redraw()

    def visible(self, domain: str, done: int, total: int) -> None:
        with self._lock:
            d = self._domains.get(domain)
            if d is None:
                return
            rows = [r for r in d.rows if r.written != "skipped"]
            servers = list(d.servers)
        if done == total:
            states = [True] * len(rows)
        elif done == 0:
            states = [False] * len(rows)
        else:  # the count alone doesn't say which: ask, as the propagation check does
            states = [all(_served(s, r.record) for s in servers) for r in rows]
        with self._lock:
            for row, state in zip(rows, states, strict=True):
                row.visible = state
            d.stage = f"waiting for the nameservers ({done}/{total} answer)"
        self.redraw()

    def ses_view(self, domain: str, identity: Identity) -> None:
        seen = {(a.type.upper(), a.send_domain.lower().rstrip(".")): a.status for a in identity.attributes}
        with self._lock:
            d = self._domains.get(domain)
            if d is None:
                return
            for r in d.rows:
                r.seen = seen.get((r.record.type, r.record.name))
            total = len(identity.attributes)
            d.stage = f"waiting for SES ({sum(1 for s in seen.values() if s)}/{total} seen)"
        self.redraw()

    def finished(self, result: DomainResult) -> None:
        with self._lock:
            self._domains.pop(result.domain, None)
            if not self._domains:
                self._stop_ticker()
        self.redraw()

    def finish(self, results: Sequence[DomainResult], dry_run: bool) -> None:
        with self._lock:
            self._stop_ticker()
            self._domains.clear()
        self.redraw()


def _served(server: Server, record: Record) -> bool:
    got = propagation.answers(server, record.name, record.type)
    return bool(got) and any(g.value == record.value for g in got or ())


def _size(stream: TextIO) -> os.terminal_size:
    try:
        return os.get_terminal_size(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return shutil.get_terminal_size()
