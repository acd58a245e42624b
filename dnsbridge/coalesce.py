"""Merging the same kind of call from many domains into one, per zone.

With many domains in one zone, each domain's read and write would be one API call each, though
the APIs can read a whole zone in one page and write many records in one batch (Route 53's
change batch, Cloudflare's batch endpoint). A `Coalescer` holds the first call for a zone for a
moment (`linger`: domains released together by SES's rate limit reach it within a few
milliseconds of each other), lets the calls that arrive meanwhile join it, makes one call for all
of them and hands each caller its own share of the answer.

Only one call per zone is in flight at a time, and callers that arrive while it runs form the
next batch (group commit). So the pace is set by the API: when its rate limit slows the calls
down, batches grow instead of calls queueing up, and no fixed delay is added when it doesn't.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from dnsbridge.errors import DnsbridgeError
from dnsbridge.plan import Plan
from dnsbridge.provider import Provider, Zone
from dnsbridge.records import Record
from dnsbridge.retry import Deadline

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")
R = TypeVar("R")


@dataclass
class _Batch(Generic[T, R]):
    items: list[T] = field(default_factory=list)
    results: list[R | BaseException] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)
    full: threading.Event = field(default_factory=threading.Event)


class Coalescer(Generic[K, T, R]):
    """`submit(key, item)` returns `run(key, items)[i]` for the batch the item joined.

    `run` returns one result per item, in order; a result that is an exception is raised to that
    item's caller only, so one domain's failure stays its own.
    """

    def __init__(
        self,
        run: Callable[[K, Sequence[T]], Sequence[R | BaseException]],
        *,
        linger: float,
        max_items: int,
    ) -> None:
        self._run = run
        self.linger = linger
        self.max_items = max_items
        self._open: dict[K, _Batch[T, R]] = {}
        self._inflight: dict[K, threading.Lock] = {}
        self._lock = threading.Lock()
        self.batches = 0  # calls made, for tests and benchmarks

    def _inflight_lock(self, key: K) -> threading.Lock:
        with self._lock:
            return self._inflight.setdefault(key, threading.Lock())

    def submit(self, key: K, item: T) -> R:
        with self._lock:
            batch = self._open.get(key)
            leader = batch is None
            if batch is None:
                batch = self._open[key] = _Batch()
            index = len(batch.items)
            batch.items.append(item)
            if len(batch.items) >= self.max_items:
                del self._open[key]
                batch.full.set()
        if leader:
            batch.full.wait(self.linger)
            # One call in flight per key: while the previous one runs (slowed by a rate limit,
            # say), newcomers keep joining this batch — group commit, so the slower the API, the
            # fuller each call.
            with self._inflight_lock(key):
                with self._lock:
                    if self._open.get(key) is batch:
                        del self._open[key]
                    items = list(batch.items)
                try:
                    batch.results = list(self._run(key, items))
                except BaseException as exc:  # everyone in the batch gets the failure
                    batch.results = [exc] * len(items)
                self.batches += 1
            batch.done.set()
        else:
            batch.done.wait()
        result = batch.results[index]
        if isinstance(result, BaseException):
            raise result
        return result


class ZoneBatching:
    """A provider whose reads — and writes, where its API batches them — are merged per zone.

    Used when a run has many domains: the domains of one zone then share one read (the provider
    may list the whole zone instead of one name at a time) and one write batch per round. If a
    merged write fails, each domain's changes are tried again alone, so one domain's bad change
    can't fail the others.
    """

    def __init__(self, inner: Provider, *, linger: float | None = None, max_domains: int = 250) -> None:
        self.inner = inner
        self.name = inner.name
        self.nameserver_hints = inner.nameserver_hints
        self.settings = inner.settings
        linger = inner.coalesce_linger if linger is None else linger
        self._reads: Coalescer[str, tuple[Zone, Sequence[str]], list[Record]] = Coalescer(
            self._read_all, linger=linger, max_items=max_domains
        )
        self._writes: Coalescer[str, tuple[Zone, Plan], None] = Coalescer(
            self._apply_all, linger=linger, max_items=max_domains
        )

    def find_zone(self, domain: str, zone: str | None = None) -> Zone:
        return self.inner.find_zone(domain, zone)

    def wait_synced(self, zone: Zone, deadline: Deadline) -> None:
        self.inner.wait_synced(zone, deadline)

    def secrets(self) -> tuple[str, ...]:
        return self.inner.secrets()

    def read(self, zone: Zone, names: Sequence[str]) -> list[Record]:
        return self._reads.submit(zone.id, (zone, names))

    def apply(self, zone: Zone, plan: Plan) -> None:
        if not plan.writes:
            return
        if not self.inner.batch_writes:
            self.inner.apply(zone, plan)
            return
        self._writes.submit(zone.id, (zone, plan))

    def _read_all(self, _: str, items: Sequence[tuple[Zone, Sequence[str]]]) -> list[list[Record]]:
        zone = items[0][0]
        records = self.inner.read(zone, sorted({n for _, names in items for n in names}))
        shares = []
        for _zone, names in items:
            mine = set(names)
            shares.append([r for r in records if r.name in mine])
        return shares

    def _apply_all(self, _: str, items: Sequence[tuple[Zone, Plan]]) -> list[BaseException | None]:
        zone = items[0][0]
        if len(items) == 1:
            self.inner.apply(zone, items[0][1])
            return [None]
        plans = [plan for _, plan in items]
        merged = Plan(
            domain=",".join(p.domain for p in plans),
            zone=zone.name,
            changes=tuple(c for p in plans for c in p.changes),
            current=tuple(r for p in plans for r in p.current),
        )
        try:
            self.inner.apply(zone, merged)
            return [None] * len(items)
        except DnsbridgeError:
            pass
        results: list[BaseException | None] = []
        for plan in plans:  # alone, so the failure is the guilty domain's only
            try:
                self.inner.apply(zone, plan)
                results.append(None)
            except DnsbridgeError as exc:
                results.append(exc)
        return results
