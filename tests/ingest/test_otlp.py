"""`POST /v1/traces`: an application instrumented with OpenTelemetry's GenAI
instrumentation of the `openai` SDK calls the provider itself and exports its spans to
the gateway with the real OTLP exporter; the gateway turns the model calls into usage
events and keeps no content, even when the spans carry it."""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

import aiohttp
import openai
import pytest
from google.rpc.status_pb2 import Status
from openai.types.chat import ChatCompletionMessageParam
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from sqlalchemy import select

from aisonar.ingest.reported import reported_event_id
from aisonar.store.tables import usage_events
from aisonar.testing.fake_upstream import FakeUpstream
from aisonar.testing.gateway_server import RunningGateway
from tests.conftest import UPSTREAM_KEY
from tests.support import Backend, Tenant, usage_count, wait_for_usage, writer_drained
from tests.test_no_content_stored import database_text

CONVENTIONS = {
    # The instrumentation's default: semantic conventions 1.30 (`gen_ai.system`), content
    # as log events.
    "stable": {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true"},
    # The latest conventions (`gen_ai.provider.name`), content as span attributes.
    "latest": {
        "OTEL_SEMCONV_STABILITY_OPT_IN": "gen_ai_latest_experimental",
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "span_only",
    },
}


@pytest.fixture(params=sorted(CONVENTIONS))
def conventions(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    for name, value in CONVENTIONS[request.param].items():
        monkeypatch.setenv(name, value)
    return str(request.param)


class InstrumentedApp:
    """The application's side: OpenTelemetry's SDK with the OTLP/HTTP exporter pointed at
    the gateway, and the openai SDK instrumented."""

    def __init__(self, gateway_url: str, secret: str, compression: Compression) -> None:
        exporter = OTLPSpanExporter(
            endpoint=f"{gateway_url}/v1/traces",
            headers={"Authorization": f"Bearer {secret}"},
            compression=compression,
        )
        self.provider = TracerProvider(resource=Resource({"service.name": "support-bot"}))
        self.provider.add_span_processor(BatchSpanProcessor(exporter))

    def __enter__(self) -> InstrumentedApp:
        OpenAIInstrumentor().instrument(tracer_provider=self.provider)  # type: ignore[no-untyped-call]
        return self

    def __exit__(self, *exc: object) -> None:
        OpenAIInstrumentor().uninstrument()  # type: ignore[no-untyped-call]
        self.provider.shutdown()

    async def export(self) -> None:
        # The exporter posts synchronously: from a thread, so the gateway can answer.
        assert await asyncio.to_thread(self.provider.force_flush)


async def test_spans_of_an_instrumented_openai_app_become_usage_without_content(
    gateway: RunningGateway,
    backend: Backend,
    tenant: Tenant,
    fake_upstream: FakeUpstream,
    conventions: str,
) -> None:
    marker = "MARKER" + secrets.token_hex(12)
    prompt: list[ChatCompletionMessageParam] = [{"role": "user", "content": f"say {marker}"}]
    compression = Compression.Gzip if conventions == "latest" else Compression.NoCompression
    with InstrumentedApp(gateway.url, tenant.secret, compression) as app:
        async with openai.AsyncOpenAI(base_url=fake_upstream.url, api_key=UPSTREAM_KEY) as client:
            reply = await client.chat.completions.create(model="gpt-4o-mini", messages=prompt)
            stream = await client.chat.completions.create(
                model="gpt-4o-mini",
                messages=prompt,
                stream=True,
                stream_options={"include_usage": True},
            )
            chunks = [chunk async for chunk in stream]
        await app.export()
    assert reply.usage is not None and chunks[-1].usage is not None
    await wait_for_usage(backend.engine, tenant.org_id, 2)
    async with backend.engine.connect() as conn:
        rows = list(
            await conn.execute(
                select(usage_events)
                .where(usage_events.c.org_id == tenant.org_id)
                .order_by(usage_events.c.stream)
            )
        )
    for row, usage in zip(rows, (reply.usage, chunks[-1].usage), strict=True):
        assert (row.source, row.provider, row.requested_model) == ("otel", "openai", "gpt-4o-mini")
        assert (row.input_tokens, row.output_tokens) == (
            usage.prompt_tokens,
            usage.completion_tokens,
        )
        assert row.cost > 0 and row.status_code == 200 and row.endpoint == "chat"
        assert row.properties == {"service.name": "support-bot"}
        trace_id, span_id = row.external_id.split("-")
        assert row.id == reported_event_id(tenant.org_id, row.external_id)
        assert len(trace_id) == 32 and len(span_id) == 16
    # The content the spans (or their events) carried was read by no one.
    assert marker.encode() not in await database_text(backend)


def span(name: str, attributes: dict[str, Any], *, trace: str = "", error: bool = False) -> Any:
    start = time.time_ns() - 3_600 * 10**9
    return {
        "traceId": trace or secrets.token_hex(16),
        "spanId": secrets.token_hex(8),
        "name": name,
        "kind": 3,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + 1_250_000_000),
        "attributes": [{"key": k, "value": value(v)} for k, v in attributes.items()],
        "status": {"code": 2 if error else 1},
    }


def value(v: Any) -> dict[str, Any]:
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, float):
        return {"doubleValue": v}
    return {"stringValue": v}


