"""Deadlines and the retry policy shared by every API call.

One deadline bounds a whole run (provider sync, propagation, verification). Throttling and
transient errors are retried with exponential backoff and full jitter inside it; everything else
(auth, bad parameters) fails at once, because repeating it can only make things worse. The
Tencent SDK's own retryer skips several throttling codes, so this policy replaces the SDKs'.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TypeVar

from dnsbridge.errors import ApiError

T = TypeVar("T")
RETRY_MARGIN = 0.001  # seconds
log = logging.getLogger(__name__)


class Deadline:
    """A point in monotonic time; `remaining()` never goes below zero."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.seconds = seconds
        self.at = clock() + seconds

    def remaining(self) -> float:
        return max(0.0, self.at - self._clock())

    def expired(self) -> bool:
        return self.remaining() <= 0.0

    def elapsed(self) -> float:
        return self.seconds - (self.at - self._clock())


@dataclass
class Backoff:
    """Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff and Jitter")."""

    base: float = 0.5
    cap: float = 20.0
    # The lowest fraction of the exponential step a delay may be: 0 is full jitter (best for
    # spreading retries of many clients); polls use 0.5 so they never fire back to back.
    floor: float = 0.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int) -> float:
        step = min(self.cap, self.base * (2 ** min(attempt, 32)))
        return self.rng.uniform(self.floor * step, step)


# The deadline of the domain this thread is working on, so that retries deep inside a provider
# adapter stop at the run's --timeout without every hook taking a deadline parameter.
_RUN_DEADLINE: ContextVar[Deadline | None] = ContextVar("dnsbridge_run_deadline", default=None)


@contextmanager
def bounded_by(deadline: Deadline) -> Iterator[None]:
    """Within this block (in this thread), every RetryPolicy.call stops retrying at `deadline`."""
    token = _RUN_DEADLINE.set(deadline)
    try:
        yield
    finally:
        _RUN_DEADLINE.reset(token)


@dataclass
class RetryPolicy:
    backoff: Backoff = field(default_factory=Backoff)
    max_attempts: int = 8
    # A server's retry-after is honoured up to this; Cloudflare can ask for 300 s after a burst,
    # and a run is better off spending its attempts than sleeping its whole deadline away.
    max_delay: float = 60.0
    sleep: Callable[[float], None] = time.sleep

    def call(self, fn: Callable[[], T], deadline: Deadline | None = None) -> T:
        """Run `fn`, retrying retryable ApiErrors while attempts and the deadline allow (without
        one, the deadline of the run this thread is working for, if any: see `bounded_by`)."""
        deadline = deadline or _RUN_DEADLINE.get()
        attempt = 0
        while True:
            try:
                return fn()
            except ApiError as exc:
                if not exc.retryable or attempt + 1 >= self.max_attempts:
                    raise
                delay = min(self.max_delay, max(self.backoff.delay(attempt), exc.retry_after or 0.0))
                # A retry must have time to run before the deadline (the margin also absorbs the
                # float rounding of `remaining()`), else fail now with the real error.
                if deadline is not None and delay + RETRY_MARGIN >= deadline.remaining():
                    raise
                log.debug("%s %s: %s; retrying in %.1fs", exc.service, exc.action, exc.code, delay)
                self.sleep(delay)
                attempt += 1
