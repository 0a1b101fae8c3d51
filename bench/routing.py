"""Routing and resilience: what one failover adds, and 10 channels on a model against 1.

nginx (pinned to core 1) answers bench/harness.py's canned OpenAI replies, JSON and SSE, and
at `/err500/v1/chat/completions` an HTTP 500 with an OpenAI error body. One gateway worker
(core 0, SQLite, auth, metering and billing on; the circuit breaker's threshold set out of
reach, so a failing channel stays in rotation) gets, per kind (json, sse), one model for
each case:

- `bench-one-*`: one healthy channel (the baseline);
- `bench-500-*`: channel A (priority 1) at the HTTP 500 location, B (priority 0) healthy;
- `bench-refused-*`: A (priority 1) at a closed loopback port, B healthy;
- `bench-ten-*`: ten healthy channels of the same priority, weight 1.

Every request of the failover cases fails once on A and is answered by B. Each case is
checked with one request first (HTTP 200 and the canned text); then wrk (core 1) drives
every case sequentially and at `--connections`: per row (connections, json|sse), a warm-up
of each case, then `--rounds` rounds in which every case runs in turn for
duration / rounds seconds (after a 0.3 s pause; each round starting at the next case), so
that the machine's drifts fall on all cases alike (req/s: the rounds' mean; p50 and p99:
their median). Afterwards the gateway is stopped gracefully and the usage events it
recorded are checked: every request completed recorded with status 200, the failover
cases with two attempts each (A's failure, B's "ok"), the others with none, and the ten
channels all used.

    python bench/routing.py [--duration 10] [--rounds 5] [--connections 64]

Prints figures; never fails on time. Exit 2 when wrk or nginx is missing, 1 when the setup
or a check failed.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import harness
import translation
import wrk

ERROR_PREFIX = "/err500/v1"
ERROR_BODY = json.dumps(
    {
        "error": {
            "message": "The server had an error while processing your request. Sorry about that!",
            "type": "server_error",
            "param": None,
            "code": None,
        }
    },
    separators=(",", ":"),
)
# Consecutive failures before the breaker takes a channel out: never, here, so that every
# request of a failover case pays exactly one failover.
NO_BREAKER = "1000000000"
TEN = 10
WARMUP_S = 1
# Between wrk runs: the gateway winds down the requests the last one cut off (without it,
# a short run at 64 connections starts on that and its p99 doubles).
SETTLE_S = 0.3
KINDS = {"json": (False, harness.JSON_PREFIX), "sse": (True, harness.SSE_PREFIX)}
OPENAI = translation.OpenAIWire()
REPLY = translation.REPLY

# Runs CLI commands in one interpreter (each `python -m aisonar` costs over a second to
# start); prints what each printed, as a JSON list.
CLI_BATCH = """\
import io, json, sys
from contextlib import redirect_stdout
from aisonar.cli import main
outputs = []
for args in json.load(sys.stdin):
    with redirect_stdout(io.StringIO()) as out:
        main.main(args, prog_name="aisonar", standalone_mode=False)
    outputs.append(out.getvalue())
