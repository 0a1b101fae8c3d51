"""What a Vertex AI channel adds over the provider's own API: Gemini and Claude on Vertex
against Gemini's and Anthropic's own APIs, through the gateway, and the cost of its access
tokens.

nginx (core 1) answers each provider's canned reply (bench/translation.py's) at the
provider's own path and at Vertex's (`.../publishers/{google|anthropic}/models/...`), and
Google's token endpoint with a canned access token. One gateway worker (core 0) gets a
direct channel and a Vertex channel (a service account with a fresh RSA key, so every mint
is really signed) per provider and json|sse. wrk (one connection, core 1) then sends the
same request through each: the client of the provider's format (passed through both ways)
and an OpenAI client (translated), direct and Vertex alternately, `--rounds` times (the
machine is shared: the median of the runs). Vertex minus direct p50 is what Vertex adds: its paths,
Claude's body rewritten (`model` out, `anthropic_version` in) and a cached token per request.
Then, in this process, against the fake upstream's Google OAuth endpoint: what a mint costs
(google-auth's JWT grant, signed with RSA, in a worker thread) and what a cached token costs.

    python bench/vertex.py [--duration 5] [--rounds 3]

Prints figures; never fails on time. Exit 2 when wrk or nginx is missing, 1 when the setup
or a check failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import harness
import translation
import wrk

from aisonar.gateway.wire.vertex.tokens import GoogleTokens
from aisonar.testing.fake_google_oauth import new_key_file
from aisonar.testing.fake_upstream import FakeUpstream

PROJECT, LOCATION = "bench", "us-east5"
TOKEN = {"access_token": "ya29.bench", "expires_in": 3600, "token_type": "Bearer"}
MINTS, CACHED_CALLS = 20, 100_000
HEADER = (
    f"{'client':<10}{'provider':<11}{'stream':<7}{'direct ms':>10}{'vertex ms':>10}{'adds ms':>9}"
)


@dataclass(frozen=True)
class VertexUpstream:
    """A provider's canned answer at Vertex's path, and the Vertex channel of its model."""

    direct: translation.Upstream

    @property
    def wire(self) -> translation.Wire:
        return self.direct.wire

    @property
    def upstream_model(self) -> str:
        # Vertex sends `claude-*` to Anthropic's publisher, the rest to Google's.
        own = self.direct.model
        return "claude-" + own if self.wire.name == "anthropic" else own

    @property
    def model(self) -> str:
        return "vertex-" + self.direct.model

    @property
    def root(self) -> str:
        return "/vertex-" + self.direct.kind

    @property
    def path(self) -> str:
        publisher = "anthropic" if self.wire.name == "anthropic" else "google"
        if self.wire.name == "anthropic":
            method = "streamRawPredict" if self.direct.stream else "rawPredict"
        else:
            method = "streamGenerateContent" if self.direct.stream else "generateContent"
        return (
            f"{self.root}/v1/projects/{PROJECT}/locations/{LOCATION}/publishers/{publisher}"
            f"/models/{self.upstream_model}:{method}"
        )

    def canned(self) -> harness.CannedAnswer:
        return harness.CannedAnswer(
            self.path, self.wire.answer(self.direct.stream), self.direct.stream
        )

    def create(self, env: dict[str, str], nginx: str, key_file: Path) -> None:
        harness.aisonar(
            env, "channel", "create", self.model, "--provider", "vertex",
            "--base-url", nginx + self.root, "--option", f"project={PROJECT}",
            "--option", f"location={LOCATION}", "--credentials-file", str(key_file),
            "--models", f"{self.model}={self.upstream_model}",
        )  # fmt: skip
        harness.aisonar(
            env, "price", "set", self.upstream_model, "--input", "0.15", "--output", "0.60"
        )


DIRECT = [u for u in translation.UPSTREAMS if u.wire.name in ("gemini", "anthropic")]
VERTEX = [VertexUpstream(u) for u in DIRECT]


def p50_ms(
    client: translation.Wire,
    model: str,
    stream: bool,
    urls: tuple[str, str],
    key: str,
    workdir: Path,
    seconds: int,
) -> float:
    gateway = urls[1]
    body = client.body(model, stream)
    script = workdir / f"{client.name}-{model}.lua"
    script.write_text(wrk.wrk_script(body, client.headers(key)))
    url = gateway + client.path(model, stream) + client.query(stream)
    status, _, answer = translation.post(url, body, client.headers(key))
    translation.expect(status == 200, f"{client.name} -> {model}: HTTP {status}: {answer[:300]}")
    text = client.reply_text(answer, stream)
    translation.expect(text == translation.REPLY, f"{client.name} -> {model}: reply {text!r}")
    wrk.run_wrk(url, script, 1, harness.WARMUP_S)
    return wrk.run_wrk(url, script, 1, seconds).p50_ms


def measure_routes(args: argparse.Namespace, nginx_bin: str, workdir: Path) -> None:
    print(harness.machine())
    env = harness.aisonar_env(workdir / "data")
    answers = [u.canned() for u in DIRECT] + [v.canned() for v in VERTEX]
    answers.append(harness.CannedAnswer("/token", json.dumps(TOKEN), sse=False))
    with harness.nginx_upstream(nginx_bin, workdir, answers) as port:
        nginx = f"http://127.0.0.1:{port}"
        key = harness.provision(env, port, [u.channel() for u in DIRECT])
        key_file = workdir / "service-account.json"
        key_file.write_text(json.dumps(new_key_file(nginx + "/token", PROJECT)))
        for vertex in VERTEX:
            vertex.create(env, nginx, key_file)
        with harness.gateway(env, workdir, None) as (gateway_port, process):
            urls = (nginx, f"http://127.0.0.1:{gateway_port}")
            print(
                f"sequential p50, median of {args.rounds} alternating runs of {args.duration} s"
                f" after a {harness.WARMUP_S} s warm-up each"
            )
            print(HEADER)
            for direct, vertex in zip(DIRECT, VERTEX, strict=True):
                for client in (direct.wire, translation.WIRES["openai"]):
                    own: list[float] = []
                    cloud: list[float] = []
                    for _ in range(args.rounds):
                        for model, found in ((direct.model, own), (vertex.model, cloud)):
                            seconds = args.duration
                            found.append(
                                p50_ms(client, model, direct.stream, urls, key, workdir, seconds)
                            )
                    own_ms, cloud_ms = statistics.median(own), statistics.median(cloud)
                    stream = "yes" if direct.stream else "no"
                    row = f"{client.name:<10}{direct.wire.name:<11}{stream:<7}"
                    print(
                        f"{row}{own_ms:>10.3f}{cloud_ms:>10.3f}{cloud_ms - own_ms:>+9.3f}",
                        flush=True,
                    )
            harness.stop_process(process)


async def token_costs() -> None:
    async with FakeUpstream() as fake:
        fake.config.google_token_lifetime_s = 0.0
        tokens = GoogleTokens(fake.google_service_account(PROJECT))
        mints = []
        for _ in range(MINTS):
            started = time.perf_counter()
            await tokens.token()
            mints.append((time.perf_counter() - started) * 1000)
        fake.config.google_token_lifetime_s = 3600.0
        await tokens.token()
        started = time.perf_counter()
        for _ in range(CACHED_CALLS):
            await tokens.token()
        cached_us = (time.perf_counter() - started) / CACHED_CALLS * 1e6
    mint = statistics.median(mints)
    print(
        f"a mint (grant signed with RSA-2048, HTTP round trip on loopback, thread hop): "
        f"median {mint:.1f} ms over {MINTS}"
    )
    print(
        f"a cached token: {cached_us:.2f} us; one mint per 55 min per channel adds "
        f"{mint * 1000 / 3300:.1f} us a request at 1 request/s, "
        f"{mint * 1000 / 330_000:.3f} us at 100"
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=int, default=5, help="Seconds per measurement.")
    parser.add_argument("--rounds", type=int, default=3, help="Alternating runs per pair.")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    asyncio.run(token_costs())
    return harness.run_benchmark(args, measure_routes)


if __name__ == "__main__":
    sys.exit(main())
