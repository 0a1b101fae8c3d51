"""The channel circuit breaker, driven by a hand-moved clock."""

from __future__ import annotations

from typing import Any

import pytest

from aisonar.channels.models import ChannelState
from aisonar.gateway.health import ChannelHealth

CLOSED = ChannelState.CLOSED
OPEN = ChannelState.OPEN
HALF_OPEN = ChannelState.HALF_OPEN

Event = tuple[str, ChannelState, ChannelState, str]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Breaker:
    """A ChannelHealth with its clock and the transitions it reported."""

    def __init__(self, **options: Any) -> None:
        self.clock = FakeClock()
        self.events: list[Event] = []
        self.health = ChannelHealth(clock=self.clock, on_change=self._record, **options)

    def _record(self, channel_id: str, old: ChannelState, new: ChannelState, reason: str) -> None:
        self.events.append((channel_id, old, new, reason))

    def fail(
        self,
        channel_id: str,
        times: int = 1,
        reason: str = "http_500",
        *,
        key: str | None = None,
    ) -> None:
        """`times` failures; with `key`, ones its requests may have provoked."""
        for _ in range(times):
            self.health.record_failure(channel_id, reason, suspect=key)

    def succeed(self, channel_id: str, times: int = 1) -> None:
        for _ in range(times):
            self.health.record_success(channel_id)

    def open(self, channel_id: str) -> None:
        """Open a healthy channel by the default minimum of five requests, all failed."""
        self.fail(channel_id, 5)
        assert self.health.state(channel_id) is OPEN

    def cooldown(self, channel_id: str) -> float:
        return self.health.seconds_until_available([channel_id])


@pytest.fixture
def b() -> Breaker:
    return Breaker()


def test_unknown_channel_is_closed_and_available(b: Breaker) -> None:
    assert b.health.state("a") is CLOSED
    assert b.health.is_available("a")
    assert b.health.seconds_until_available(["a"]) == 0.0
    assert b.health.snapshot() == {}
    assert b.health._entries == {}


def test_opens_once_the_minimum_of_requests_has_failed(b: Breaker) -> None:
    b.fail("a", 4)
    assert b.health.state("a") is CLOSED
    assert b.health.is_available("a")
    assert b.health.consecutive_failures("a") == 4
    assert b.events == []

    b.fail("a")
    assert b.health.state("a") is OPEN
    assert not b.health.is_available("a")
    assert b.health.snapshot() == {"a": OPEN}
    assert b.events == [("a", CLOSED, OPEN, "5 of 5 requests failed within 60s: http_500")]
    assert b.cooldown("a") == 5.0
    assert b.health.consecutive_failures("a") == 0


def test_a_minimum_of_one_opens_on_the_first_failure() -> None:
    b = Breaker(min_requests=1)
    b.fail("a", reason="connect_error")
    assert b.health.state("a") is OPEN
    assert b.events == [("a", CLOSED, OPEN, "1 of 1 requests failed within 60s: connect_error")]


def test_successes_count_in_the_failure_rate(b: Breaker) -> None:
    b.succeed("a", 6)
    b.fail("a", 5)
    assert b.health.state("a") is CLOSED  # 5 of 11
    assert b.health.consecutive_failures("a") == 5
    b.succeed("a")
    assert b.health.consecutive_failures("a") == 0
    b.fail("a")
    assert b.health.state("a") is CLOSED  # 6 of 13
    b.fail("a")
    assert b.health.state("a") is OPEN  # 7 of 14
    assert b.events[-1][3] == "7 of 14 requests failed within 60s: http_500"


def test_the_minimum_counts_successful_requests_too(b: Breaker) -> None:
    b.succeed("a", 2)
    b.fail("a", 2)
    assert b.health.state("a") is CLOSED  # 4 requests: under the minimum
    b.fail("a")
    assert b.health.state("a") is OPEN  # 3 of 5


def test_the_failure_percent_is_a_setting() -> None:
    b = Breaker(failure_percent=100)
    b.succeed("a")
    b.fail("a", 20)
    assert b.health.state("a") is CLOSED
    b.clock.advance(61)
    b.fail("a", 5)
    assert b.health.state("a") is OPEN


