"""The optional OTLP/HTTP export: with `AISONAR_OTLP_ENDPOINT` pointing at a real receiver,
each finished request arrives as a GenAI client span (the child of the client's
`traceparent` when it sent one) and the metrics arrive with the conventions' names,
buckets and attributes; the lifespan's shutdown flushes both."""

from __future__ import annotations

import secrets
from typing import Any

import aiohttp
import openai
import pytest
from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from aisonar.testing.gateway_server import running_gateway
from tests.gateway.otlp_receiver import OtlpReceiver, attributes, otlp_receiver, value_of
from tests.gateway.test_metrics import DURATION_BUCKETS, PROMPT, TOKEN_BUCKETS
from tests.support import Backend, make_tenant

TRACE_ID = secrets.token_hex(16)
PARENT_SPAN_ID = secrets.token_hex(8)
MESSAGES: Any = [{"role": "user", "content": PROMPT}]


async def export_three_requests(backend: Backend, receiver: OtlpReceiver) -> None:
    """A traced answer, a stream and an unknown model, then a graceful stop."""
    tenant = await make_tenant(backend.engine)
    settings = backend.settings.model_copy(
        update={
            "otlp_endpoint": receiver.url + "/",
            "otlp_headers": "x-collector-token=s3cret%21",
            # Nothing is exported before the shutdown's flush.
            "otlp_metrics_interval_s": 3600.0,
        }
    )
    async with (
        running_gateway(settings) as gateway,
        openai.AsyncOpenAI(
            base_url=gateway.url + "/v1", api_key=tenant.secret, max_retries=0
        ) as sdk,
    ):
        # Plain HTTP for the requests whose trace is checked: an instrumentation of the
        # openai SDK that another test left behind would send a traceparent of its own.
        async with aiohttp.ClientSession() as http:
            traced = {"model": "gpt-4o-mini", "messages": MESSAGES}
            headers = {
                "Authorization": f"Bearer {tenant.secret}",
                "traceparent": f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01",
            }
            url = gateway.url + "/v1/chat/completions"
            async with http.post(url, json=traced, headers=headers) as answer:
                assert answer.status == 200
            streamed = {**traced, "stream": True}
            bearer = {"Authorization": headers["Authorization"]}
            async with http.post(url, json=streamed, headers=bearer) as answer:
                assert answer.status == 200
                await answer.read()
        with pytest.raises(openai.NotFoundError):
            await sdk.chat.completions.create(model="no-such-model", messages=MESSAGES)


def by_name(metrics: list[Metric]) -> dict[str, Metric]:
    return {metric.name: metric for metric in metrics}


async def test_spans_and_metrics_reach_an_otlp_receiver(backend: Backend) -> None:
    async with otlp_receiver() as receiver:
        await export_three_requests(backend, receiver)

    assert {headers["x-collector-token"] for headers in receiver.headers} == {"s3cret!"}
    assert all(resource["service.name"] == "aisonar" for resource in receiver.resources)
    assert_spans(receiver.spans)
    assert_metrics(by_name(receiver.metrics))


def assert_spans(spans: list[Span]) -> None:
    assert sorted(span.name for span in spans) == [
        "chat _OTHER",
        "chat gpt-4o-mini",
        "chat gpt-4o-mini",
    ]
    assert all(span.kind == Span.SpanKind.SPAN_KIND_CLIENT for span in spans)
    assert all(span.end_time_unix_nano >= span.start_time_unix_nano > 0 for span in spans)
    by_stream = {
        attributes(list(span.attributes)).get("gen_ai.request.stream"): span
        for span in spans
        if span.name == "chat gpt-4o-mini"
    }

    traced = by_stream[False]
    assert traced.trace_id.hex() == TRACE_ID
    assert traced.parent_span_id.hex() == PARENT_SPAN_ID
    answered = attributes(list(traced.attributes))
    assert answered["gen_ai.operation.name"] == "chat"
    assert answered["gen_ai.provider.name"] == "openai"
    assert answered["gen_ai.request.model"] == "gpt-4o-mini"
    assert answered["gen_ai.response.model"] == "gpt-4o-mini"
    assert answered["http.response.status_code"] == 200
    assert isinstance(answered["gen_ai.usage.input_tokens"], int)
    assert isinstance(answered["gen_ai.usage.output_tokens"], int)
    assert answered["gen_ai.usage.input_tokens"] > 0 < answered["gen_ai.usage.output_tokens"]
    assert "error.type" not in answered
    assert "gen_ai.response.time_to_first_chunk" not in answered
    assert not {"org_id", "user_id", "key_id"} & set(answered)

    streamed = by_stream[True]
    assert streamed.parent_span_id == b""  # no traceparent: a trace of its own
    first_chunk = attributes(list(streamed.attributes))["gen_ai.response.time_to_first_chunk"]
    assert isinstance(first_chunk, float)
    assert first_chunk >= 0

    (refused,) = (span for span in spans if span.name == "chat _OTHER")
    refusal = attributes(list(refused.attributes))
    assert refusal["error.type"] == "not_found_error"
    assert refusal["gen_ai.request.model"] == "no-such-model"
    assert refused.status.code == Status.StatusCode.STATUS_CODE_ERROR


def assert_metrics(metrics: dict[str, Metric]) -> None:
    duration = metrics["gen_ai.client.operation.duration"]
    assert duration.unit == "s"
    assert sum(point.count for point in duration.histogram.data_points) == 3
    assert all(
        list(point.explicit_bounds) == DURATION_BUCKETS for point in duration.histogram.data_points
    )
    errors = {
        attributes(list(point.attributes)).get("error.type")
        for point in duration.histogram.data_points
    }
    assert errors == {None, "not_found_error"}

    tokens = metrics["gen_ai.client.token.usage"]
    assert tokens.unit == "{token}"
    token_points = {
        attributes(list(point.attributes))["gen_ai.token.type"]: point
        for point in tokens.histogram.data_points
    }
    assert {kind: point.count for kind, point in token_points.items()} == {
        "input": 2,
        "output": 2,
    }
    assert list(token_points["input"].explicit_bounds) == TOKEN_BUCKETS

    first_chunk = metrics["gen_ai.client.operation.time_to_first_chunk"]
    (chunk_point,) = first_chunk.histogram.data_points
    assert chunk_point.count == 1
    assert list(chunk_point.explicit_bounds) == DURATION_BUCKETS

    requests = metrics["aisonar.requests"].sum.data_points
    assert sum(point.as_int for point in requests) == 3
    classes = {attributes(list(point.attributes))["status_class"] for point in requests}
    assert classes == {"2xx", "4xx"}
    assert metrics["aisonar.cost"].sum.data_points[0].as_double > 0

    (written,) = metrics["aisonar.usage_writer.events_written"].sum.data_points
    assert written.as_int == 3
    assert "aisonar.requests_in_flight" in metrics
    states = {
        str(value_of(point.attributes[0].value)): point.as_int
        for point in metrics["aisonar.channel_state"].gauge.data_points
    }
    assert states["fake"] == 0
