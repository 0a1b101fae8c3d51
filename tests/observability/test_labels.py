"""Label values stay few whatever clients send: models as the channels name them (and a
bounded number that only a pattern matched), the operation from the endpoint, tenant ids
only when enabled."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from aisonar.config import Settings, otlp_header_pairs
from aisonar.observability.labels import ModelNames, RequestLabeller
from aisonar.observability.semconv import OTHER, operation_name, provider_name
from aisonar.usage.models import UsageEvent

LISTED = frozenset({"gpt-4o-mini", "smart", "gpt-4o"})


def test_listed_models_are_kept_and_unknown_ones_are_other() -> None:
    names = ModelNames()
    assert names.label("smart", LISTED, routed=True) == "smart"
    assert names.label("gpt-4o", LISTED, routed=False) == "gpt-4o"
    assert names.label("made-up", LISTED, routed=False) == OTHER
    assert names.label(None, LISTED, routed=False) == ""


def test_names_only_a_pattern_matched_are_bounded() -> None:
    names = ModelNames(routed_limit=2)
    assert names.label("claude-a", LISTED, routed=True) == "claude-a"
    assert names.label("claude-b", LISTED, routed=True) == "claude-b"
    assert names.label("claude-c", LISTED, routed=True) == OTHER
    assert names.label("claude-a", LISTED, routed=True) == "claude-a"
    # An unrouted request never takes a place.
    assert ModelNames(routed_limit=1).label("claude-z", LISTED, routed=False) == OTHER


@pytest.mark.parametrize(
    ("endpoint", "operation"),
    [
        ("/v1/chat/completions", "chat"),
        ("/v1/messages", "chat"),
        ("/v1/responses", "chat"),
        ("/v1/embeddings", "embeddings"),
        ("/v1beta/models/gemini-2.5-flash:generateContent", "generate_content"),
        ("/v1beta/models/anything-at-all:streamGenerateContent", "generate_content"),
        ("/v1/models/gemini-embedding-001:embedContent", "embeddings"),
        ("/v1beta/models/text-embedding-3-small:batchEmbedContents", "embeddings"),
        ("/v1/something-new", OTHER),
    ],
)
def test_operation_names(endpoint: str, operation: str) -> None:
    assert operation_name(endpoint) == operation


def test_provider_names_follow_the_conventions() -> None:
    assert provider_name("gemini") == "gcp.gemini"
    assert provider_name("anthropic") == "anthropic"
    assert provider_name(None) == ""


REFUSED = UsageEvent(
    id="req_1",
    started_at=datetime.now(UTC),
    org_id="org_1",
    user_id="usr_1",
    key_id="key_1",
    client_ip=None,
    endpoint="/v1/chat/completions",
    requested_model="made-up",
    upstream_model=None,
    channel_id=None,
    stream=False,
    status_code=404,
    error_type="not_found_error",
    error_message=None,
    input_tokens=0,
    cached_input_tokens=0,
    output_tokens=0,
    reasoning_tokens=0,
    cache_write_tokens=0,
    tokens_estimated=False,
    cost=0,
    price_version=None,
    latency_ms=3,
    ttft_ms=None,
)


def event(**fields: Any) -> UsageEvent:
    return replace(REFUSED, **fields)


def test_tenant_labels_in_settings_order_and_only_when_enabled() -> None:
    enabled = Settings(metrics_tenant_labels="key,org").tenant_labels
    assert enabled == ("org", "key")
    assert RequestLabeller(enabled).labels(event()).tenant == ("org_1", "key_1")
    labels = RequestLabeller().labels(event())
    assert labels.tenant == ()
    assert (labels.request_model, labels.status_class, labels.error_type) == (
        OTHER,
        "4xx",
        "not_found_error",
    )


def test_error_types_past_the_bound_are_other() -> None:
    labeller = RequestLabeller()
    seen = {labeller.labels(event(error_type=f"upstream_{n}")).error_type for n in range(60)}
    assert OTHER in seen
    assert len(seen) == 51


def test_bad_observability_settings_are_refused() -> None:
    with pytest.raises(ValidationError):
        Settings(metrics_tenant_labels="org,team")
    with pytest.raises(ValidationError):
        Settings(otlp_headers="authorization")
    assert otlp_header_pairs("a=1, authorization=Basic%20eA==") == {
        "a": "1",
        "authorization": "Basic eA==",
    }