def test_failures_older_than_the_window_are_forgotten(b: Breaker) -> None:
    b.fail("a", 4)
    b.clock.advance(61)
    b.fail("a", 4)
    assert b.health.state("a") is CLOSED
    # The window slides slice by slice: 54 s on, the last four are still in it.
    b.clock.advance(54)
    b.fail("a")
    assert b.health.state("a") is OPEN
    assert b.events[-1][3] == "5 of 5 requests failed within 60s: http_500"


def test_the_window_slides_in_slices() -> None:
    b = Breaker(window_s=10.0)
    b.fail("a", 4)
    b.clock.advance(10)  # a whole window later: the slice with the four slid out
    b.fail("a")
    assert b.health.state("a") is CLOSED
    b.clock.advance(9)
    b.fail("a", 3)
    assert b.health.state("a") is CLOSED
    b.fail("a")
    assert b.health.state("a") is OPEN


def test_one_keys_failures_alone_never_open_it(b: Breaker) -> None:
    b.fail("a", 100, key="key_b")
    assert b.health.state("a") is CLOSED
    assert b.health.consecutive_failures("a") == 100
    # Another key's bad luck is judged without key_b's hundred.
    b.fail("a", key="key_a")
    b.succeed("a", 4)
    assert b.health.state("a") is CLOSED
    assert b.events == []


def test_failures_from_several_keys_open_it(b: Breaker) -> None:
    for _ in range(4):
        b.fail("a", key="key_a")
        b.fail("a", key="key_b")
    assert b.health.state("a") is CLOSED  # without key_a's four: 4 requests, under 5
    b.fail("a", key="key_c")
    assert b.health.state("a") is OPEN
    assert b.events == [("a", CLOSED, OPEN, "5 of 5 requests failed within 60s: http_500")]


def test_min_keys_leaves_out_the_keys_with_most_failures() -> None:
    b = Breaker(min_keys=3, min_requests=2)
    b.fail("a", 10, key="key_a")
    b.fail("a", 10, key="key_b")
    assert b.health.state("a") is CLOSED
    b.fail("a", key="key_c")
    b.fail("a", key="key_d")
    assert b.health.state("a") is OPEN


def test_a_min_keys_of_one_counts_every_failure() -> None:
    b = Breaker(min_keys=1)
    b.fail("a", 5, key="key_b")
    assert b.health.state("a") is OPEN


def test_failures_no_request_can_cause_count_whoever_sent_it(b: Breaker) -> None:
    b.fail("a", 50, key="key_b")
    b.fail("a", 5, reason="connect_error")
    # key_b's are left out; the five connection failures are 5 of 5.
    assert b.health.state("a") is OPEN
    assert b.events[-1][3] == "5 of 5 requests failed within 60s: connect_error"


def test_failures_are_counted_per_channel(b: Breaker) -> None:
    for _ in range(4):
        b.fail("a")
        b.fail("b")
    assert b.health.snapshot() == {}
    b.fail("a")
    assert b.health.snapshot() == {"a": OPEN}


def test_cooldown_doubles_with_each_opening_up_to_the_cap() -> None:
    b = Breaker(base_cooldown_s=5.0, max_cooldown_s=60.0)
    b.open("a")
    cooldowns = [b.cooldown("a")]
    for _ in range(5):
        b.health.probe_failed("a", "timeout")
        cooldowns.append(b.cooldown("a"))
    assert cooldowns == [5.0, 10.0, 20.0, 40.0, 60.0, 60.0]


def test_cooldown_stays_at_the_cap_after_very_many_openings() -> None:
    b = Breaker(base_cooldown_s=5.0, max_cooldown_s=300.0)
    b.open("a")
    for _ in range(3000):
        b.health.probe_failed("a", "timeout")
    assert b.cooldown("a") == 300.0


