"""The channel circuit breaker, driven by a hand-moved clock."""

from __future__ import annotations

from typing import Any

import pytest

from aisonar.gateway.health import ChannelHealth, ChannelState

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

    def fail(self, channel_id: str, times: int = 1, reason: str = "http_500") -> None:
        for _ in range(times):
            self.health.record_failure(channel_id, reason)

    def open(self, channel_id: str) -> None:
        """Open a healthy channel by the default threshold of three failures."""
        self.fail(channel_id, 3)
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


def test_opens_at_failure_threshold(b: Breaker) -> None:
    b.fail("a", 2)
    assert b.health.state("a") is CLOSED
    assert b.health.is_available("a")
    assert b.events == []

    b.fail("a")
    assert b.health.state("a") is OPEN
    assert not b.health.is_available("a")
    assert b.health.snapshot() == {"a": OPEN}
    assert b.events == [("a", CLOSED, OPEN, "3 consecutive failures: http_500")]
    assert b.cooldown("a") == 5.0


def test_threshold_of_one_opens_on_first_failure() -> None:
    b = Breaker(failure_threshold=1)
    b.fail("a", reason="connect_error")
    assert b.health.state("a") is OPEN
    assert b.events == [("a", CLOSED, OPEN, "1 consecutive failure: connect_error")]


def test_success_resets_the_failure_count(b: Breaker) -> None:
    b.fail("a", 2)
    b.health.record_success("a")
    assert b.health._entries == {}

    b.fail("a", 2)
    assert b.health.state("a") is CLOSED
    b.fail("a")
    assert b.health.state("a") is OPEN


def test_failures_are_counted_per_channel(b: Breaker) -> None:
    for _ in range(2):
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
    assert b.health._entries == {}
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
    b.fail("a", 3, reason="http_500")
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
        ("a", CLOSED, OPEN, "3 consecutive failures: http_500"),
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

    health = ChannelHealth(clock=clock, on_change=listener, failure_threshold=1)
    health.record_failure("a", "http_500")
    health.probe_succeeded("a")
    health.record_success("a")
    assert seen == [(OPEN, False), (HALF_OPEN, True), (CLOSED, True)]


def test_healthy_channels_leave_no_state(b: Breaker) -> None:
    for channel_id in ("a", "b", "c"):
        assert b.health.is_available(channel_id)
        b.health.record_success(channel_id)
        b.health.state(channel_id)
    b.health.seconds_until_available(["a", "b"])
    b.health.forget_except(["a"])
    assert b.health._entries == {}

    b.fail("a", 2)
    b.fail("b")
    assert b.health._entries.keys() == {"a", "b"}
    assert b.health.snapshot() == {}
    b.health.record_success("a")
    b.health.record_success("b")
    assert b.health._entries == {}
    assert b.health.snapshot() == {}
    assert b.events == []


def test_works_without_a_listener() -> None:
    clock = FakeClock()
    health = ChannelHealth(clock=clock, failure_threshold=1)
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


def test_default_clock_is_monotonic() -> None:
    health = ChannelHealth(failure_threshold=1, base_cooldown_s=60.0)
    health.record_failure("a", "http_500")
    assert 59.0 < health.seconds_until_available(["a"]) <= 60.0
    assert health.due_for_probe() == []


@pytest.mark.parametrize(
    "options",
    [
        {"failure_threshold": 0},
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