def export(*spans: Any) -> dict[str, Any]:
    return {"resourceSpans": [{"resource": {}, "scopeSpans": [{"spans": list(spans)}]}]}


CHAT = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "anthropic",
    "gen_ai.request.model": "claude-haiku-4-5",
    "gen_ai.response.model": "claude-haiku-4-5-20251001",
    "gen_ai.usage.input_tokens": 1000,
    "gen_ai.usage.cache_read.input_tokens": 400,
    "gen_ai.usage.output_tokens": 50,
    "gen_ai.response.time_to_first_chunk": 0.3,
    "gen_ai.input.messages": '[{"role": "user", "parts": [{"content": "secret"}]}]',
    "user.id": "customer-9",
    "session.id": "conversation-5",
}


async def post_json(url: str, secret: str, body: Any) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{url}/v1/traces", json=body, headers={"Authorization": f"Bearer {secret}"}
        ) as response,
    ):
        assert response.content_type == "application/json"
        return response.status, await response.json()


async def test_otlp_json_keeps_model_calls_and_reports_unreadable_spans(
    gateway: RunningGateway, backend: Backend, tenant: Tenant
) -> None:
    chat = span("chat claude", CHAT)
    failed = span("chat", CHAT | {"error.type": "timeout"}, error=True)
    no_model = span("chat", {"gen_ai.operation.name": "chat", "gen_ai.system": "openai"})
    tool = span("execute_tool", CHAT | {"gen_ai.operation.name": "execute_tool"})
    http = span("GET /", {"http.request.method": "GET"})
    body = export(chat, failed, no_model, tool, http)

    status, answer = await post_json(gateway.url, tenant.secret, body)
    assert status == 200
    # Every span not used is counted, with why: the one missing its model, the tool span
    # (its model call is a span of its own), and the span of no GenAI operation.
    assert answer["partialSuccess"]["rejectedSpans"] == "3"
    reasons = answer["partialSuccess"]["errorMessage"]
    assert "no gen_ai.request.model" in reasons
    assert "execute_tool is not a model call" in reasons
    assert "no gen_ai.operation.name" in reasons
    await wait_for_usage(backend.engine, tenant.org_id, 2)
    # Exported again (an exporter's retry): still two.
    assert (await post_json(gateway.url, tenant.secret, body))[0] == 200
    await writer_drained(gateway)
    assert await usage_count(backend.engine, tenant.org_id) == 2
    async with backend.engine.connect() as conn:
        rows = {
            row.status_code: row
            for row in await conn.execute(
                select(usage_events).where(usage_events.c.org_id == tenant.org_id)
            )
        }
    ok, error = rows[200], rows[500]
    assert ok.external_id == f"{chat['traceId']}-{chat['spanId']}"
    assert (ok.provider, ok.requested_model) == ("anthropic", "claude-haiku-4-5")
    assert ok.upstream_model == "claude-haiku-4-5-20251001"
    assert (ok.input_tokens, ok.cached_input_tokens, ok.output_tokens) == (1000, 400, 50)
    assert (ok.latency_ms, ok.ttft_ms, ok.stream, ok.end_user) == (1250, 300, True, "customer-9")
    assert ok.session_id == "conversation-5"
    assert ok.cost > 0 and ok.properties is None
    assert (error.error_type, error.source) == ("timeout", "otel")