def test_half_open_failure_reopens_at_once_with_a_longer_cooldown(b: Breaker) -> None:
    b.open("a")
    b.clock.advance(5)
    b.health.probe_succeeded("a")
    assert b.health.state("a") is HALF_OPEN
    assert b.health.is_available("a")

    b.fail("a", reason="http_502")
    assert b.health.state("a") is OPEN
    assert not b.health.is_available("a")
    assert b.cooldown("a") == 10.0
    assert b.events[-1] == ("a", HALF_OPEN, OPEN, "failed while half-open: http_502")


def test_half_open_one_keys_failures_do_not_reopen_it(b: Breaker) -> None:
    b.open("a")
    b.clock.advance(5)
    b.health.probe_succeeded("a")
    b.fail("a", 20, key="key_b")
    assert b.health.state("a") is HALF_OPEN
    b.fail("a", key="key_a")
    assert b.health.state("a") is OPEN
    assert b.events[-1] == ("a", HALF_OPEN, OPEN, "failed while half-open: http_500")


def test_retry_after_opens_at_once_for_its_duration(b: Breaker) -> None:
    b.health.record_failure("a", "http_429", retry_after_s=30)
    assert b.health.state("a") is OPEN
    assert b.cooldown("a") == 30.0
    assert b.events == [("a", CLOSED, OPEN, "Retry-After 30s: http_429")]

    b.clock.advance(29.9)
    assert b.health.due_for_probe() == []
    b.clock.advance(0.1)
    assert b.health.due_for_probe() == ["a"]


def test_retry_after_shorter_than_the_step_uses_the_step(b: Breaker) -> None:
    b.health.record_failure("a", "http_503", retry_after_s=1)
    assert b.cooldown("a") == 5.0

    b.clock.advance(5)
    b.health.probe_succeeded("a")
    b.health.record_failure("a", "http_429", retry_after_s=7)
    assert b.cooldown("a") == 10.0  # second opening
    assert b.events[-1] == ("a", HALF_OPEN, OPEN, "Retry-After 7s: http_429")


def test_retry_after_longer_than_the_step_in_half_open(b: Breaker) -> None:
    b.open("a")
    b.clock.advance(5)
    b.health.probe_succeeded("a")
    b.health.record_failure("a", "http_429", retry_after_s=42.5)
    assert b.cooldown("a") == 42.5


def test_retry_after_is_capped(b: Breaker) -> None:
    b.health.record_failure("a", "http_429", retry_after_s=3600)
    assert b.cooldown("a") == 300.0
    b.health.record_failure("b", "http_429", retry_after_s=float("inf"))
    assert b.cooldown("b") == 300.0


def test_unparsable_retry_after_falls_back_to_the_step(b: Breaker) -> None:
    b.health.record_failure("a", "http_429", retry_after_s=float("nan"))
    assert b.cooldown("a") == 5.0


def test_due_for_probe_only_after_the_cooldown(b: Breaker) -> None:
    b.open("a")
    b.clock.advance(2)
    b.open("b")
    assert b.health.due_for_probe() == []

    b.clock.advance(2.9)
    assert b.health.due_for_probe() == []
    b.clock.advance(0.1)
    assert b.health.due_for_probe() == ["a"]
    # A finished cooldown does not make it available; only a probe does.
    assert not b.health.is_available("a")
    assert b.health.state("a") is OPEN

    b.clock.advance(2)
    assert sorted(b.health.due_for_probe()) == ["a", "b"]
    b.health.probe_succeeded("a")
    assert b.health.due_for_probe() == ["b"]


def test_probe_success_then_request_success_closes_and_resets(b: Breaker) -> None:
    b.open("a")
    b.health.probe_failed("a", "timeout")
    assert b.cooldown("a") == 10.0
    b.clock.advance(10)
    b.health.probe_succeeded("a")
    assert b.health.state("a") is HALF_OPEN
    assert b.health.snapshot() == {"a": HALF_OPEN}

    b.health.record_success("a")
    assert b.health.state("a") is CLOSED
    assert b.health.snapshot() == {}
    assert b.events[-1] == ("a", HALF_OPEN, CLOSED, "request ok")

    # The next opening starts from the base cooldown again.
    b.open("a")
    assert b.cooldown("a") == 5.0


