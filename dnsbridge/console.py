"""Where a run's output goes, chosen by where the run happens.

- GitHub Actions (`GITHUB_ACTIONS=true`): groups, annotations, a step summary and step outputs
  (actions.py).
- A terminal (stderr is a TTY, not `--quiet`): the log lines, plus a live table of each record's
  state redrawn in place below them while waiting (live.py).
- Anything else (a pipe, a file, another CI): the log lines alone, one per change of state.

The command line builds one Console per run with `start()`; it is also the run's progress
observer, so the flow never needs to know which of these it is talking to.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, TextIO

from dnsbridge import progress
from dnsbridge.errors import DnsbridgeError

if TYPE_CHECKING:
    from dnsbridge.onboard import DomainResult
    from dnsbridge.report import Redactor


class Console(progress.Observer):
    """Plain output: log lines on `stream` and the report on stdout, unchanged."""

    def __init__(self, stream: TextIO, redactor: Redactor) -> None:
        self.stream = stream
        self.redactor = redactor

    def handler(self) -> logging.Handler:
        """The logging handler every dnsbridge log line goes through (the CLI sets its formatter)."""
        return logging.StreamHandler(self.stream)

    def add_secrets(self, values: Iterable[str]) -> None:
        """Secrets learnt after start (a provider's credentials from a file or a role)."""
        new = [v for v in values if v and v not in self.redactor.secrets]
        self.redactor.secrets.extend(new)
        self.redactor.secrets.sort(key=len, reverse=True)  # a secret that contains another goes first

    def stdout(self, text: str) -> str:
        """The report as it may be printed on stdout here."""
        return text

    def finish(self, results: Sequence[DomainResult], dry_run: bool) -> None:
        """Every domain is done; the report is about to be printed."""

    def fail(self, exc: DnsbridgeError) -> None:
        """The run stopped before any domain's flow began (bad input, credentials)."""


def start(env: Mapping[str, str], stream: TextIO, verbosity: int, redactor: Redactor) -> Console:
    """The console for this run, installed as the progress observer. Call it before anything is
    printed: in Actions it registers the secrets' masks first."""
    console: Console
    if env.get("GITHUB_ACTIONS") == "true":
        from dnsbridge.actions import ActionsConsole

        console = ActionsConsole(stream, redactor, env)
    elif verbosity >= 0 and _is_terminal(stream) and env.get("TERM", "") != "dumb":
        from dnsbridge.live import LiveConsole

        console = LiveConsole(stream, redactor)
    else:
        console = Console(stream, redactor)
    progress.install(console)
    return console


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty() and os.isatty(stream.fileno())
    except (AttributeError, OSError, ValueError):  # a StringIO, a closed or detached stream
        return False
