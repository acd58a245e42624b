"""The Coalescer: calls of one key merged into one, each caller handed its own share."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from dnsbridge.coalesce import Coalescer
from dnsbridge.errors import ConflictError


class Api:
    """Answers each item with item * 10, or with an error for negative items; records the calls.
    With a gate, calls for "zone" wait until it opens."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.calls: list[tuple[str, list[int]]] = []
        self.gate = gate
        self.started = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, key: str, items: Sequence[int]) -> list[int | BaseException]:
        with self._lock:
            self.calls.append((key, list(items)))
        self.started.set()
        if self.gate is not None and key == "zone":
            assert self.gate.wait(10)
        return [ConflictError(f"item {i}") if i < 0 else i * 10 for i in items]


def test_calls_that_arrive_together_become_one_and_each_gets_its_own_answer() -> None:
    api = Api()
    merged: Coalescer[str, int, int] = Coalescer(api, linger=0.2, max_items=100)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda i: merged.submit("zone", i), range(8)))
    assert answers == [i * 10 for i in range(8)]
    assert len(api.calls) == 1 and sorted(api.calls[0][1]) == list(range(8))


def test_a_failing_item_fails_only_its_own_caller() -> None:
    api = Api()
    merged: Coalescer[str, int, int] = Coalescer(api, linger=0.2, max_items=100)

    def submit(i: int) -> int | str:
        try:
            return merged.submit("zone", i)
        except ConflictError as exc:
            return str(exc)

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(submit, [1, -2, 3, 4]))
    assert answers == [10, "item -2", 30, 40]


def test_one_call_in_flight_per_key_and_newcomers_wait_in_the_next_batch() -> None:
    gate = threading.Event()
    api = Api(gate)
    merged: Coalescer[str, int, int] = Coalescer(api, linger=0.0, max_items=100)
    with ThreadPoolExecutor(8) as pool:
        first = pool.submit(merged.submit, "zone", 0)
        assert api.started.wait(5)  # the first call is in flight, held at the gate
        later = [pool.submit(merged.submit, "zone", i) for i in range(1, 6)]
        other = pool.submit(merged.submit, "other-zone", 99)  # another key is not held up
        assert other.result(5) == 990
        gate.set()
        assert first.result(5) == 0
        assert [f.result(5) for f in later] == [10, 20, 30, 40, 50]
    zone_calls = [items for key, items in api.calls if key == "zone"]
    assert zone_calls[0] == [0]
    assert sorted(i for items in zone_calls[1:] for i in items) == [1, 2, 3, 4, 5]
    assert len(zone_calls) == 2  # the five that waited went out together


@pytest.mark.parametrize("max_items", [1, 3])
def test_a_full_batch_goes_without_waiting_for_the_linger(max_items: int) -> None:
    api = Api()
    merged: Coalescer[str, int, int] = Coalescer(api, linger=30.0, max_items=max_items)
    with ThreadPoolExecutor(max_items) as pool:
        answers = list(pool.map(lambda i: merged.submit("zone", i), range(max_items)))
    assert answers == [i * 10 for i in range(max_items)]  # well before 30 s: the batch was full