def test_probe_failed_lengthens_the_cooldown_from_now(b: Breaker) -> None:
    b.open("a")
    b.clock.advance(7)
    assert b.health.due_for_probe() == ["a"]

    b.health.probe_failed("a", "connect_error")
    assert b.health.state("a") is OPEN
    assert b.events[-1] == ("a", OPEN, OPEN, "probe failed: connect_error")
    assert b.health.due_for_probe() == []
    b.clock.advance(9.9)
    assert b.health.due_for_probe() == []
    b.clock.advance(0.1)
    assert b.health.due_for_probe() == ["a"]


def test_failures_while_open_do_not_extend_it(b: Breaker) -> None:
    b.open("a")
    events = list(b.events)
    b.clock.advance(3)
    b.fail("a", 10)
    b.health.record_failure("a", "http_429", retry_after_s=100)
    assert b.cooldown("a") == 2.0
    assert b.events == events

    # Nor do they count as openings: the next cooldown is the second step.
    b.health.probe_failed("a", "timeout")
    assert b.cooldown("a") == 10.0


def test_success_while_open_does_not_close_it(b: Breaker) -> None:
    b.open("a")
    b.health.record_success("a")
    assert b.health.state("a") is OPEN
    assert not b.health.is_available("a")


def test_probe_results_are_ignored_unless_open(b: Breaker) -> None:
    b.health.probe_succeeded("a")
    b.health.probe_failed("a", "timeout")
    b.fail("b")
    b.health.probe_succeeded("b")
    b.health.probe_failed("b", "timeout")
    assert b.health.state("a") is CLOSED
    assert b.health.state("b") is CLOSED
    assert b.health.snapshot() == {}
    assert "a" not in b.health._entries

    b.open("c")
    b.health.probe_succeeded("c")
    b.health.probe_failed("c", "timeout")
    b.health.probe_succeeded("c")
    assert b.health.state("c") is HALF_OPEN
    assert [event[2] for event in b.events] == [OPEN, HALF_OPEN]


def test_seconds_until_available(b: Breaker) -> None:
    b.open("a")
    b.health.record_failure("b", "http_429", retry_after_s=30)
    b.clock.advance(1.5)
    assert b.health.seconds_until_available(["a", "b"]) == 3.5
    assert b.health.seconds_until_available(["b"]) == 28.5
    assert b.health.seconds_until_available(iter(["b", "a"])) == 3.5
    assert b.health.seconds_until_available(["a", "b", "healthy"]) == 0.0
    assert b.health.seconds_until_available([]) == 0.0

    b.clock.advance(10)
    assert b.health.seconds_until_available(["a", "b"]) == 0.0  # a awaits its probe
    assert b.health.seconds_until_available(["b"]) == 18.5

    b.health.probe_succeeded("a")
    assert b.health.seconds_until_available(["b", "a"]) == 0.0


def test_forget_except(b: Breaker) -> None:
    b.open("open")
    b.open("half")
    b.clock.advance(5)
    b.health.probe_succeeded("half")
    b.fail("failing")
    b.open("kept")
    del b.events[:]

    b.health.forget_except({"kept", "unknown"})
    assert b.health._entries.keys() == {"kept"}
    assert b.health.snapshot() == {"kept": OPEN}
    assert sorted(b.events) == [
        ("half", HALF_OPEN, CLOSED, "channel removed"),
        ("open", OPEN, CLOSED, "channel removed"),
    ]
    assert b.health.is_available("open")

    b.health.forget_except([])
    assert b.health._entries == {}


