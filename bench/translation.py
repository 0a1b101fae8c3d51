"""What translation adds: each client format against each provider, through the gateway.

nginx (pinned to core 1) answers with canned replies in each provider's format, as JSON and
as a stream, at its own path per provider and kind: OpenAI chat completions (bench/harness.py's
bodies), an Anthropic Message and its Messages event stream, a Gemini GenerateContentResponse
and its `alt=sse` stream. One gateway worker (core 0, SQLite, auth, metering and billing on)
gets a channel of its own model per (provider, json|sse), provisioned with the CLI. wrk
(core 1) then sends, for each provider and each of stream and not, the canned answer's
request straight to nginx, the pass-through request (client format = provider) and the two
translated ones (client format != provider), all asking for the same answer: a system
prompt, one user message, 64 tokens at most. Translated minus pass-through latency is what
translation adds. Every scenario is checked with one request first: HTTP 200 and the answer
in the client's format, with the canned reply's text.

    python bench/translation.py [--duration 10] [--connections 0]

One connection (sequential) shows latency; `--connections 64` adds throughput rows.
Prints figures; never fails on time. Exit 2 when wrk or nginx is missing, 1 when the setup
or a check failed.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import harness
import wrk

REPLY = "".join(harness.REPLY_WORDS)
SYSTEM = harness.MESSAGES[0]["content"]
PROMPT = harness.MESSAGES[1]["content"]
MAX_TOKENS = 64
PROMPT_TOKENS = 24  # as in harness.USAGE
REPLY_TOKENS = 9
ANTHROPIC_VERSION = "2023-06-01"
ANTHROPIC_MODEL = "claude-3-5-haiku-20241022"
MESSAGE_ID = "msg_01XFDUDYJgAACzvnptvVoYEL"
GEMINI_MODEL = "gemini-2.0-flash"
RESPONSE_ID = "9zzKaPqVD8CJ1MkP0aS1kAc"
CHECK_TIMEOUT_S = 10


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def sse_events(text: str) -> list[tuple[str | None, str]]:
    """(event name, data) of each server-sent event in `text`, comments left out."""
    events: list[tuple[str | None, str]] = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            if line and not line.startswith(":"):
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
        if fields:
            events.append((fields.get("event"), fields.get("data", "")))
    return events


def expect(condition: bool, problem: str) -> None:
    if not condition:
        raise ValueError(problem)


# ---------------------------------------------------------------- wire formats


class Wire(ABC):
    """One wire format: its requests and canned answers, and how to read its answers."""

    name: str

    @abstractmethod
    def path(self, model: str, stream: bool) -> str:
        """The request's path from the API root (no query)."""

    def query(self, stream: bool) -> str:
        return ""

    @abstractmethod
    def body(self, model: str, stream: bool) -> str: ...

    @abstractmethod
    def headers(self, key: str) -> dict[str, str]: ...

    @abstractmethod
    def answer(self, stream: bool) -> str:
        """The canned upstream answer, JSON or a stream."""

    @abstractmethod
    def json_text(self, answer: Any) -> str:
        """The reply's text from a JSON answer; ValueError when not of this format."""

    @abstractmethod
    def stream_text(self, events: list[tuple[str | None, str]]) -> str:
        """The reply's text from a stream's events; ValueError when not of this format."""

    def reply_text(self, answer: str, stream: bool) -> str:
        if stream:
            return self.stream_text(sse_events(answer))
        return self.json_text(json.loads(answer))


class OpenAIWire(Wire):
    name = "openai"

    def path(self, model: str, stream: bool) -> str:
        return "/v1" + harness.CHAT_PATH

    def body(self, model: str, stream: bool) -> str:
        return harness.request_body(model, stream)

    def headers(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    def answer(self, stream: bool) -> str:
        return harness.sse_body() if stream else harness.chat_completion_body()

    def json_text(self, answer: Any) -> str:
        expect(answer.get("object") == "chat.completion", "not a chat.completion")
        text: str = answer["choices"][0]["message"]["content"]
        return text

    def stream_text(self, events: list[tuple[str | None, str]]) -> str:
        expect(events[-1][1] == "[DONE]", "no `data: [DONE]` at the end")
        chunks = [json.loads(data) for _, data in events[:-1]]
        expect(all(c.get("object") == "chat.completion.chunk" for c in chunks), "not chunks")
        return "".join(
            c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]
        )


