"""The OpenTelemetry GenAI semantic conventions the gateway reports in (development status;
`gen_ai.provider.name` era, with the time-to-first-chunk metric): metric names, units,
attribute keys, well-known values and the advised bucket boundaries.

Prometheus names are the OTLP ones translated as the OpenTelemetry Collector does: dots
become underscores, a unit of seconds adds `_seconds`, an annotation unit (`{token}`) adds
nothing, counters end in `_total`. Label names are attribute keys, dots to underscores."""

from __future__ import annotations

OPERATION_DURATION = "gen_ai.client.operation.duration"
TIME_TO_FIRST_CHUNK = "gen_ai.client.operation.time_to_first_chunk"
TOKEN_USAGE = "gen_ai.client.token.usage"

# ExplicitBucketBoundaries advised for the duration and time-to-first-chunk histograms (s)
# and for token usage.
DURATION_BUCKETS_S = (
    0.01,
    0.02,
    0.04,
    0.08,
    0.16,
    0.32,
    0.64,
    1.28,
    2.56,
    5.12,
    10.24,
    20.48,
    40.96,
    81.92,
)
TOKEN_BUCKETS = tuple(float(4**power) for power in range(14))  # 1, 4, 16 ... 67108864

OPERATION_NAME = "gen_ai.operation.name"
PROVIDER_NAME = "gen_ai.provider.name"
REQUEST_MODEL = "gen_ai.request.model"
RESPONSE_MODEL = "gen_ai.response.model"
ERROR_TYPE = "error.type"
TOKEN_TYPE = "gen_ai.token.type"
REQUEST_STREAM = "gen_ai.request.stream"
RESPONSE_TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk"
USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
USAGE_CACHE_READ_INPUT_TOKENS = "gen_ai.usage.cache_read.input_tokens"
USAGE_CACHE_WRITE_INPUT_TOKENS = "gen_ai.usage.cache_write.input_tokens"
USAGE_REASONING_OUTPUT_TOKENS = "gen_ai.usage.reasoning.output_tokens"
HTTP_STATUS_CODE = "http.response.status_code"

# The gateway's own attributes, beside the conventions'.
STATUS_CLASS = "status_class"
TENANT_ATTRIBUTES = {"org": "org_id", "user": "user_id", "key": "key_id"}

INPUT, OUTPUT = "input", "output"
CHAT, EMBEDDINGS, GENERATE_CONTENT = "chat", "embeddings", "generate_content"
# The conventions' fallback value; here also for a model or error type past the bound.
OTHER = "_OTHER"

_OPERATIONS = {
    "/v1/chat/completions": CHAT,
    "/v1/messages": CHAT,
    "/v1/responses": CHAT,
    "/v1/embeddings": EMBEDDINGS,
}
_GEMINI_METHODS = ("generateContent", "GenerateContent")
_GEMINI_EMBEDDING_METHODS = (":embedContent", ":batchEmbedContents")
# Gemini's API is `gcp.gemini` (generativelanguage.googleapis.com); the others are named
# as the channels name them.
_PROVIDERS = {"gemini": "gcp.gemini"}


def operation_name(endpoint: str) -> str:
    """`chat`, `embeddings` or `generate_content` for a metered endpoint (a Gemini path
    names its model, so it is matched by its method)."""
    operation = _OPERATIONS.get(endpoint)
    if operation is not None:
        return operation
    if endpoint.endswith(_GEMINI_EMBEDDING_METHODS):
        return EMBEDDINGS
    return GENERATE_CONTENT if endpoint.endswith(_GEMINI_METHODS) else OTHER


def provider_name(provider: str | None) -> str:
    if provider is None:
        return ""
    return _PROVIDERS.get(provider, provider)


_UNIT_SUFFIXES = {"s": "seconds"}


def prometheus_label(attribute: str) -> str:
    return attribute.replace(".", "_")


def prometheus_name(name: str, unit: str) -> str:
    """`gen_ai.client.operation.duration` (s) is `gen_ai_client_operation_duration_seconds`;
    an annotation unit (`{token}`) adds nothing. Counters get `_total` when exposed."""
    suffix = _UNIT_SUFFIXES.get(unit)
    base = prometheus_label(name)
    return f"{base}_{suffix}" if suffix else base