json.dump(outputs, sys.stdout)
"""


@dataclass(frozen=True)
class StatusAnswer(harness.CannedAnswer):
    """A canned answer with another status than 200 (an error body, always JSON)."""

    status: int = 500

    def location(self) -> str:
        lines = [
            f"location = {harness.nginx_string(self.path)} {{",
            "    default_type application/json;",
        ]
        lines += [f"    return {self.status} {harness.nginx_string(self.body)};", "}"]
        return "".join(f"        {line}\n" for line in lines)


def answers() -> list[harness.CannedAnswer]:
    """The healthy answers first (nginx_upstream waits for the first one's 200)."""
    error = StatusAnswer(ERROR_PREFIX + harness.CHAT_PATH, ERROR_BODY, sse=False)
    return [*harness.openai_answers(), error]


# ---------------------------------------------------------------- cases and channels


@dataclass(frozen=True)
class Channel:
    name: str
    base_url: str
    models: str
    priority: int = 0

    def command(self) -> list[str]:
        options = ["--provider", "openai", "--base-url", self.base_url, "--api-key", "x"]
        options += ["--models", self.models, "--priority", str(self.priority), "--weight", "1"]
        return ["channel", "create", self.name, *options]


@dataclass(frozen=True)
class Case:
    key: str
    label: str
    # Where channel A is (a failing one, priority 1), or None; how many healthy channels.
    failing: str | None
    healthy: int
    # The outcome recorded for A's attempt.
    fault: str | None = None

    @property
    def failover(self) -> bool:
        return self.failing is not None

    def model(self, kind: str) -> str:
        return f"bench-{self.key}-{kind}"

    def channels(self, kind: str, nginx: str, closed: str) -> list[Channel]:
        model = self.model(kind)
        healthy = nginx + KINDS[kind][1]
        channels = [
            Channel(f"{self.key}-{kind}-ok-{n}", healthy, model) for n in range(1, self.healthy + 1)
        ]
        if self.failing == "http500":
            channels.append(Channel(f"{self.key}-{kind}-a", nginx + ERROR_PREFIX, model, 1))
        elif self.failing == "refused":
            channels.append(Channel(f"{self.key}-{kind}-a", closed + "/v1", model, 1))
        return channels


BASELINE = Case("one", "1 channel", None, 1)
CASES = [
    BASELINE,
    Case("500", "failover: HTTP 500", "http500", 1, "http_500"),
    Case("refused", "failover: refused", "refused", 1, "connect_error"),
    Case("ten", f"{TEN} channels", None, TEN),
]


def cli_batch(env: dict[str, str], commands: list[list[str]]) -> list[str]:
    """Run `aisonar` commands in one process; what each printed."""
    command = [sys.executable, "-c", CLI_BATCH]
    done = subprocess.run(
        command, input=json.dumps(commands), env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"aisonar commands failed:\n{done.stderr.strip()[-2000:]}")
    outputs: list[str] = json.loads(done.stdout)
    return outputs


def provision(env: dict[str, str], nginx_port: int) -> str:
    """A funded organization, a user, the channels and priced models of every case, through
    the CLI; returns the key's secret."""
    email = "bench@example.com"
    commands = [["org", "create", "bench"], ["balance", "recharge", "bench", harness.BENCH_BALANCE]]
    commands.append(["user", "create", email, "--org", "bench"])
    nginx = f"http://127.0.0.1:{nginx_port}"
    closed = f"http://127.0.0.1:{harness.free_port()}"  # nothing listens there
    for case in CASES:
        for kind in KINDS:
            commands += [channel.command() for channel in case.channels(kind, nginx, closed)]
            price = ["--input", "0.15", "--output", "0.60"]
            commands.append(["price", "set", case.model(kind), *price])
    commands.append(["key", "create", email, "--json"])
    secret: str = json.loads(cli_batch(env, commands)[-1])["secret"]
    return secret


# ---------------------------------------------------------------- checks


def problem(gateway: str, key: str, model: str, stream: bool) -> str | None:
    """Why one request for `model` was not answered 200 with the canned text, or None."""
    body = harness.request_body(model, stream)
    status, content_type, answer = translation.post(gateway, body, OPENAI.headers(key))
    wanted = "text/event-stream" if stream else "application/json"
    try:
        translation.expect(status == 200, f"HTTP {status}")
        translation.expect(content_type == wanted, f"content type {content_type}, not {wanted}")
        text = OPENAI.reply_text(answer, stream)
        translation.expect(text == REPLY, f"reply {text!r}, not {REPLY!r}")
    except (ValueError, LookupError, TypeError, AttributeError) as error:
        return f"{type(error).__name__}: {error}; answer: {answer[:300]!r}"
    return None


def check_all(gateway: str, key: str, tallies: dict[str, harness.GatewayTally]) -> None:
    """One request per case and kind; RuntimeError listing those answered wrongly."""
    problems = []
    for case in CASES:
        for kind, (stream, _) in KINDS.items():
            found = problem(gateway, key, case.model(kind), stream)
            tallies.setdefault(case.model(kind), harness.GatewayTally()).requests += 1
            if found is not None:
                problems.append(f"  {case.model(kind)}: {found}")
    if problems:
        raise RuntimeError("wrong answers:\n" + "\n".join(problems))
    print(f"checked: every case answers 200 with {REPLY!r}, JSON and streaming")


@dataclass
class Recorded:
    """The usage events the gateway recorded for one model."""

    statuses: Counter[int] = field(default_factory=Counter)
    # Of the answered (200) events: the outcomes of their attempts ("http_500,ok"), or
    # "none" when the first channel answered, and which channel answered.
    attempts: Counter[str] = field(default_factory=Counter)
    channels: Counter[str] = field(default_factory=Counter)

    @property
    def events(self) -> int:
        return sum(self.statuses.values())


def outcomes(attempts: str | None) -> str:
    if attempts is None:
        return "none"
    listed = json.loads(attempts)
    if not isinstance(listed, list):
        return f"not a JSON list: {attempts[:60]}"
    return ",".join(str(attempt["outcome"]) for attempt in listed)


def recorded(db_path: Path) -> dict[str, Recorded]:
    by_model: dict[str, Recorded] = {}
    query = "SELECT requested_model, status_code, channel_id, attempts FROM usage_events"
    with sqlite3.connect(db_path) as conn:
        for model, status, channel_id, attempts in conn.execute(query):
            entry = by_model.setdefault(str(model), Recorded())
            entry.statuses[int(status)] += 1
            if status == 200:
                entry.attempts[outcomes(attempts)] += 1
                entry.channels[str(channel_id)] += 1
    return by_model


def wrong_events(case: Case, entry: Recorded, tally: harness.GatewayTally) -> list[str]:
    """What is wrong with a model's events. wrk got a 200 for each of its requests; those in
    flight when a run stopped were cut off (499) or finished (200) when it closed them."""
    problems = []
    extra = entry.events - tally.requests
    if not 0 <= extra <= tally.in_flight_bound:
        problems.append(
            f"{extra:+,} events against the requests completed "
            f"(expected 0 to +{tally.in_flight_bound}: those in flight when wrk stopped)"
        )
    if set(entry.statuses) - {200, 499} or entry.statuses[499] > max(extra, 0):
        problems.append(f"statuses {dict(entry.statuses)}")
    wanted = f"{case.fault},ok" if case.failover else "none"
    if set(entry.attempts) != {wanted}:
        problems.append(f"attempts {dict(entry.attempts)}, not all {wanted!r}")
    if len(entry.channels) != case.healthy:
        problems.append(f"answered by {len(entry.channels)} channels, not {case.healthy}")
    return problems


def check_usage(db_path: Path, tallies: dict[str, harness.GatewayTally]) -> None:
    """Prints the usage events per model against the requests completed (wrk's and the
    checks'); RuntimeError when they are not as they should be."""
    by_model = recorded(db_path)
    print(
        f"\n{'model':<20}{'requests':>10}{'events':>8}{'200':>8}{'499':>5}"
        "  attempts of the 200s (outcomes)"
    )
    problems = []
    for case in CASES:
        for kind in KINDS:
            model = case.model(kind)
            entry = by_model.pop(model, Recorded())
            tally = tallies.get(model, harness.GatewayTally())
            shapes = ", ".join(f"{shape}: {n:,}" for shape, n in entry.attempts.most_common())
            print(
                f"{model:<20}{tally.requests:>10,}{entry.events:>8,}{entry.statuses[200]:>8,}"
                f"{entry.statuses[499]:>5,}  {shapes}"
            )
            if case.healthy > 1:
                shares = sorted(entry.channels.values()) or [0]
                print(
                    f"{'':<20}answered by {len(entry.channels)} channels, "
                    f"{shares[0]:,} to {shares[-1]:,} each"
                )
            problems += [f"  {model}: {found}" for found in wrong_events(case, entry, tally)]
    problems += [f"  unexpected model {model}: {e.events} events" for model, e in by_model.items()]
    if problems:
        raise RuntimeError("usage events not as expected:\n" + "\n".join(problems))
    print(
        "checked: every request completed was recorded with status 200, the failovers with "
        "their 2 attempts, the others with none; the few events more than requests (at most "
        "one per connection and run) are those in flight when wrk stopped, finished (200) or "
        "cut off (499)"
    )


# ---------------------------------------------------------------- measuring and report


HEADER = (
    f"{'case':<20}{'stream':<7}{'conns':>5}{'req/s':>9}{'p50/p99 ms':>17}"
    f"{'vs 1 channel: p50/p99 ms':>27}{'req/s':>8}"
)


@dataclass
class Bench:
    workdir: Path
    gateway: str
    key: str
    tallies: dict[str, harness.GatewayTally] = field(default_factory=dict)

    def run(self, case: Case, kind: str, connections: int, seconds: int) -> wrk.WrkResult:
        model = case.model(kind)
        script = self.workdir / f"{model}.lua"
        if not script.exists():
            body = harness.request_body(model, KINDS[kind][0])
            script.write_text(wrk.lua_script(body, self.key))
        time.sleep(SETTLE_S)
        result = wrk.run_wrk(self.gateway, script, connections, seconds)
        self.tallies.setdefault(model, harness.GatewayTally()).add(result, connections)
        return result


def versus(result: wrk.WrkResult, baseline: wrk.WrkResult) -> str:
    latency = f"{result.p50_ms - baseline.p50_ms:+.3f}/{result.p99_ms - baseline.p99_ms:+.2f}"
    rate = result.requests_per_s / baseline.requests_per_s - 1 if baseline.requests_per_s else 0
    return f"{latency:>27}{rate:>+8.0%}"


def format_row(
    case: Case, kind: str, connections: int, result: wrk.WrkResult, baseline: wrk.WrkResult
) -> str:
    latency = f"{result.p50_ms:.3f}/{result.p99_ms:.2f}"
    added = f"{'(baseline)':>27}" if case is BASELINE else versus(result, baseline)
    return (
        f"{case.label:<20}{'yes' if KINDS[kind][0] else 'no':<7}{connections:>5}"
        f"{result.requests_per_s:>9,.0f}{latency:>17}{added}"
    )


Row = tuple[Case, str, int, wrk.WrkResult]


def run_cases(bench: Bench, connections: list[int], rounds: int, seconds: int) -> list[Row]:
    """Per connection count and kind: a warm-up of each case, then `rounds` rounds of every
    case in turn (each round starting at the next case), so that the machine's drifts, and
    whatever a case leaves behind for the next, fall on all of them alike."""
    print(HEADER)
    rows: list[Row] = []
    for count in connections:
        for kind in KINDS:
            for case in CASES:
                bench.run(case, kind, count, WARMUP_S)
            samples: dict[str, list[wrk.WrkResult]] = {case.key: [] for case in CASES}
            for number in range(rounds):
                start = number % len(CASES)  # each round in another order
                for case in CASES[start:] + CASES[:start]:
                    samples[case.key].append(bench.run(case, kind, count, seconds))
            baseline = wrk.combined(samples[BASELINE.key], statistics.fmean)
            for case in CASES:
                result = wrk.combined(samples[case.key], statistics.fmean)
                print(format_row(case, kind, count, result, baseline), flush=True)
                rows.append((case, kind, count, result))
    return rows


def print_errors(rows: list[Row]) -> None:
    for case, kind, count, result in rows:
        if result.non_2xx or result.socket_errors:
            print(
                f"  {case.model(kind)} at {count}: non-2xx {result.non_2xx}, "
                f"socket errors: {result.socket_errors or 'none'}"
            )


# ---------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--duration", type=int, default=10, help="Seconds measured per case and row."
    )
    parser.add_argument(
        "--rounds", type=int, default=5, help="Taken in this many slices, interleaved."
    )
    parser.add_argument(
        "--connections", type=int, default=64, help="Connections of the throughput rows."
    )
    args = parser.parse_args()
    if args.duration < 1 or args.rounds < 1:
        parser.error("--duration and --rounds must be at least 1")
    return args