class AnthropicWire(Wire):
    name = "anthropic"
    usage = {
        "input_tokens": PROMPT_TOKENS,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": REPLY_TOKENS,
        "service_tier": "standard",
    }

    def path(self, model: str, stream: bool) -> str:
        return "/v1/messages"

    def body(self, model: str, stream: bool) -> str:
        user = {"role": "user", "content": PROMPT}
        body = {"model": model, "max_tokens": MAX_TOKENS, "system": SYSTEM, "messages": [user]}
        return json.dumps({**body, "stream": True} if stream else body)

    def headers(self, key: str) -> dict[str, str]:
        return {"x-api-key": key, "anthropic-version": ANTHROPIC_VERSION}

    def message(self, text: str | None, usage: dict[str, Any]) -> dict[str, Any]:
        """A Message; without `text`, as `message_start` opens it."""
        return {
            "id": MESSAGE_ID,
            "type": "message",
            "role": "assistant",
            "model": ANTHROPIC_MODEL,
            "content": [] if text is None else [{"type": "text", "text": text}],
            "stop_reason": None if text is None else "end_turn",
            "stop_sequence": None,
            "usage": usage,
        }

    def answer(self, stream: bool) -> str:
        if not stream:
            return compact(self.message(REPLY, self.usage))
        start = self.message(None, {**self.usage, "output_tokens": 1})
        text = {"type": "text", "text": ""}
        events: list[dict[str, Any]] = [
            {"type": "message_start", "message": start},
            {"type": "content_block_start", "index": 0, "content_block": text},
            {"type": "ping"},
        ]
        events += [
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": w}}
            for w in harness.REPLY_WORDS
        ]
        final_usage = {k: v for k, v in self.usage.items() if k != "service_tier"}
        stop = {"stop_reason": "end_turn", "stop_sequence": None}
        events += [
            {"type": "content_block_stop", "index": 0},
            {"type": "message_delta", "delta": stop, "usage": final_usage},
            {"type": "message_stop"},
        ]
        return "".join(f"event: {e['type']}\ndata: {compact(e)}\n\n" for e in events)

    def json_text(self, answer: Any) -> str:
        expect(answer.get("type") == "message", 'not a `"type":"message"`')
        return "".join(block["text"] for block in answer["content"] if block["type"] == "text")

    def stream_text(self, events: list[tuple[str | None, str]]) -> str:
        data = [json.loads(d) for _, d in events]
        names = [name for name, _ in events]
        expect(names == [d["type"] for d in data], "event names differ from data types")
        expect(data[0]["type"] == "message_start", "no message_start first")
        expect(data[-1]["type"] == "message_stop", "no message_stop last")
        deltas = [d["delta"] for d in data if d["type"] == "content_block_delta"]
        return "".join(delta["text"] for delta in deltas if delta["type"] == "text_delta")


