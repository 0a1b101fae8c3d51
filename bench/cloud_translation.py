"""What the cloud providers add over OpenAI's pass-through: every client format against an
Azure OpenAI deployment, a Bedrock model (the hub to Converse and back, ConverseStream's
binary event stream included) and Gemini on Vertex AI, through the gateway.

nginx (core 1) answers canned replies (bench/translation.py's) at each provider's own
paths: OpenAI's chat completion at Azure's deployment path, a Converse answer and a
ConverseStream event stream (AWS's binary framing, served as a file) at Bedrock's, Gemini's
at Vertex's publisher path, and Google's token endpoint. One gateway worker (core 0,
SQLite, auth, metering and billing on) gets a direct OpenAI channel and one channel per
cloud provider and json|sse: Azure with a key, Bedrock with an access key pair (every
request SigV4-signed, with botocore), Vertex with a service account (a token minted once,
then cached). wrk (one connection, core 1) sends each client format's request (OpenAI,
Anthropic, Gemini) for each channel's model, alternating with the OpenAI pass-through to
the direct channel, `--rounds` times (the machine is shared: the median of the runs).
The cloud p50 minus the pass-through p50 is what the provider adds, translation and
credentials included. Every scenario is checked with one request first.

    python bench/cloud_translation.py [--duration 5] [--rounds 3]

Prints figures; never fails on time. Exit 2 when wrk or nginx is missing, 1 when the setup
or a check failed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import harness
import translation
import vertex

from aisonar.testing.fake_eventstream import event
from aisonar.testing.fake_google_oauth import new_key_file

API_VERSION = "2024-10-21"
REGION = "us-east-1"
AWS_KEYS = {"access_key_id": "AKIABENCHBENCHBENCH0", "secret_access_key": "bench" * 8}
CONVERSE_USAGE = {
    "inputTokens": translation.PROMPT_TOKENS,
    "outputTokens": translation.REPLY_TOKENS,
    "totalTokens": translation.PROMPT_TOKENS + translation.REPLY_TOKENS,
}
HEADER = (
    f"{'client':<10}{'provider':<10}{'stream':<7}{'openai ms':>10}{'cloud ms':>10}{'adds ms':>9}"
)


def converse_answer() -> str:
    message = {"role": "assistant", "content": [{"text": translation.REPLY}]}
    return translation.compact(
        {
            "output": {"message": message},
            "stopReason": "end_turn",
            "usage": CONVERSE_USAGE,
            "metrics": {"latencyMs": 1},
        }
    )


def converse_stream() -> bytes:
    def frame(kind: str, payload: dict[str, object]) -> bytes:
        return event(kind, translation.compact(payload).encode())

    frames = [frame("messageStart", {"role": "assistant"})]
    frames += [
        frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": word}})
        for word in harness.REPLY_WORDS
    ]
    frames += [
        frame("contentBlockStop", {"contentBlockIndex": 0}),
        frame("messageStop", {"stopReason": "end_turn"}),
        frame("metadata", {"usage": CONVERSE_USAGE, "metrics": {"latencyMs": 1}}),
    ]
    return b"".join(frames)


@dataclass(frozen=True)
class CannedFile:
    """A binary answer nginx serves from a file at exactly `path`, to a POST too (its
    static files answer a POST with 405, turned here into the file)."""

    path: str
    file: Path
    content_type: str

    def location(self) -> str:
        lines = [
            f"location = {harness.nginx_string(self.path)} {{",
            f"    default_type {self.content_type};",
            f"    alias {self.file};",
            "    error_page 405 =200 $uri;",
            "}",
        ]
        return "".join(f"        {line}\n" for line in lines)


@dataclass(frozen=True)
class Cloud:
    """A cloud channel of its own model, json or sse, and where nginx answers for it."""

    provider: str
    stream: bool

    @property
    def kind(self) -> str:
        return "sse" if self.stream else "json"

    @property
    def model(self) -> str:
        return f"bench-{self.provider}-{self.kind}"

    @property
    def root(self) -> str:
        return f"/{self.provider}-{self.kind}"

    @property
    def path(self) -> str:
        if self.provider == "azure":
            return f"{self.root}/openai/deployments/{self.model}/chat/completions"
        if self.provider == "bedrock":
            method = "converse-stream" if self.stream else "converse"
            return f"{self.root}/model/{self.model}/{method}"
        method = "streamGenerateContent" if self.stream else "generateContent"
        return (
            f"{self.root}/v1/projects/{vertex.PROJECT}/locations/{vertex.LOCATION}"
            f"/publishers/google/models/{self.model}:{method}"
        )

    def canned(self, workdir: Path) -> harness.CannedAnswer | CannedFile:
        if self.provider == "bedrock" and self.stream:
            file = workdir / "converse-stream.bin"
            file.write_bytes(converse_stream())
            # nginx's workers (nobody, under a root master) read it from the private workdir.
            workdir.chmod(0o755)
            file.chmod(0o644)
            return CannedFile(self.path, file, "application/vnd.amazon.eventstream")
        if self.provider == "bedrock":
            return harness.CannedAnswer(self.path, converse_answer(), sse=False)
        wire = translation.WIRES["openai" if self.provider == "azure" else "gemini"]
        return harness.CannedAnswer(self.path, wire.answer(self.stream), self.stream)

    def create(self, env: dict[str, str], nginx: str, workdir: Path) -> None:
        options = {
            "azure": ["--option", f"api_version={API_VERSION}", "--api-key", "bench-key"],
            "bedrock": ["--option", f"region={REGION}", "--api-key", json.dumps(AWS_KEYS)],
            "vertex": [
                "--option", f"project={vertex.PROJECT}", "--option", f"location={vertex.LOCATION}",
                "--credentials-file", str(workdir / "service-account.json"),
            ],
        }[self.provider]  # fmt: skip
        harness.aisonar(
            env, "channel", "create", self.model, "--provider", self.provider,
            "--base-url", nginx + self.root, *options, "--models", self.model,
        )  # fmt: skip
        harness.aisonar(env, "price", "set", self.model, "--input", "0.15", "--output", "0.60")


CLOUDS = [
    Cloud(provider, stream)
    for provider in ("azure", "bedrock", "vertex")
    for stream in (False, True)
]
DIRECT = [u for u in translation.UPSTREAMS if u.wire.name == "openai"]


def measure(args: argparse.Namespace, nginx_bin: str, workdir: Path) -> None:
    print(harness.machine())
    env = harness.aisonar_env(workdir / "data")
    answers: list[harness.CannedAnswer | CannedFile] = [u.canned() for u in DIRECT]
    answers += [cloud.canned(workdir) for cloud in CLOUDS]
    answers.append(harness.CannedAnswer("/token", json.dumps(vertex.TOKEN), sse=False))
    with harness.nginx_upstream(nginx_bin, workdir, answers) as port:  # type: ignore[arg-type]
        nginx = f"http://127.0.0.1:{port}"
        key = harness.provision(env, port, [u.channel() for u in DIRECT])
        key_file = workdir / "service-account.json"
        key_file.write_text(json.dumps(new_key_file(nginx + "/token", vertex.PROJECT)))
        for cloud in CLOUDS:
            cloud.create(env, nginx, workdir)
        with harness.gateway(env, workdir, None) as (gateway_port, process):
            urls = (nginx, f"http://127.0.0.1:{gateway_port}")
            print(
                f"sequential p50, median of {args.rounds} alternating runs of {args.duration} s"
                f" after a {harness.WARMUP_S} s warm-up each; 'openai ms' is the OpenAI"
                " client's pass-through to the direct OpenAI channel"
            )
            print(HEADER)
            openai = translation.WIRES["openai"]
            for cloud in CLOUDS:
                [direct] = [u for u in DIRECT if u.stream == cloud.stream]
                for client in translation.WIRES.values():
                    own: list[float] = []
                    found: list[float] = []
                    for _ in range(args.rounds):
                        own.append(
                            vertex.p50_ms(
                                openai,
                                direct.model,
                                cloud.stream,
                                urls,
                                key,
                                workdir,
                                args.duration,
                            )
                        )
                        found.append(
                            vertex.p50_ms(
                                client, cloud.model, cloud.stream, urls, key, workdir, args.duration
                            )
                        )
                    own_ms, cloud_ms = statistics.median(own), statistics.median(found)
                    row = (
                        f"{client.name:<10}{cloud.provider:<10}{'yes' if cloud.stream else 'no':<7}"
                    )
                    print(
                        f"{row}{own_ms:>10.3f}{cloud_ms:>10.3f}{cloud_ms - own_ms:>+9.3f}",
                        flush=True,
                    )
            harness.stop_process(process)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=int, default=5, help="Seconds per measurement.")
    parser.add_argument("--rounds", type=int, default=3, help="Alternating runs per pair.")
    return parser.parse_args()


def main() -> int:
    return harness.run_benchmark(parse_args(), measure)


if __name__ == "__main__":
    sys.exit(main())
