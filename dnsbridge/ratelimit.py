"""Client-side rate limits, shared by every domain of a run.

Services count requests in a window ("20 requests per second per action", "1,200 requests per
5 minutes per token"); a token bucket would allow up to twice that in one window after an idle
spell. So each limit is a sliding window over the send times of the last `count` requests —
the same rule the service applies — with a small margin for the difference between when we
send and when the service counts.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

EPSILON = 1e-6
MARGIN = 1.10  # windows 10% longer than the service's: latency and scheduling jitter can't push us over


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

    @property
    def pace(self) -> float:
        """Requests/s refilled after a burst: burst + pace × period never exceeds count."""
        return (self.count - (self.burst or 0)) / self.period


class SlidingWindow:
    def __init__(
        self,
        quota: Quota,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.quota = quota
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep
        self.waited = 0.0
        # The burst allowance, as a token bucket (used only when the quota has a burst).
        self._tokens = float(quota.burst or 0)
        self._filled = clock()

    def acquire(self) -> None:
        """Block until one more request fits in the window, then count it as sent."""
        period = self.quota.period * MARGIN
        while True:
            with self._lock:
                now = self._clock()
                # EPSILON: after sleeping exactly the computed wait, float rounding can leave
                # the oldest send a hair inside the window; don't wait again for nothing.
                while self._sent and now - self._sent[0] >= period - EPSILON:
                    self._sent.popleft()
                wait = self._bucket_wait(now)
                if len(self._sent) >= self.quota.count:
                    wait = max(wait, period - (now - self._sent[0]))
                if wait <= 0:
                    self._sent.append(now)
                    if self.quota.burst is not None:
                        self._tokens -= 1
                    return
            self.waited += wait
            self._sleep(wait)

    def _bucket_wait(self, now: float) -> float:
        burst = self.quota.burst
        if burst is None:
            return 0.0
        pace = self.quota.pace / MARGIN
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

    def acquire(self, name: str) -> None:
        window = self.window(name)
        if window is not None:
            window.acquire()

    def waited(self) -> float:
        """Seconds spent waiting for a window, all names together (for reports and benchmarks)."""
        with self._lock:
            return sum(w.waited for w in self._windows.values())