class GeminiWire(Wire):
    name = "gemini"
    prompt_details = [{"modality": "TEXT", "tokenCount": PROMPT_TOKENS}]
    usage = {
        "promptTokenCount": PROMPT_TOKENS,
        "candidatesTokenCount": REPLY_TOKENS,
        "totalTokenCount": PROMPT_TOKENS + REPLY_TOKENS,
        "promptTokensDetails": prompt_details,
        "candidatesTokensDetails": [{"modality": "TEXT", "tokenCount": REPLY_TOKENS}],
    }
    # What every chunk of a stream but the last reports.
    prompt_usage = {
        "promptTokenCount": PROMPT_TOKENS,
        "totalTokenCount": PROMPT_TOKENS,
        "promptTokensDetails": prompt_details,
    }

    def path(self, model: str, stream: bool) -> str:
        method = "streamGenerateContent" if stream else "generateContent"
        return f"/v1beta/models/{model}:{method}"

    def query(self, stream: bool) -> str:
        return "?alt=sse" if stream else ""

    def body(self, model: str, stream: bool) -> str:
        return json.dumps(
            {
                "systemInstruction": {"parts": [{"text": SYSTEM}]},
                "contents": [{"role": "user", "parts": [{"text": PROMPT}]}],
                "generationConfig": {"maxOutputTokens": MAX_TOKENS},
            }
        )

    def headers(self, key: str) -> dict[str, str]:
        return {"x-goog-api-key": key}

    def response(self, text: str, finished: bool, usage: dict[str, Any]) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"}}
        if finished:
            candidate["finishReason"] = "STOP"
        return {
            "candidates": [candidate],
            "usageMetadata": usage,
            "modelVersion": GEMINI_MODEL,
            "responseId": RESPONSE_ID,
        }

    def answer(self, stream: bool) -> str:
        if not stream:
            return compact(self.response(REPLY, True, self.usage))
        *words, last = harness.REPLY_WORDS
        chunks = [self.response(word, False, self.prompt_usage) for word in words]
        chunks.append(self.response(last, True, self.usage))
        return "".join(f"data: {compact(chunk)}\r\n\r\n" for chunk in chunks)

    def json_text(self, answer: Any) -> str:
        expect("candidates" in answer, "no `candidates`")
        candidate = answer["candidates"][0]
        expect(candidate.get("finishReason") == "STOP", "no finishReason STOP")
        return "".join(part.get("text", "") for part in candidate["content"]["parts"])

    def stream_text(self, events: list[tuple[str | None, str]]) -> str:
        chunks = [json.loads(data) for _, data in events]
        expect(all("candidates" in chunk for chunk in chunks), "a chunk without `candidates`")
        expect("usageMetadata" in chunks[-1], "no usageMetadata at the end")
        expect(chunks[-1]["candidates"][0].get("finishReason") == "STOP", "no STOP at the end")
        parts = [part for c in chunks for part in c["candidates"][0]["content"]["parts"]]
        return "".join(part.get("text", "") for part in parts)


WIRES: dict[str, Wire] = {wire.name: wire for wire in (OpenAIWire(), AnthropicWire(), GeminiWire())}


# ---------------------------------------------------------------- upstreams and scenarios


@dataclass(frozen=True)
class Upstream:
    """A provider's canned answer, JSON or a stream, and the channel of its own model."""

    wire: Wire
    stream: bool

    @property
    def kind(self) -> str:
        return "sse" if self.stream else "json"

    @property
    def model(self) -> str:
        return f"bench-{self.wire.name}-{self.kind}"

    @property
    def root(self) -> str:
        """Where on nginx this provider's API root is."""
        return f"/{self.wire.name}-{self.kind}"

    @property
    def path(self) -> str:
        """The path the gateway requests, and nginx answers exactly."""
        return self.root + self.wire.path(self.model, self.stream)

    def channel(self) -> harness.ChannelSpec:
        # An OpenAI base URL ends in /v1; Anthropic's and Gemini's are the API root.
        prefix = self.root + "/v1" if self.wire.name == "openai" else self.root
        return harness.ChannelSpec(self.model, self.wire.name, prefix)

    def canned(self) -> harness.CannedAnswer:
        return harness.CannedAnswer(self.path, self.wire.answer(self.stream), self.stream)


UPSTREAMS = [Upstream(wire, stream) for wire in WIRES.values() for stream in (False, True)]


