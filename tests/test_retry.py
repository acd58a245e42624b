"""retry: which failures are retried, how long between tries, and that the deadline is the limit."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dnsbridge.errors import ApiError, AuthError, ThrottledError, TransientError
from dnsbridge.retry import Backoff, Deadline, RetryPolicy, bounded_by


class FakeClock:
    """Monotonic time that moves only when the fake sleep says so."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def api_error(cls: type[ApiError], code: str = "Code", retry_after: float | None = None) -> ApiError:
    return cls("refused", service="ses", action="GetEmailIdentity", code=code, retry_after=retry_after)


class Flaky:
    """A call that fails `times` times, then answers "ok"; counts its calls."""

    def __init__(self, times: int, error: Callable[[], Exception]) -> None:
        self.times = times
        self.error = error
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.times:
            raise self.error()
        return "ok"


def fixed_backoff(seconds: float) -> Backoff:
    return Backoff(base=seconds, cap=seconds, floor=1.0)


@pytest.mark.parametrize(
    "error",
    [
        lambda: api_error(ThrottledError, "RequestLimitExceeded"),
        lambda: api_error(TransientError, "FailedOperation.ServiceNotAvailable"),
    ],
)
def test_throttled_and_transient_errors_are_retried(error: Callable[[], Exception]) -> None:
    clock = FakeClock()
    fn = Flaky(3, error)
    assert RetryPolicy(backoff=fixed_backoff(1.0), sleep=clock.sleep).call(fn) == "ok"
    assert fn.calls == 4
    assert clock.sleeps == [1.0, 1.0, 1.0]


@pytest.mark.parametrize(
    "error",
    [
        lambda: api_error(AuthError, "AuthFailure.SignatureFailure"),
        lambda: api_error(ApiError, "InvalidParameterValue"),
        lambda: ValueError("not an API error"),
    ],
)
def test_auth_parameter_and_other_errors_are_not_retried(error: Callable[[], Exception]) -> None:
    clock = FakeClock()
    fn = Flaky(1, error)
    with pytest.raises(type(error())):
        RetryPolicy(sleep=clock.sleep).call(fn)
    assert fn.calls == 1
    assert clock.sleeps == []


def test_retries_stop_after_max_attempts_with_the_last_error() -> None:
    clock = FakeClock()
    fn = Flaky(100, lambda: api_error(ThrottledError, "Throttling"))
    with pytest.raises(ThrottledError, match="Throttling"):
        RetryPolicy(backoff=fixed_backoff(0.5), max_attempts=4, sleep=clock.sleep).call(fn)
    assert fn.calls == 4
    assert len(clock.sleeps) == 3


def test_retry_gives_up_before_sleeping_past_the_deadline() -> None:
    clock = FakeClock()
    deadline = Deadline(10.0, clock=clock)
    fn = Flaky(100, lambda: api_error(TransientError, "InternalError"))
    with pytest.raises(TransientError):
        RetryPolicy(backoff=fixed_backoff(4.0), max_attempts=100, sleep=clock.sleep).call(fn, deadline)
    assert clock.sleeps == [4.0, 4.0]  # at t=8 only 2 s remain, less than the next 4 s delay
    assert fn.calls == 3
    assert not deadline.expired()


def test_a_run_deadline_bounds_retries_that_were_given_none() -> None:
    # Provider adapters call the policy without a deadline; the domain's run sets one for its
    # thread (onboard), and retries deep in an adapter stop there too.
    clock = FakeClock()
    policy = RetryPolicy(backoff=fixed_backoff(4.0), max_attempts=100, sleep=clock.sleep)
    fn = Flaky(100, lambda: api_error(TransientError, "InternalError"))
    with bounded_by(Deadline(10.0, clock=clock)), pytest.raises(TransientError):
        policy.call(fn)
    assert fn.calls == 3
    unbounded = Flaky(5, lambda: api_error(TransientError, "InternalError"))
    assert policy.call(unbounded) == "ok"  # outside the block: no deadline again
    assert unbounded.calls == 6


