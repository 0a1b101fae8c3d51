"""What the gateway benchmarks share: a canned upstream (nginx on core 1 answering
`/json/v1/chat/completions` with a chat.completion and `/sse/v1/chat/completions` with an
OpenAI SSE stream, for any method), the gateway process (one `aisonar serve` worker on
core 0, or bench/bare_proxy.py, the floor), provisioning through the CLI, the scenarios,
and the usage events a run recorded."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import wrk

GATEWAY_CORE = "0"
WARMUP_S = 2
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
JSON_PREFIX = "/json/v1"
SSE_PREFIX = "/sse/v1"
CHAT_PATH = "/chat/completions"
MODEL_JSON = "bench-json"
MODEL_SSE = "bench-sse"
BENCH_BALANCE = "1000000"
UPSTREAM_MODEL = "gpt-4o-mini-2024-07-18"
COMPLETION_ID = "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG"
FINGERPRINT = "fp_06737a9306"
REPLY_WORDS = ("Hello", "! How", " can I", " help you", " today?")
USAGE = {
    "prompt_tokens": 24,
    "completion_tokens": 9,
    "total_tokens": 33,
    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
    "completion_tokens_details": {
        "reasoning_tokens": 0,
        "audio_tokens": 0,
        "accepted_prediction_tokens": 0,
        "rejected_prediction_tokens": 0,
    },
}
MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Say hello in one short sentence."},
]


# ---------------------------------------------------------------- canned upstream


def chat_completion_body() -> str:
    """A realistic non-streaming OpenAI reply (about 620 bytes of compact JSON)."""
    reply = {
        "id": COMPLETION_ID,
        "object": "chat.completion",
        "created": 1741570283,
        "model": UPSTREAM_MODEL,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "".join(REPLY_WORDS),
                    "refusal": None,
                    "annotations": [],
                },
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": USAGE,
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
    }
    return json.dumps(reply, separators=(",", ":"))


def _chunk(choices: list[dict[str, Any]], usage: dict[str, Any] | None) -> str:
    chunk = {
        "id": COMPLETION_ID,
        "object": "chat.completion.chunk",
        "created": 1741570283,
        "model": UPSTREAM_MODEL,
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
        "choices": choices,
        "usage": usage,
    }
    return "data: " + json.dumps(chunk, separators=(",", ":")) + "\n\n"


def _delta(delta: dict[str, Any], finish_reason: str | None = None) -> list[dict[str, Any]]:
    return [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]


def sse_body() -> str:
    """A realistic OpenAI stream with include_usage: role, content, finish, usage, [DONE]."""
    events = [_chunk(_delta({"role": "assistant", "content": "", "refusal": None}), None)]
    events += [_chunk(_delta({"content": word}), None) for word in REPLY_WORDS]
    events.append(_chunk(_delta({}, "stop"), None))
    events.append(_chunk([], USAGE))
    events.append("data: [DONE]\n\n")
    return "".join(events)


def nginx_string(text: str) -> str:
    """`text` as a single-quoted nginx string (nginx turns `\\n` and `\\r` back)."""
    if "$" in text:
        raise ValueError("nginx would expand `$` in a return string")
    escaped = text.replace("\\", "\\\\").replace("'", "\\'")
    escaped = escaped.replace("\n", "\\n").replace("\r", "\\r")
    return f"'{escaped}'"


@dataclass(frozen=True)
class CannedAnswer:
    """What nginx answers at exactly `path`, for any method: `body` as JSON or as SSE."""

    path: str
    body: str
    sse: bool

    def location(self) -> str:
        """The nginx `location` block that serves it."""
        kind = "text/event-stream" if self.sse else "application/json"
        lines = [f"location = {nginx_string(self.path)} {{", f"    default_type {kind};"]
        if self.sse:
            lines.append("    add_header Cache-Control no-cache;")
        lines += [f"    return 200 {nginx_string(self.body)};", "}"]
        return "".join(f"        {line}\n" for line in lines)


def openai_answers() -> tuple[CannedAnswer, ...]:
    return (
        CannedAnswer(JSON_PREFIX + CHAT_PATH, chat_completion_body(), sse=False),
        CannedAnswer(SSE_PREFIX + CHAT_PATH, sse_body(), sse=True),
    )


def nginx_conf(port: int, answers: Sequence[CannedAnswer]) -> str:
    return f"""\
