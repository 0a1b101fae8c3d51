"""OpenTelemetry GenAI spans as reported usage: the `gen_ai.*` attributes of a model call
(operation, provider, request and response model, token counts, time to first chunk,
streaming, end user), read one by one from the span, in the current semantic conventions,
their older names, and OpenLLMetry's `llm.*` ones. Nothing else of a span is kept:
prompts and completions, which instrumentations may attach as attributes or events, are
never read."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from aisonar.ingest.reported import ReportedUsage

# Spans of these operations are model calls; agent and tool spans wrap them and would
# count their tokens twice.
NOT_MODEL_CALLS = frozenset({"create_agent", "invoke_agent", "execute_tool", "invoke_workflow"})
_TEXT = 200
_INTEGERS = {
    "gen_ai.usage.input_tokens": "input_tokens",
    "gen_ai.usage.prompt_tokens": "input_tokens",
    "llm.usage.prompt_tokens": "input_tokens",
    "gen_ai.usage.output_tokens": "output_tokens",
    "gen_ai.usage.completion_tokens": "output_tokens",
    "llm.usage.completion_tokens": "output_tokens",
    "gen_ai.usage.cache_read.input_tokens": "cached_input_tokens",
    "gen_ai.usage.cache_read_input_tokens": "cached_input_tokens",
    "gen_ai.usage.cache_creation.input_tokens": "cache_write_tokens",
    "gen_ai.usage.cache_creation_input_tokens": "cache_write_tokens",
    "gen_ai.usage.reasoning.output_tokens": "reasoning_tokens",
    "gen_ai.usage.reasoning_tokens": "reasoning_tokens",
    "llm.usage.reasoning_tokens": "reasoning_tokens",
    "http.response.status_code": "status_code",
}
_TEXTS = {
    "gen_ai.operation.name": "operation",
    "llm.request.type": "legacy_operation",
    "gen_ai.provider.name": "provider",
    "gen_ai.system": "system",
    "gen_ai.request.model": "model",
    "gen_ai.response.model": "response_model",
    "error.type": "error_type",
    "user.id": "end_user",
    "enduser.id": "end_user",
    "gen_ai.user": "end_user",
    "llm.user": "end_user",
    "session.id": "session_id",
    "gen_ai.conversation.id": "session_id",
}
_FLOATS = {
    "gen_ai.response.time_to_first_chunk": "ttfc_s",
    "gen_ai.server.time_to_first_token": "ttfc_s",
}
_FLAGS = {
    "gen_ai.request.stream": "stream",
    "gen_ai.is_streaming": "stream",
    "llm.is_streaming": "stream",
}
# OpenLLMetry's `llm.request.type`, for spans without `gen_ai.operation.name`.
_LEGACY_OPERATIONS = {
    "chat": "chat",
    "completion": "text_completion",
    "embedding": "embeddings",
    "rerank": "rerank",
}
# Instrumentations spell one provider several ways ("OpenAI", "openai", "gcp.gemini"):
# each is kept under one name, the gateway's own where it has one.
_PROVIDER_NAMES = {
    "google": "gemini",
    "gcp.gemini": "gemini",
    "gcp.gen_ai": "gemini",
    "google_genai": "gemini",
    "vertexai": "gcp.vertex_ai",
    "vertex_ai": "gcp.vertex_ai",
    "bedrock": "aws.bedrock",
    "aws_bedrock": "aws.bedrock",
    "azure_openai": "azure.ai.openai",
    "az.ai.openai": "azure.ai.openai",
    "azure.openai": "azure.ai.openai",
    "mistralai": "mistral_ai",
    "mistral": "mistral_ai",
    "xai": "x_ai",
    "watsonx": "ibm.watsonx.ai",
}
_WANTED = _INTEGERS.keys() | _TEXTS.keys() | _FLOATS.keys() | _FLAGS.keys()
_MAX_COUNT = 100_000_000


class NotUsage(Exception):
    """A span that is not a model call: recorded as nothing, and counted as rejected with
    the reason, so an exporter sees what was not used."""


class UnreadableSpan(Exception):
    """A model call's span that lacks what a usage event needs."""