def test_retry_after_from_the_service_is_honoured() -> None:
    clock = FakeClock()
    fn = Flaky(1, lambda: api_error(ThrottledError, "429", retry_after=7.0))
    assert RetryPolicy(backoff=fixed_backoff(1.0), sleep=clock.sleep).call(fn) == "ok"
    assert clock.sleeps == [7.0]


def test_retry_after_beyond_the_deadline_is_not_waited_for() -> None:
    clock = FakeClock()
    fn = Flaky(1, lambda: api_error(ThrottledError, "429", retry_after=60.0))
    with pytest.raises(ThrottledError):
        RetryPolicy(backoff=fixed_backoff(1.0), sleep=clock.sleep).call(fn, Deadline(30.0, clock=clock))
    assert clock.sleeps == []


def test_success_on_the_first_try_never_sleeps() -> None:
    clock = FakeClock()
    assert RetryPolicy(sleep=clock.sleep).call(lambda: 42, Deadline(1.0, clock=clock)) == 42
    assert clock.sleeps == []


@settings(max_examples=200, deadline=None)
@given(
    st.floats(min_value=0.1, max_value=120.0),
    st.floats(min_value=0.01, max_value=5.0),
    st.floats(min_value=0.0, max_value=1.0),
    st.integers(min_value=0, max_value=20),
    st.integers(min_value=0),
)
def test_retrying_never_sleeps_past_the_deadline(
    seconds: float, base: float, floor: float, failures: int, seed: int
) -> None:
    clock = FakeClock()
    deadline = Deadline(seconds, clock=clock)
    policy = RetryPolicy(
        backoff=Backoff(base=base, cap=10.0, floor=floor, rng=random.Random(seed)), max_attempts=50, sleep=clock.sleep
    )
    fn = Flaky(failures, lambda: api_error(ThrottledError))
    try:
        assert policy.call(fn, deadline) == "ok"
    except ThrottledError:
        assert fn.calls < failures + 1
    assert sum(clock.sleeps) < seconds
    assert deadline.elapsed() == pytest.approx(sum(clock.sleeps))


def test_deadline_remaining_counts_down_and_never_goes_below_zero() -> None:
    clock = FakeClock()
    deadline = Deadline(30.0, clock=clock)
    assert (deadline.remaining(), deadline.elapsed(), deadline.expired()) == (30.0, 0.0, False)
    clock.sleep(12.5)
    assert (deadline.remaining(), deadline.elapsed(), deadline.expired()) == (17.5, 12.5, False)
    clock.sleep(17.5)
    assert deadline.expired()
    clock.sleep(100.0)
    assert (deadline.remaining(), deadline.elapsed(), deadline.expired()) == (0.0, 130.0, True)


def test_backoff_steps_double_until_the_cap() -> None:
    backoff = Backoff(base=0.5, cap=5.0, floor=1.0)
    assert [backoff.delay(a) for a in range(6)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]


def test_backoff_survives_huge_attempt_numbers() -> None:
    assert Backoff(base=1.0, cap=60.0, floor=1.0).delay(10_000) == 60.0


@settings(max_examples=200, deadline=None)
@given(
    st.floats(min_value=0.001, max_value=100.0),
    st.floats(min_value=0.001, max_value=1000.0),
    st.floats(min_value=0.0, max_value=1.0),
    st.integers(min_value=0, max_value=200),
    st.integers(min_value=0),
)
def test_backoff_delay_stays_within_floor_and_step(
    base: float, cap: float, floor: float, attempt: int, seed: int
) -> None:
    backoff = Backoff(base=base, cap=cap, floor=floor, rng=random.Random(seed))
    step = min(cap, base * 2 ** min(attempt, 32))
    delay = backoff.delay(attempt)
    assert floor * step <= delay <= step
    assert delay <= cap


def test_full_jitter_spreads_delays_across_the_step() -> None:
    backoff = Backoff(base=1.0, cap=8.0, floor=0.0, rng=random.Random(7))
    delays = [backoff.delay(3) for _ in range(200)]
    assert min(delays) < 2.0
    assert max(delays) > 6.0
