"""The OpenTelemetry instrumentations of the openai SDK (OpenTelemetry's own, and
OpenLLMetry's), exporting their spans to the gateway's /v1/traces while the app calls every
provider's model through the gateway: each call becomes one usage event read from its span,
with the tokens the answer reported."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import openai
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.openai import OpenAIInstrumentor as OpenLLMetryInstrumentor
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from sqlalchemy import select

from aisonar.store.tables import usage_events
from aisonar.testing.gateway_server import RunningGateway
from tests.compat.cells import compat
from tests.compat.support import ECHO, PROMPT, openai_base
from tests.support import Backend, Tenant, writer_drained

OTEL = "opentelemetry-instrumentation-openai-v2"
OPENLLMETRY = "opentelemetry-instrumentation-openai (OpenLLMetry)"
CLIENTS = (OTEL, OPENLLMETRY)
MESSAGES: Any = [{"role": "user", "content": PROMPT}]
# OpenLLMetry 0.62.4 declares a pydantic model with a class-based config on instrumenting.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Support for class-based `config` is deprecated:DeprecationWarning"
)


@contextmanager
def instrumented(client: str, gateway: RunningGateway, tenant: Tenant) -> Iterator[TracerProvider]:
    exporter = OTLPSpanExporter(
        endpoint=f"{gateway.url}/v1/traces", headers={"Authorization": f"Bearer {tenant.secret}"}
    )
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    instrumentor: Any = (
        OpenAIInstrumentor()  # type: ignore[no-untyped-call]
        if client == OTEL
        else OpenLLMetryInstrumentor()
    )
    instrumentor.instrument(tracer_provider=provider)
    try:
        yield provider
    finally:
        instrumentor.uninstrument()
        provider.shutdown()


async def reported_usage(
    provider: TracerProvider, gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> list[tuple[str, int, int]]:
    # The exporter posts synchronously: from a thread, so the gateway can answer.
    assert await asyncio.to_thread(provider.force_flush)
    await writer_drained(gateway)
    async with backend.engine.connect() as conn:
        rows = await conn.execute(
            select(usage_events).where(
                usage_events.c.org_id == tenant.org_id, usage_events.c.source == "otel"
            )
        )
        return [(row.requested_model, row.input_tokens, row.output_tokens) for row in rows]


@compat("text", *CLIENTS)
async def test_text(
    gateway: RunningGateway,
    backend: Backend,
    tenant: Tenant,
    client: str,
    provider: str,
    model: str,
) -> None:
    with instrumented(client, gateway, tenant) as tracing:
        async with openai.AsyncOpenAI(base_url=openai_base(gateway), api_key=tenant.secret) as api:
            reply = await api.chat.completions.create(model=model, messages=MESSAGES)
        assert reply.choices[0].message.content == ECHO and reply.usage is not None
        usage = await reported_usage(tracing, gateway, backend, tenant)
    assert usage == [(model, reply.usage.prompt_tokens, reply.usage.completion_tokens)]


@compat("stream", *CLIENTS)
async def test_stream(
    gateway: RunningGateway,
    backend: Backend,
    tenant: Tenant,
    client: str,
    provider: str,
    model: str,
) -> None:
    with instrumented(client, gateway, tenant) as tracing:
        async with openai.AsyncOpenAI(base_url=openai_base(gateway), api_key=tenant.secret) as api:
            stream = await api.chat.completions.create(
                model=model,
                messages=MESSAGES,
                stream=True,
                stream_options={"include_usage": True},
            )
            chunks = [chunk async for chunk in stream]
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        final = chunks[-1].usage
        assert text == ECHO and final is not None
        usage = await reported_usage(tracing, gateway, backend, tenant)
    assert usage == [(model, final.prompt_tokens, final.completion_tokens)]