worker_processes 1;
daemon off;
pid nginx.pid;
error_log error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    client_body_temp_path tmp/body;
    proxy_temp_path tmp/proxy;
    fastcgi_temp_path tmp/fastcgi;
    uwsgi_temp_path tmp/uwsgi;
    scgi_temp_path tmp/scgi;
    server {{
        listen 127.0.0.1:{port};
{"".join(answer.location() for answer in answers)}\
    }}
}}
"""


# ---------------------------------------------------------------- processes


def find_tool(name: str) -> str | None:
    """`name` on PATH (or in /usr/sbin, where Debian puts nginx, for non-root users)."""
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def wait_until_ok(url: str, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        if http_status(url) == 200:
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not answer 200 at {url} within {START_TIMEOUT_S:.0f} s")


def stop_process(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> int | None:
    """Signal `process`, wait for it, kill it if it will not go; returns its exit code."""
    if process.poll() is None:
        with suppress(ProcessLookupError):
            process.send_signal(sig)
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


@contextmanager
def running(
    command: list[str], log_path: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `command` (its own session, so Ctrl+C reaches only us) and always stop it."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        try:
            yield process
        finally:
            stop_process(process)


@contextmanager
def nginx_upstream(
    nginx: str, workdir: Path, answers: Sequence[CannedAnswer] = openai_answers()
) -> Iterator[int]:
    """A canned upstream (OpenAI's by default) on a free loopback port; yields the port."""
    prefix = workdir / "nginx"
    (prefix / "tmp").mkdir(parents=True)
    port = free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(nginx_conf(port, answers))
    command = ["taskset", "-c", wrk.LOAD_CORE, nginx, "-p", f"{prefix}/", "-c", str(conf)]
    command += ["-e", str(prefix / "error.log")]
    with running(command, prefix / "stdout.log") as process:
        wait_until_ok(f"http://127.0.0.1:{port}{answers[0].path}", process, "nginx")
        yield port


def aisonar_env(data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "AISONAR_DATA_DIR": str(data_dir),
        "AISONAR_SECRET_KEY": secrets.token_urlsafe(36),
        "AISONAR_LOG_LEVEL": "warning",
    }


def aisonar(env: dict[str, str], *args: str) -> str:
    command = [sys.executable, "-m", "aisonar", *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"aisonar {' '.join(args)} failed:\n{done.stderr.strip()}")
    return done.stdout


@dataclass(frozen=True)
class ChannelSpec:
    """A channel of its own model, at `prefix` on the nginx upstream."""

    model: str
    provider: str
    prefix: str


OPENAI_CHANNELS = (
    ChannelSpec(MODEL_JSON, "openai", JSON_PREFIX),
    ChannelSpec(MODEL_SSE, "openai", SSE_PREFIX),
)


def provision(
    env: dict[str, str], nginx_port: int, channels: Sequence[ChannelSpec] = OPENAI_CHANNELS
) -> str:
    """An organization with a large balance, a user, a key and the channels (by default
    the two OpenAI ones), their models priced as gpt-4o-mini is; returns the key's secret."""
    email = "bench@example.com"
    aisonar(env, "org", "create", "bench")
    aisonar(env, "balance", "recharge", "bench", BENCH_BALANCE)
    aisonar(env, "user", "create", email, "--org", "bench")
    upstream = f"http://127.0.0.1:{nginx_port}"
    for spec in channels:
        options = ["--provider", spec.provider, "--base-url", upstream + spec.prefix]
        options += ["--api-key", "x", "--models", spec.model]
        aisonar(env, "channel", "create", spec.model, *options)
        aisonar(env, "price", "set", spec.model, "--input", "0.15", "--output", "0.60")
    secret: str = json.loads(aisonar(env, "key", "create", email, "--json"))["secret"]
    return secret


@contextmanager
def gateway(
    env: dict[str, str], workdir: Path, bare_upstream: str | None
) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """`aisonar serve` (or, with `bare_upstream`, bench/bare_proxy.py) on core 0 and a
    free port; yields the port and the process."""
    port = free_port()
    command = ["taskset", "-c", GATEWAY_CORE, sys.executable]
    if bare_upstream:
        command += [str(Path(__file__).with_name("bare_proxy.py")), str(port), bare_upstream]
    else:
        command += ["-m", "aisonar", "serve", "--port", str(port)]
    with running(command, workdir / "gateway.log", env) as process:
        wait_until_ok(f"http://127.0.0.1:{port}/healthz", process, "the gateway")
        yield port, process


def rss_mib(pid: int) -> float | None:
    """VmRSS of `pid` in MiB (taskset execs its command, so the PID is the gateway's)."""
    with suppress(OSError), open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return None


# ---------------------------------------------------------------- wrk


@dataclass(frozen=True)
class Scenario:
    name: str
    stream: bool
    connections: int

    @property
    def sequential(self) -> bool:
        return self.connections == 1


def request_body(model: str, stream: bool) -> str:
    body: dict[str, Any] = {"model": model, "messages": MESSAGES, "max_tokens": 64}
    if stream:
        body["stream"] = True
    return json.dumps(body)


@dataclass
class GatewayTally:
    """What wrk saw through the gateway, to check against the usage events recorded."""

    requests: int = 0
    non_2xx: int = 0
    # When a wrk run stops, each connection may have one request in flight: the gateway
    # finishes and meters it, but wrk does not count it.
    in_flight_bound: int = 0

    def add(self, result: wrk.WrkResult, connections: int) -> None:
        self.requests += result.requests
        self.non_2xx += result.non_2xx
        self.in_flight_bound += connections


def scenarios(connections: int) -> list[Scenario]:
    return [
        Scenario("non-streaming", stream=False, connections=connections),
        Scenario("streaming", stream=True, connections=connections),
        Scenario("sequential non-streaming", stream=False, connections=1),
        Scenario("sequential streaming", stream=True, connections=1),
    ]


# ---------------------------------------------------------------- report


def usage_counts(db_path: Path) -> list[tuple[int, int]]:
    """(status_code, events) recorded by the gateway."""
    with sqlite3.connect(db_path) as conn:
        query = "SELECT status_code, COUNT(*) FROM usage_events GROUP BY status_code ORDER BY 1"
        return [(int(status), int(count)) for status, count in conn.execute(query)]


def print_usage(db_path: Path, tally: GatewayTally, exit_code: int | None) -> None:
    counts = usage_counts(db_path)
    recorded = sum(count for _, count in counts)
    by_status = ", ".join(f"{status}: {count:,}" for status, count in counts) or "none"
    note = " (uvicorn re-raises SIGTERM after a graceful shutdown)" if exit_code == -15 else ""
    print(f"gateway exit code after SIGTERM: {exit_code}{note}")
    print(f"usage events recorded:   {recorded:,} (by status {by_status})")
    print(
        f"wrk requests via gateway: {tally.requests:,} (warm-ups included), "
        f"non-2xx: {tally.non_2xx:,}"
    )
    print(
        f"difference: {recorded - tally.requests:+,} "
        f"(expected 0 to +{tally.in_flight_bound}: requests in flight when wrk stopped)"
    )


def machine() -> str:
    return f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, {os.uname().release}"


# ---------------------------------------------------------------- main


def missing_tools() -> list[str]:
    return [tool for tool in ("wrk", "nginx", "taskset") if find_tool(tool) is None]


Benchmark = Callable[[argparse.Namespace, str, Path], None]


def run_benchmark(args: argparse.Namespace, benchmark: Benchmark) -> int:
    """Check the tools, then run `benchmark(args, nginx, workdir)` in a work directory."""
    missing = missing_tools()
    if missing:
        hint = " (taskset is in util-linux)" if "taskset" in missing else ""
        print(f"missing {', '.join(missing)}; install with: apt-get install wrk nginx{hint}")
        return 2
    nginx = find_tool("nginx")
    assert nginx is not None
    return run_in_workdir(lambda workdir: benchmark(args, nginx, workdir))


def run_in_workdir(work: Callable[[Path], None]) -> int:
    """Run `work` in a temporary directory; the exit code, with its logs if setup failed."""
    with tempfile.TemporaryDirectory(prefix="aisonar-bench-") as tmp:
        try:
            work(Path(tmp))
        except KeyboardInterrupt:
            print("\ninterrupted", file=sys.stderr)
            return 130
        except RuntimeError as error:
            print(f"benchmark could not run: {error}", file=sys.stderr)
            for log in sorted(Path(tmp).rglob("*.log")):
                print(f"--- {log.name}\n{log.read_text(errors='replace')[-2000:]}", file=sys.stderr)
            return 1
    return 0