def benchmark(args: argparse.Namespace, nginx: str, workdir: Path) -> None:
    print(harness.machine())
    env = harness.aisonar_env(workdir / "data")
    env["AISONAR_CHANNEL_BREAKER_MIN_REQUESTS"] = NO_BREAKER
    connections = [1, args.connections] if args.connections > 1 else [1]
    with harness.nginx_upstream(nginx, workdir, answers()) as nginx_port:
        key = provision(env, nginx_port)
        with harness.gateway(env, workdir, None) as (gateway_port, process):
            gateway = f"http://127.0.0.1:{gateway_port}/v1{harness.CHAT_PATH}"
            bench = Bench(workdir, gateway, key)
            check_all(gateway, key, bench.tallies)
            seconds = max(1, args.duration // args.rounds)
            print(
                f"per case and row: {args.rounds} rounds of {seconds} s, interleaved, after ",
                end="",
            )
            print(f"a {WARMUP_S} s warm-up; gateway on core 0, nginx and wrk -t1 on core 1")
            print("req/s: mean of the rounds; p50, p99: median of the rounds'\n")
            rows = run_cases(bench, connections, args.rounds, seconds)
            harness.stop_process(process)  # graceful: pending usage events flushed
    print_errors(rows)
    check_usage(workdir / "data" / "aisonar.db", bench.tallies)


def main() -> int:
    return harness.run_benchmark(parse_args(), benchmark)


if __name__ == "__main__":
    sys.exit(main())