def _integer(value: AnyValue) -> int | None:
    kind = value.WhichOneof("value")
    if kind == "int_value":
        number = value.int_value
    elif kind == "double_value" and value.double_value.is_integer():
        number = int(value.double_value)
    elif kind == "string_value" and value.string_value.isdigit():
        number = int(value.string_value)
    else:
        return None
    return number if 0 <= number <= _MAX_COUNT else None


def _read(attributes: Iterable[KeyValue]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for pair in attributes:
        key = pair.key
        if key not in _WANTED:
            continue
        value = pair.value
        if key in _INTEGERS:
            number = _integer(value)
            if number is not None:
                found.setdefault(_INTEGERS[key], number)
        elif key in _TEXTS:
            if value.WhichOneof("value") == "string_value" and value.string_value:
                found[_TEXTS[key]] = value.string_value[:_TEXT]
        elif key in _FLOATS:
            kind = value.WhichOneof("value")
            if kind in ("double_value", "int_value"):
                found[_FLOATS[key]] = float(getattr(value, kind))
        elif value.WhichOneof("value") == "bool_value":
            found[_FLAGS[key]] = value.bool_value
    return found


def _moment(unix_nano: int) -> datetime:
    return datetime.fromtimestamp(unix_nano / 1e9, UTC)


def provider_name(reported: str) -> str:
    """One spelling per provider: lower case, the semantic conventions' names."""
    name = reported.strip().lower().replace(" ", "_")
    return _PROVIDER_NAMES.get(name, name)


def reported_usage(span: Span, service: str | None) -> ReportedUsage:
    """The usage of a GenAI span; NotUsage if it is not a model call."""
    found = _read(span.attributes)
    span_id = f"{span.trace_id.hex()}-{span.span_id.hex()}"
    operation = found.get("operation") or _LEGACY_OPERATIONS.get(found.get("legacy_operation", ""))
    if operation is None:
        raise NotUsage(f"span {span_id}: no gen_ai.operation.name (not a GenAI span)")
    if operation in NOT_MODEL_CALLS:
        raise NotUsage(f"span {span_id}: {operation} is not a model call")
    model = found.get("model") or found.get("response_model")
    provider = found.get("provider") or found.get("system")
    if not model or not provider:
        raise UnreadableSpan(f"span {span_id}: no gen_ai.request.model or gen_ai.provider.name")
    if not span.start_time_unix_nano or span.end_time_unix_nano < span.start_time_unix_nano:
        raise UnreadableSpan(f"span {span_id}: its start and end times are missing or reversed")
    latency_ms = (span.end_time_unix_nano - span.start_time_unix_nano) // 1_000_000
    failed = span.status.code == Status.STATUS_CODE_ERROR or "error_type" in found
    status_code = found.get("status_code", 500 if failed else 200)
    input_tokens = found.get("input_tokens", 0)
    output_tokens = found.get("output_tokens", 0)
    ttfc_s = found.get("ttfc_s")
    return ReportedUsage(
        external_id=span_id,
        provider=provider_name(provider)[:32],
        model=model,
        started_at=_moment(span.start_time_unix_nano),
        operation=operation[:64],
        response_model=found.get("response_model"),
        input_tokens=input_tokens,
        cached_input_tokens=min(found.get("cached_input_tokens", 0), input_tokens),
        cache_write_tokens=min(found.get("cache_write_tokens", 0), input_tokens),
        output_tokens=output_tokens,
        reasoning_tokens=min(found.get("reasoning_tokens", 0), output_tokens),
        latency_ms=latency_ms,
        ttft_ms=None if ttfc_s is None else min(round(ttfc_s * 1000), latency_ms),
        status_code=status_code if 100 <= status_code <= 599 else 500,
        error_type=found.get("error_type", "error") if failed else None,
        stream=found.get("stream", ttfc_s is not None),
        end_user=found.get("end_user"),
        session_id=found.get("session_id"),
        properties=None if service is None else {"service.name": service[:_TEXT]},
    )