OPENLLMETRY = {
    "llm.request.type": "chat",
    "gen_ai.system": "OpenAI",
    "gen_ai.request.model": "gpt-4o-mini",
    "llm.usage.prompt_tokens": 200,
    "llm.usage.completion_tokens": 80,
    "gen_ai.usage.reasoning_tokens": 30,
    "llm.is_streaming": True,
    "enduser.id": "customer-7",
}


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        # OpenLLMetry's older conventions: no gen_ai.operation.name, `llm.*` counts.
        (OPENLLMETRY, ("openai", 200, 80, 30, True, "customer-7")),
        # The streaming flag as OpenTelemetry's instrumentations set it, `gen_ai.user`.
        (
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.system": "openai",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.usage.input_tokens": 10,
                "gen_ai.usage.output_tokens": 5,
                "gen_ai.is_streaming": True,
                "gen_ai.user": "customer-8",
            },
            ("openai", 10, 5, 0, True, "customer-8"),
        ),
        (
            CHAT
            | {"gen_ai.provider.name": "gcp.gemini", "gen_ai.request.model": "gemini-2.5-flash"},
            ("gemini", 1000, 50, 0, True, "customer-9"),
        ),
    ],
)
async def test_spans_of_every_instrumentation_are_read_alike(
    gateway: RunningGateway,
    backend: Backend,
    tenant: Tenant,
    attributes: dict[str, Any],
    expected: tuple[Any, ...],
) -> None:
    status, answer = await post_json(gateway.url, tenant.secret, export(span("chat", attributes)))
    assert status == 200 and "partialSuccess" not in answer
    await wait_for_usage(backend.engine, tenant.org_id, 1)
    async with backend.engine.connect() as conn:
        row = (
            await conn.execute(select(usage_events).where(usage_events.c.org_id == tenant.org_id))
        ).one()
    found = (
        row.provider,
        row.input_tokens,
        row.output_tokens,
        row.reasoning_tokens,
        row.stream,
        row.end_user,
    )
    assert found == expected
    assert row.cost > 0


async def test_otlp_errors_are_statuses_in_the_request_encoding(
    gateway: RunningGateway, tenant: Tenant
) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{gateway.url}/v1/traces",
            data=b"\x00",
            headers={"Content-Type": "application/x-protobuf", "Authorization": "Bearer sk-no"},
        ) as response:
            assert response.status == 401
            assert response.content_type == "application/x-protobuf"
            refusal = Status.FromString(await response.read())
            assert refusal.code == 16 and "API key" in refusal.message
        async with session.post(
            f"{gateway.url}/v1/traces",
            data=b"\xff\xff garbage",
            headers={
                "Content-Type": "application/x-protobuf",
                "Authorization": f"Bearer {tenant.secret}",
            },
        ) as response:
            assert response.status == 400
            assert Status.FromString(await response.read()).code == 3
        async with session.post(
            f"{gateway.url}/v1/traces",
            data=b"{}",
            headers={"Content-Type": "text/plain", "Authorization": f"Bearer {tenant.secret}"},
        ) as response:
            assert response.status == 415
    status, answer = await post_json(gateway.url, tenant.secret, {"resourceSpans": "nope"})
    assert status == 400 and answer["code"] == 3


async def test_an_empty_protobuf_export_is_answered_in_protobuf(
    gateway: RunningGateway, tenant: Tenant
) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{gateway.url}/v1/traces",
            data=b"",
            headers={
                "Content-Type": "application/x-protobuf",
                "Authorization": f"Bearer {tenant.secret}",
            },
        ) as response,
    ):
        assert response.status == 200
        answer = ExportTraceServiceResponse.FromString(await response.read())
        assert not answer.HasField("partial_success")
