"""What a run reports while it runs: one event per step of a domain's flow, to one observer.

The flow (onboard.py) says what happened; a console decides how to show it: nothing more than
the log lines in a pipe, a live table at a terminal, groups and annotations in GitHub Actions.
Like logging, the observer is process-wide and installed once by the command line: domains run
on worker threads (run.py), and threading a parameter through every layer for a display concern
would put it in every signature. Observers must therefore be thread-safe.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from dnsbridge.onboard import DomainResult
    from dnsbridge.plan import Plan
    from dnsbridge.retry import Deadline
    from dnsbridge.ses import Identity

Stage = Literal["nameservers", "ses"]
Server = tuple[str, int]


class Observer:
    """Every event, doing nothing: subclasses override the ones they show."""

    def started(self, domain: str) -> None:
        """The domain's flow begins (on the thread that will run all of it)."""

    def planned(self, domain: str, plan: Plan) -> None:
        """The changes are known; nothing is written yet."""

    def written(self, domain: str, plan: Plan) -> None:
        """`plan.writes` are applied (or there were none)."""

    def waiting(self, domain: str, stage: Stage, deadline: Deadline, servers: Sequence[Server] = ()) -> None:
        """A waiting stage begins: for the nameservers (`servers`), then for SES."""

    def visible(self, domain: str, done: int, total: int) -> None:
        """`done` of the records answer at every nameserver (sent when the count changes)."""

    def ses_view(self, domain: str, identity: Identity) -> None:
        """SES's view of the identity changed (sent when it changes, not on every poll)."""

    def finished(self, result: DomainResult) -> None:
        """The domain's flow is over, whatever its outcome."""


_observer: Observer = Observer()


def observer() -> Observer:
    return _observer


def install(new: Observer) -> Observer:
    """Make `new` the process's observer; returns the previous one (tests put it back)."""
    global _observer
    previous, _observer = _observer, new
    return previous
