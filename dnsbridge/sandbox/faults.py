"""One small vocabulary of faults, shared by every emulator (Tencent, Cloudflare, the Route 53 proxy).

A test switches faults on with `emulator.chaos.add(rule)`. A rule sees each request that reaches
the server (`Request`: service, action, whether it writes, a stable key) and may answer with a
`Fault`; each emulator turns a fault into its own service's wire form:

    THROTTLE    the service's own rate-limit answer (Tencent RequestLimitExceeded*, Cloudflare 429
                with retry-after, Route 53 HTTP 400 <Code>Throttling</Code>)
    SERVER      HTTP 503: a gateway or the service failed
    DROP        the connection is closed without a reply; the server did nothing
    SLOW        the answer comes after `delay` seconds
    LOST_REPLY  the server does the work, then closes the connection without a reply
    DENY        the service refuses the credentials (its own auth error), quoting the request's
                credential header in the message, as a careless service might

`then` runs where the fault strikes (before the drop, after the work of a lost reply): the
interruption tests SIGKILL a client there.

`FaultPlan(rate=0.3, seed=7)` faults a fraction of requests. Its decision is a hash of the seed,
the request's key and how often that key was seen, not a shared random stream, so a run faults the
same requests whatever order concurrent threads send them in.
"""

from __future__ import annotations

import enum
import hashlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


class Kind(enum.Enum):
    THROTTLE = "throttle"
    SERVER = "server"
    DROP = "drop"
    SLOW = "slow"
    LOST_REPLY = "lost-reply"
    DENY = "deny"


# What "a fraction of calls faulted" draws from by default: every transient fault a client must
# survive. DENY is not transient: it is asked for explicitly.
TRANSIENT = (Kind.THROTTLE, Kind.SERVER, Kind.DROP, Kind.SLOW, Kind.LOST_REPLY)


@dataclass(frozen=True)
class Request:
    service: str  # "ses", "dnspod", "cloudflare", "route53"
    action: str  # an API action name, or "METHOD /path" with ids folded
    write: bool  # it changes DNS data or registers an identity
    key: str = ""  # what identifies "the same request" across retries (method, path, body)
    credential: str = ""  # the credential header as received (for DENY's message)
    body: bytes = b""  # the request body, so tests can compare what was sent with what was planned


@dataclass(frozen=True)
class Fault:
    kind: Kind
    delay: float = 0.3  # SLOW
    retry_after: float = 1.0  # THROTTLE, where the service sends retry-after
    then: Callable[[], None] | None = None


Rule = Callable[[Request], Fault | None]


@dataclass
class FaultPlan:
    """Fault `rate` of the requests that `match` (default: all), with kinds drawn from `kinds`."""

    rate: float
    kinds: Sequence[Kind] = TRANSIENT
    seed: int = 0
    match: Callable[[Request], bool] | None = None
    delay: float = 0.3
    retry_after: float = 1.0
    _seen: dict[str, int] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __call__(self, request: Request) -> Fault | None:
        if self.match is not None and not self.match(request):
            return None
        key = f"{request.service}|{request.action}|{request.key}"
        with self._lock:
            n = self._seen.get(key, 0)
            self._seen[key] = n + 1
        digest = hashlib.sha256(f"{self.seed}|{key}|{n}".encode()).digest()
        draw = int.from_bytes(digest[:8], "big") / 2**64
        if draw >= self.rate or not self.kinds:
            return None
        kind = self.kinds[digest[8] % len(self.kinds)]
        return Fault(kind, delay=self.delay, retry_after=self.retry_after)


@dataclass
class Once:
    """The next `times` requests that `match` get `fault` (a scripted fault)."""

    fault: Fault
    match: Callable[[Request], bool] = lambda request: True
    times: int = 1

    def __call__(self, request: Request) -> Fault | None:
        if self.times <= 0 or not self.match(request):
            return None
        self.times -= 1
        return self.fault


@dataclass(frozen=True)
class Struck:
    request: Request
    kind: Kind


class Chaos:
    """The rules an emulator consults on every request, and a log of the faults they caused."""

    def __init__(self) -> None:
        self.rules: list[Rule] = []
        self.struck: list[Struck] = []
        self.seen: list[Request] = []
        self._lock = threading.Lock()

    def add(self, rule: Rule) -> Rule:
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()
            self.struck.clear()
            self.seen.clear()

    def decide(self, request: Request) -> Fault | None:
        with self._lock:
            self.seen.append(request)
            rules = list(self.rules)
        for rule in rules:
            fault = rule(request)
            if fault is not None:
                with self._lock:
                    self.struck.append(Struck(request, fault.kind))
                return fault
        return None

    def writes(self) -> int:
        """Write requests that reached the server (faulted or not)."""
        with self._lock:
            return sum(1 for r in self.seen if r.write)

    def count(self, kind: Kind | None = None) -> int:
        with self._lock:
            return sum(1 for s in self.struck if kind is None or s.kind is kind)


def body_key(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()[:16]