def test_listener_gets_every_transition_with_its_reason(b: Breaker) -> None:
    b.fail("a", 5, reason="http_500")
    b.clock.advance(5)
    b.health.probe_failed("a", "connect_error")
    b.clock.advance(10)
    b.health.probe_succeeded("a")
    b.fail("a", reason="http_502")
    b.clock.advance(20)
    b.health.probe_succeeded("a")
    b.health.record_success("a")
    b.health.record_failure("a", "http_429", retry_after_s=30)
    b.health.record_success("a")  # ignored while open
    b.clock.advance(30)
    b.health.probe_succeeded("a")
    b.health.record_success("a")
    b.health.record_success("a")  # already closed: nothing to report

    assert b.events == [
        ("a", CLOSED, OPEN, "5 of 5 requests failed within 60s: http_500"),
        ("a", OPEN, OPEN, "probe failed: connect_error"),
        ("a", OPEN, HALF_OPEN, "probe ok"),
        ("a", HALF_OPEN, OPEN, "failed while half-open: http_502"),
        ("a", OPEN, HALF_OPEN, "probe ok"),
        ("a", HALF_OPEN, CLOSED, "request ok"),
        ("a", CLOSED, OPEN, "Retry-After 30s: http_429"),
        ("a", OPEN, HALF_OPEN, "probe ok"),
        ("a", HALF_OPEN, CLOSED, "request ok"),
    ]


def test_listener_sees_the_new_state() -> None:
    seen: list[tuple[ChannelState, bool]] = []
    clock = FakeClock()

    def listener(channel_id: str, old: ChannelState, new: ChannelState, reason: str) -> None:
        seen.append((health.state(channel_id), health.is_available(channel_id)))

    health = ChannelHealth(clock=clock, on_change=listener, min_requests=1)
    health.record_failure("a", "http_500")
    health.probe_succeeded("a")
    health.record_success("a")
    assert seen == [(OPEN, False), (HALF_OPEN, True), (CLOSED, True)]


def test_healthy_traffic_changes_no_state(b: Breaker) -> None:
    for channel_id in ("a", "b", "c"):
        assert b.health.is_available(channel_id)
        b.succeed(channel_id, 100)
    b.fail("a", 2)
    b.fail("b")
    assert b.health.snapshot() == {}
    assert b.events == []
    b.health.forget_except(["a"])
    assert b.health._entries.keys() == {"a"}
    assert b.events == []


def test_works_without_a_listener() -> None:
    clock = FakeClock()
    health = ChannelHealth(clock=clock, min_requests=1)
    health.record_failure("a", "http_500")
    health.probe_failed("a", "timeout")
    clock.advance(10)
    health.probe_succeeded("a")
    health.record_failure("a", "http_500")
    clock.advance(20)
    health.probe_succeeded("a")
    health.record_success("a")
    health.record_failure("b", "http_429", retry_after_s=5)
    health.forget_except([])
    assert health.snapshot() == {}
    assert health.state("a") is CLOSED


def test_the_clock_can_be_swapped(b: Breaker) -> None:
    b.open("a")
    later = FakeClock()
    later.now = b.clock.now + 5
    b.health.clock = later
    assert b.health.due_for_probe() == ["a"]
    assert b.cooldown("a") == 0.0


def test_a_clock_swapped_for_one_behind_starts_a_new_window(b: Breaker) -> None:
    b.fail("a", 4)
    behind = FakeClock()
    behind.now = b.clock.now - 500
    b.health.clock = behind
    b.fail("a")
    assert b.health.state("a") is CLOSED
    b.fail("a", 4)
    assert b.health.state("a") is OPEN


def test_default_clock_is_monotonic() -> None:
    health = ChannelHealth(min_requests=1, base_cooldown_s=60.0)
    health.record_failure("a", "http_500")
    assert 59.0 < health.seconds_until_available(["a"]) <= 60.0
    assert health.due_for_probe() == []


@pytest.mark.parametrize(
    "options",
    [
        {"window_s": 0.0},
        {"window_s": float("nan")},
        {"min_requests": 0},
        {"min_keys": 0},
        {"failure_percent": 0},
        {"failure_percent": 101},
        {"base_cooldown_s": 0.0},
        {"base_cooldown_s": -1.0},
        {"base_cooldown_s": 10.0, "max_cooldown_s": 5.0},
        {"max_cooldown_s": float("nan")},
    ],
)
def test_rejects_nonsensical_settings(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        ChannelHealth(**options)


def test_states_are_plain_strings() -> None:
    assert [str(state) for state in ChannelState] == ["closed", "open", "half_open"]
