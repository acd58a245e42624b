"""Client-side rate limits, shared by every domain of a run.

Services count requests in a window ("20 requests per second per action", "1,200 requests per
5 minutes per token"); a token bucket would allow up to twice that in one window after an idle
spell. So each limit is a sliding window over the last `count` requests — the same rule the
service applies.

What the window measures from matters. The service counts a request at some moment between our
send and its reply, and not at a fixed distance from either: network and scheduling jitter move
it. Counting from the send, two requests one period apart at our end can land closer than that
at the service (measured on the emulators with 1,000 domains: up to 100 ms closer, a throttle
each time). So a request holds its place in the window from before it is sent until one period
after its reply came back (or its error): whenever the service counted the first, the service
counts the next one after it by at least the period. No margin to guess; the cost is one round
trip per window, the least any guarantee can cost.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

EPSILON = 1e-6


@dataclass(frozen=True)
class Quota:
    count: int
    period: float  # seconds
    # For a long window (Cloudflare's 1,200 per 5 minutes): spend at most `burst` requests at
    # once, then pace at (count - burst) / period. The window then never fills — a run that
    # spent the whole window in its first minute would stand still for the other four.
    burst: int | None = None

    def scaled(self, factor: float) -> Quota:
        count = max(1, int(self.count * factor))
        burst = None if self.burst is None else int(self.burst * factor)
        return Quota(count, self.period, burst if burst and burst < count else None)


class SlidingWindow:
    def __init__(
        self,
        quota: Quota,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.quota = quota
        self._ended: deque[float] = deque()  # when the requests of the last period ended, in order
        self._in_flight = 0
        self._lock = threading.Lock()
        self._released = threading.Condition(self._lock)
        self._clock = clock
        self._sleep = sleep
        self.waited = 0.0
        # The burst allowance, as a token bucket (used only when the quota has a burst).
        self._tokens = float(quota.burst or 0)
        self._filled = clock()

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold a place in the window for one request: from now until a period after the block."""
        self.acquire()
        try:
            yield
        finally:
            self.release()

    def acquire(self) -> None:
        """Block until one more request fits in the window, then hold a place for it."""
        period = self.quota.period
        while True:
            with self._lock:
                now = self._clock()
                # EPSILON: after sleeping exactly the computed wait, float rounding can leave
                # the oldest end a hair inside the window; don't wait again for nothing.
                while self._ended and now - self._ended[0] >= period - EPSILON:
                    self._ended.popleft()
                wait = self._bucket_wait(now)
                if self._in_flight + len(self._ended) >= self.quota.count:
                    if not self._ended:  # every place is held by a request still running
                        self._released.wait()
                        continue
                    wait = max(wait, period - (now - self._ended[0]))
                if wait <= 0:
                    self._in_flight += 1
                    if self.quota.burst is not None:
                        self._tokens -= 1
                    return
            self.waited += wait
            self._sleep(wait)

    def release(self) -> None:
        """The request is over (answered or failed): its place frees one period from now."""
        with self._lock:
            self._in_flight -= 1
            self._ended.append(self._clock())
            self._released.notify()

    def _bucket_wait(self, now: float) -> float:
        burst = self.quota.burst
        if burst is None:
            return 0.0
        # refilled so that burst + pace × period = count: the window never fills
        pace = (self.quota.count - burst) / self.quota.period
        self._tokens = min(float(burst), self._tokens + (now - self._filled) * pace)
        self._filled = now
        return 0.0 if self._tokens >= 1 - EPSILON else (1 - self._tokens) / pace


# The documented quotas (API-FACTS.md): SES 20 requests/s per action; DNSPod record writes
# 500/s, DescribeRecordList 100/s, everything else 20/s; Route 53 5/s per account; Cloudflare
# 1,200 per 5 minutes per user/token. Cloudflare's may be spent 200 at once, then at 3.3/s, so
# a long run slows down smoothly instead of emptying the window and stopping for minutes.
PER_SECOND = 1.0
DOCUMENTED: dict[str, Quota] = {
    "ses:*": Quota(20, PER_SECOND),
    "dnspod:CreateRecord": Quota(500, PER_SECOND),
    "dnspod:ModifyRecord": Quota(500, PER_SECOND),
    "dnspod:DeleteRecord": Quota(500, PER_SECOND),
    "dnspod:DescribeRecordList": Quota(100, PER_SECOND),
    "dnspod:*": Quota(20, PER_SECOND),
    "route53": Quota(5, PER_SECOND),
    "cloudflare": Quota(1200, 300.0, burst=200),
}


class Limits:
    """Named quotas → one shared window each, created on first use.

    A name is `service:Action` for per-action quotas (falling back to the quota of
    `service:*`, still counted per action) or a bare `service` for per-account ones. A name
    with no quota isn't limited.
    """

    def __init__(self, quotas: Mapping[str, Quota] = DOCUMENTED, scale: float = 1.0) -> None:
        self._quotas = dict(quotas)
        self._scale = scale
        self._windows: dict[str, SlidingWindow] = {}
        self._lock = threading.Lock()

    def window(self, name: str) -> SlidingWindow | None:
        with self._lock:
            if name not in self._windows:
                quota = self._quotas.get(name) or self._quotas.get(name.split(":", 1)[0] + ":*")
                if quota is None:
                    return None
                self._windows[name] = SlidingWindow(quota.scaled(self._scale))
            return self._windows[name]

    @contextmanager
    def slot(self, name: str) -> Iterator[None]:
        """Around one request counted against `name`'s quota (see SlidingWindow.slot)."""
        window = self.window(name)
        if window is None:
            yield
            return
        with window.slot():
            yield

    def waited(self) -> float:
        """Seconds spent waiting for a window, all names together (for reports and benchmarks)."""
        with self._lock:
            return sum(w.waited for w in self._windows.values())