@dataclass(frozen=True)
class Scenario:
    """`client`'s request for `upstream`'s model, through the gateway, or straight at nginx
    (in the provider's own format) when `client` is None."""

    client: Wire | None
    upstream: Upstream
    connections: int

    @property
    def wire(self) -> Wire:
        return self.client or self.upstream.wire

    @property
    def label(self) -> str:
        return self.client.name if self.client else "nginx"

    @property
    def passthrough(self) -> bool:
        return self.client is self.upstream.wire

    @property
    def name(self) -> str:
        stream = "stream" if self.upstream.stream else "json"
        return f"{self.label}-{self.upstream.wire.name}-{stream}-{self.connections}"

    def url(self, nginx: str, gateway: str) -> str:
        if self.client is None:
            return nginx + self.upstream.path + self.wire.query(self.upstream.stream)
        path = self.client.path(self.upstream.model, self.upstream.stream)
        return gateway + path + self.client.query(self.upstream.stream)

    def body(self) -> str:
        return self.wire.body(self.upstream.model, self.upstream.stream)


def scenarios(connections: list[int]) -> Iterator[Scenario]:
    """Per connection count and upstream: nginx direct, the pass-through, the translations."""
    for count in connections:
        for upstream in UPSTREAMS:
            yield Scenario(None, upstream, count)
            yield Scenario(upstream.wire, upstream, count)
            others = [wire for wire in WIRES.values() if wire is not upstream.wire]
            yield from (Scenario(wire, upstream, count) for wire in others)


# ---------------------------------------------------------------- checks


def post(url: str, body: str, headers: dict[str, str]) -> tuple[int, str, str]:
    """(status, content type, body) of a POST."""
    headers = {**headers, "Content-Type": "application/json"}
    request = urllib.request.Request(url, body.encode(), headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=CHECK_TIMEOUT_S) as response:
            answer: bytes = response.read()
            return response.status, response.headers.get_content_type(), answer.decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get_content_type(), error.read().decode(errors="replace")


def check_answer(scenario: Scenario, status: int, content_type: str, answer: str) -> None:
    """ValueError unless the answer is a 200 with the canned reply in the client's format."""
    expect(status == 200, f"HTTP {status}")
    stream = scenario.upstream.stream
    wanted = "text/event-stream" if stream else "application/json"
    expect(content_type == wanted, f"content type {content_type}, not {wanted}")
    text = scenario.wire.reply_text(answer, stream)
    expect(text == REPLY, f"reply {text!r}, not {REPLY!r}")


def problem(scenario: Scenario, nginx: str, gateway: str, key: str) -> str | None:
    """Why one request of `scenario` was not answered as it should be, or None."""
    url = scenario.url(nginx, gateway)
    status, content_type, answer = post(url, scenario.body(), scenario.wire.headers(key))
    try:
        check_answer(scenario, status, content_type, answer)
    except (ValueError, LookupError, TypeError, AttributeError) as error:
        return f"{type(error).__name__}: {error}; answer: {answer[:300]!r}"
    return None


def check_all(plan: list[Scenario], nginx: str, gateway: str, key: str) -> None:
    """One request per scenario; RuntimeError listing those answered wrongly."""
    problems = []
    for scenario in {(s.client, s.upstream): s for s in plan}.values():
        found = problem(scenario, nginx, gateway, key)
        if found is not None:
            problems.append(f"  {scenario.label} -> {scenario.upstream.model}: {found}")
    if problems:
        raise RuntimeError("wrong answers:\n" + "\n".join(problems))
    print(f"checked: every scenario answers 200 with {REPLY!r} in the client's format")


# ---------------------------------------------------------------- measuring and report


HEADER = (
    f"{'client':<10}{'provider':<10}{'stream':<7}{'conns':>5}{'req/s':>10}"
    f"{'p50/p99 ms':>17}{'translation adds p50/p99 ms':>30}{'req/s':>8}"
)


def measure(
    scenario: Scenario, urls: tuple[str, str], key: str, workdir: Path, seconds: int
) -> wrk.WrkResult:
    script = workdir / f"{scenario.name}.lua"
    script.write_text(wrk.wrk_script(scenario.body(), scenario.wire.headers(key)))
    url = scenario.url(*urls)
    wrk.run_wrk(url, script, scenario.connections, harness.WARMUP_S)
    return wrk.run_wrk(url, script, scenario.connections, seconds)


