"""`GET /metrics`: the GenAI client metrics with the semantic conventions' names, buckets and
labels, the request, cost and limit refusal counters, tenant labels only when enabled,
bounded model labels, and the gateway's vitals. Each test runs a gateway of its own, so
counts are its own requests'."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import openai
import pytest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from aisonar.channels import services as channels
from aisonar.crypto import SecretBox
from aisonar.limits.models import LimitChanges, Subject, SubjectKind
from aisonar.limits.services import set_limits
from aisonar.testing.fake_upstream import FakeUpstream, FakeUpstreamConfig
from aisonar.testing.gateway_server import RunningGateway, running_gateway
from tests.conftest import TEST_SECRET_KEY, UPSTREAM_KEY
from tests.support import Backend, Tenant, make_tenant

# The semantic conventions' ExplicitBucketBoundaries, as the spec writes them.
DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24]
DURATION_BUCKETS += [20.48, 40.96, 81.92]
TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304]
TOKEN_BUCKETS += [16777216, 67108864]

DURATION = "gen_ai_client_operation_duration_seconds"
FIRST_CHUNK = "gen_ai_client_operation_time_to_first_chunk_seconds"
TOKENS = "gen_ai_client_token_usage"
MINI = {
    "gen_ai_operation_name": "chat",
    "gen_ai_provider_name": "openai",
    "gen_ai_request_model": "gpt-4o-mini",
    "gen_ai_response_model": "gpt-4o-mini",
}
MINI_COUNTED = {key: MINI[key] for key in list(MINI)[:3]}
TENANT_LABELS = {"org_id", "user_id", "key_id"}
PROMPT = "Say something about gateways and the metrics they keep for the people who run them."

Families = dict[str, Metric]


@asynccontextmanager
async def own_gateway(backend: Backend, **settings: Any) -> AsyncIterator[RunningGateway]:
    async with running_gateway(backend.settings.model_copy(update=settings)) as gateway:
        yield gateway


def client(gateway: RunningGateway, tenant: Tenant) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=gateway.url + "/v1", api_key=tenant.secret, max_retries=0)


async def scrape(gateway: RunningGateway) -> Families:
    async with (
        aiohttp.ClientSession() as session,
        session.get(gateway.url + "/metrics") as response,
    ):
        assert response.status == 200
        text = await response.text()
    return {family.name: family for family in text_string_to_metric_families(text)}


def value(families: Families, sample: str, **labels: str) -> float:
    """The one sample named `sample` with exactly these labels."""
    found = [
        s.value
        for family in families.values()
        for s in family.samples
        if s.name == sample and s.labels == labels
    ]
    assert len(found) == 1, f"{sample}{labels}: {len(found)} samples"
    return found[0]


def label_sets(families: Families, family: str) -> list[dict[str, str]]:
    return [sample.labels for sample in families[family].samples]


def bucket_bounds(families: Families, family: str, **labels: str) -> list[float]:
    bounds = [
        float(sample.labels["le"])
        for sample in families[family].samples
        if sample.name == family + "_bucket"
        and {k: v for k, v in sample.labels.items() if k != "le"} == labels
    ]
    assert bounds[-1] == float("inf")
    return bounds[:-1]


async def chat(sdk: openai.AsyncOpenAI, model: str = "gpt-4o-mini", prompt: str = PROMPT) -> None:
    await sdk.chat.completions.create(model=model, messages=[{"role": "user", "content": prompt}])


async def stream_chat(sdk: openai.AsyncOpenAI, model: str = "gpt-4o-mini") -> None:
    stream = await sdk.chat.completions.create(
        model=model, messages=[{"role": "user", "content": PROMPT}], stream=True
    )
    async for _ in stream:
        pass


async def test_genai_histograms_and_counters_after_real_requests(backend: Backend) -> None:
    tenant = await make_tenant(backend.engine)
    async with own_gateway(backend) as gateway:
        async with client(gateway, tenant) as sdk:
            await chat(sdk)
            await stream_chat(sdk)
            await sdk.embeddings.create(model="text-embedding-3-small", input="metrics")
            with pytest.raises(openai.InternalServerError):
                await chat(sdk, prompt="[[fault:500]]")
        families = await scrape(gateway)
        assert gateway.app.runtime.services.metrics.export is None

    ok = {**MINI, "error_type": ""}
    failed = {**MINI, "error_type": "server_error"}
    assert value(families, DURATION + "_count", **ok) == 2
    assert value(families, DURATION + "_count", **failed) == 1
    assert bucket_bounds(families, DURATION, **ok) == DURATION_BUCKETS
    assert families[DURATION].type == "histogram"
    # Time to first chunk: the stream alone.
    assert value(families, FIRST_CHUNK + "_count", **MINI) == 1
    assert bucket_bounds(families, FIRST_CHUNK, **MINI) == DURATION_BUCKETS
    # Token usage by type, for the two answers (the failure reported none).
    assert value(families, TOKENS + "_count", **MINI, gen_ai_token_type="input") == 2
    assert value(families, TOKENS + "_count", **MINI, gen_ai_token_type="output") == 2
    assert value(families, TOKENS + "_sum", **MINI, gen_ai_token_type="output") > 0
    assert bucket_bounds(families, TOKENS, **MINI, gen_ai_token_type="input") == TOKEN_BUCKETS
    embeddings = {
        "gen_ai_operation_name": "embeddings",
        "gen_ai_provider_name": "openai",
        "gen_ai_request_model": "text-embedding-3-small",
        "gen_ai_response_model": "text-embedding-3-small",
    }
    assert value(families, TOKENS + "_count", **embeddings, gen_ai_token_type="input") == 1
    embedding_types = {
        labels["gen_ai_token_type"]
        for labels in label_sets(families, TOKENS)
        if labels["gen_ai_operation_name"] == "embeddings"
    }
    assert embedding_types == {"input"}
    # The counters, by status class; the cost in whole currency units.
    assert value(families, "aisonar_requests_total", **MINI_COUNTED, status_class="2xx") == 2
    assert value(families, "aisonar_requests_total", **MINI_COUNTED, status_class="5xx") == 1
    assert 0 < value(families, "aisonar_cost_total", **MINI_COUNTED) < 1
    assert "USD" in families["aisonar_cost"].documentation
    for family in (DURATION, FIRST_CHUNK, TOKENS, "aisonar_requests", "aisonar_cost"):
        assert not any(TENANT_LABELS & set(labels) for labels in label_sets(families, family))


async def test_tenant_labels_only_when_enabled(backend: Backend) -> None:
    tenant = await make_tenant(backend.engine)
    async with own_gateway(backend, metrics_tenant_labels="key, org") as gateway:
        async with client(gateway, tenant) as sdk:
            await chat(sdk)
        families = await scrape(gateway)

    tenant_ids = {"org_id": tenant.org_id, "key_id": tenant.key_id}
    requests = value(
        families, "aisonar_requests_total", **MINI_COUNTED, status_class="2xx", **tenant_ids
    )
    assert requests == 1
    assert value(families, "aisonar_cost_total", **MINI_COUNTED, **tenant_ids) > 0
    # Never the user unless asked, and never on the histograms.
    assert not any("user_id" in labels for labels in label_sets(families, "aisonar_requests"))
    assert not any(TENANT_LABELS & set(labels) for labels in label_sets(families, DURATION))


async def test_an_unknown_model_adds_no_series(backend: Backend) -> None:
    tenant = await make_tenant(backend.engine)
    unknown = [f"no-such-model-{secrets.token_hex(4)}" for _ in range(2)]
    async with own_gateway(backend) as gateway:
        async with client(gateway, tenant) as sdk:
            for model in unknown:
                with pytest.raises(openai.NotFoundError):
                    await chat(sdk, model=model)
        families = await scrape(gateway)

    label_values = {
        label for family in families.values() for s in family.samples for label in s.labels.values()
    }
    assert not label_values & set(unknown)
    # Both in one series.
    other = {
        "gen_ai_operation_name": "chat",
        "gen_ai_provider_name": "",
        "gen_ai_request_model": "_OTHER",
    }
    refused = {**other, "gen_ai_response_model": "", "error_type": "not_found_error"}
    assert value(families, DURATION + "_count", **refused) == 2
    assert value(families, "aisonar_requests_total", **other, status_class="4xx") == 2


async def test_limit_refusals_are_counted_by_error_type(backend: Backend) -> None:
    rate_limited = await make_tenant(backend.engine)
    over_quota = await make_tenant(backend.engine)
    async with backend.engine.begin() as conn:
        await set_limits(conn, Subject(SubjectKind.KEY, rate_limited.key_id), LimitChanges(rpm=1))
        # One micro-unit a day: any priced request may cost more.
        await set_limits(
            conn, Subject(SubjectKind.KEY, over_quota.key_id), LimitChanges(daily_spend=1)
        )
    async with own_gateway(backend) as gateway:
        async with client(gateway, rate_limited) as sdk:
            await chat(sdk)
            for _ in range(2):
                with pytest.raises(openai.RateLimitError):
                    await chat(sdk)
        async with client(gateway, over_quota) as sdk:
            with pytest.raises(openai.RateLimitError):
                await chat(sdk)
        families = await scrape(gateway)

    refusals = "aisonar_limit_refusals_total"
    # Refused before any channel was chosen: no provider yet.
    unrouted = {**MINI_COUNTED, "gen_ai_provider_name": ""}
    assert value(families, refusals, **unrouted, error_type="rate_limit_error") == 2
    assert value(families, refusals, **MINI_COUNTED, error_type="insufficient_quota") == 1
    assert len(families["aisonar_limit_refusals"].samples) == 2  # the admitted one is not


@asynccontextmanager
async def slow_channel(backend: Backend, gateway: RunningGateway) -> AsyncIterator[str]:
    """A model served by a fake that streams one piece a second; its name."""
    model = f"slow-{secrets.token_hex(4)}"
    box = SecretBox(TEST_SECRET_KEY)
    config = FakeUpstreamConfig(api_key=UPSTREAM_KEY, tokens_per_second=1)
    async with FakeUpstream(config, port=0) as slow:
        async with backend.engine.begin() as conn:
            await channels.create_channel(
                conn,
                box,
                name=model,
                provider="openai",
                base_url=slow.url,
                api_key=UPSTREAM_KEY,
                models=f"{model}=gpt-4o-mini",
            )
        try:
            for _ in range(200):
                if model in gateway.app.runtime.services.channels.models():
                    break
                await asyncio.sleep(0.02)
            else:
                raise AssertionError(f"the gateway never loaded {model}")
            yield model
        finally:
            async with backend.engine.begin() as conn:
                await channels.update_channel(conn, box, model, enabled=False)


async def scrape_until(gateway: RunningGateway, sample: str, expected: float) -> Families:
    for _ in range(200):
        families = await scrape(gateway)
        if value(families, sample) == expected:
            return families
        await asyncio.sleep(0.02)
    raise AssertionError(f"{sample} never reached {expected}")


async def test_vitals_move_with_requests_and_the_writer(backend: Backend) -> None:
    tenant = await make_tenant(backend.engine)
    # The writer keeps what it is given (no flush until shutdown) and holds one event.
    settings = {
        "usage_flush_interval_s": 3600.0,
        "usage_queue_size": 1,
        "upstream_total_timeout_s": 60.0,
    }
    async with own_gateway(backend, **settings) as gateway:
        idle = await scrape(gateway)
        assert value(idle, "aisonar_requests_in_flight") == 1  # the scrape itself
        assert value(idle, "aisonar_usage_writer_queue_depth") == 0
        assert value(idle, "aisonar_channel_state", channel="fake") == 0
        async with client(gateway, tenant) as sdk, slow_channel(backend, gateway) as model:
            stream = await sdk.chat.completions.create(
                model=model, messages=[{"role": "user", "content": PROMPT}], stream=True
            )
            async for _ in stream:
                break
            streaming = await scrape(gateway)
            assert value(streaming, "aisonar_requests_in_flight") == 2
            assert value(streaming, "aisonar_channel_state", channel=model) == 0
            await stream.close()
            ended = await scrape_until(gateway, "aisonar_requests_in_flight", 1)
            assert value(ended, "aisonar_usage_writer_queue_depth") == 1
            assert value(ended, "aisonar_usage_writer_events_dropped_total") == 0
            slow_labels = {
                "gen_ai_operation_name": "chat",
                "gen_ai_provider_name": "openai",
                "gen_ai_request_model": model,
                "gen_ai_response_model": "gpt-4o-mini",
            }
            assert value(ended, FIRST_CHUNK + "_count", **slow_labels) == 1
            await chat(sdk)  # the queue is full: this one's event is dropped
        full = await scrape(gateway)
        assert value(full, "aisonar_usage_writer_events_dropped_total") == 1
        assert value(full, "aisonar_usage_writer_events_written_total") == 0


LAG = "aisonar_event_loop_lag_seconds"


async def test_event_loop_lag_shows_a_blocked_loop(backend: Backend) -> None:
    async with own_gateway(backend) as gateway:
        before = await scrape(gateway)
        # The gateway runs on this test's event loop: this is what a blocking call in any
        # request would do to every other one.
        time.sleep(0.3)  # noqa: ASYNC251
        await asyncio.sleep(0.05)
        after = await scrape(gateway)

    def late(families: Families) -> float:
        """Wake-ups later than 250 ms."""
        return value(families, LAG + "_count") - value(families, LAG + "_bucket", le="0.25")

    assert late(before) == 0
    assert late(after) == 1
    assert value(after, LAG + "_count") > value(before, LAG + "_count") + 1