def adds(scenario: Scenario, result: wrk.WrkResult, passthrough: wrk.WrkResult | None) -> str:
    """Translated minus pass-through: p50/p99 ms, and req/s in percent."""
    if scenario.client is None or passthrough is None:
        return ""
    if scenario.passthrough:
        return f"{'(pass-through)':>30}"
    latency = f"{result.p50_ms - passthrough.p50_ms:+.3f}/{result.p99_ms - passthrough.p99_ms:+.2f}"
    rate = result.requests_per_s / passthrough.requests_per_s - 1
    return f"{latency:>30}{rate:>+8.0%}"


def format_row(scenario: Scenario, result: wrk.WrkResult, added: str) -> str:
    upstream = scenario.upstream
    latency = f"{result.p50_ms:.3f}/{result.p99_ms:.2f}"
    return (
        f"{scenario.label:<10}{upstream.wire.name:<10}{'yes' if upstream.stream else 'no':<7}"
        f"{scenario.connections:>5}{result.requests_per_s:>10,.0f}{latency:>17}{added}"
    )


def run_scenarios(
    plan: list[Scenario], urls: tuple[str, str], key: str, workdir: Path, seconds: int
) -> list[tuple[Scenario, wrk.WrkResult]]:
    """Measures and prints each scenario in turn (each pass-through before its translations)."""
    print(HEADER)
    rows: list[tuple[Scenario, wrk.WrkResult]] = []
    passthrough: wrk.WrkResult | None = None
    for scenario in plan:
        result = measure(scenario, urls, key, workdir, seconds)
        passthrough = result if scenario.passthrough else passthrough
        print(format_row(scenario, result, adds(scenario, result, passthrough)), flush=True)
        rows.append((scenario, result))
    return rows


def print_errors(rows: list[tuple[Scenario, wrk.WrkResult]]) -> None:
    for scenario, result in rows:
        if result.non_2xx or result.socket_errors:
            print(
                f"  {scenario.name}: non-2xx {result.non_2xx}, "
                f"socket errors: {result.socket_errors or 'none'}"
            )


def print_usage(db_path: Path) -> None:
    counts = harness.usage_counts(db_path)
    by_status = ", ".join(f"{status}: {count:,}" for status, count in counts) or "none"
    print(f"usage events recorded by the gateway, by status: {by_status}")


# ---------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=int, default=10, help="Seconds per measurement.")
    parser.add_argument(
        "--connections", type=int, default=0, help="Also run each scenario with this many."
    )
    return parser.parse_args()


def benchmark(args: argparse.Namespace, nginx: str, workdir: Path) -> None:
    print(harness.machine())
    env = harness.aisonar_env(workdir / "data")
    plan = list(scenarios([1, args.connections] if args.connections > 1 else [1]))
    answers = [upstream.canned() for upstream in UPSTREAMS]
    with harness.nginx_upstream(nginx, workdir, answers) as nginx_port:
        key = harness.provision(env, nginx_port, [upstream.channel() for upstream in UPSTREAMS])
        with harness.gateway(env, workdir, None) as (gateway_port, process):
            urls = (f"http://127.0.0.1:{nginx_port}", f"http://127.0.0.1:{gateway_port}")
            check_all(plan, *urls, key)
            print(f"{args.duration} s per run after a {harness.WARMUP_S} s warm-up; ", end="")
            print("gateway on core 0, nginx and wrk -t1 on core 1\n")
            rows = run_scenarios(plan, urls, key, workdir, args.duration)
            harness.stop_process(process)  # graceful: pending usage events flushed
    print_errors(rows)
    print_usage(workdir / "data" / "aisonar.db")


def main() -> int:
    return harness.run_benchmark(parse_args(), benchmark)


if __name__ == "__main__":
    sys.exit(main())
